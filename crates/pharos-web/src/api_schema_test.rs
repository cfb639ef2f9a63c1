//! The JSON API agrees with `openapi.json`: every answer is checked against its declared
//! schema (types, enums, required fields, and no field the schema does not declare).

use crate::api;
use crate::view::StatusView;
use chrono::{TimeZone, Utc};
use pharos_core::{
    ComponentId, ComponentStatus, Incident, IncidentPhase, IncidentUpdate, MonitorId, Outcome,
    Phase, ProbeStatus, TimelineEntry, TimelineKind,
};
use pharos_engine::{LatestResult, LiveState};
use serde_json::Value;
use std::time::Duration;

const CONFIG: &str = r#"
[[components]]
id = "mail"
name = "Mail"
group = "Email"

[[components]]
id = "calendar"
name = "Calendar"
depends_on = ["mail"]

[[monitors]]
id = "smtp"
name = "Submission"
component = "mail"
type = "smtp"
host = "127.0.0.1"
port = 587

[[monitors]]
id = "web"
name = "Webmail"
component = "mail"
type = "http"
url = "https://mail.example.test/"

[[monitors]]
id = "flow"
name = "Delivery"
component = "mail"
type = "mailflow"
deliver_within = "20s"
degraded_after = "5s"

[monitors.send]
host = "127.0.0.1"
port = 587
from = "probe@example.test"
to = "probe@example.test"

[monitors.receive]
host = "127.0.0.1"
port = 993
username = "probe@example.test"
password = "secret"
"#;

fn view() -> StatusView {
    let config = pharos_config::parse("s.toml", CONFIG, &|_| None).unwrap();
    let now = Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).unwrap();
    let mut live = LiveState::default();
    live.monitors.insert(
        MonitorId::new("smtp"),
        LatestResult {
            at: now,
            started_at: now,
            outcome: Outcome::down(
                Duration::from_millis(3),
                vec![Phase::new("connect", Duration::from_millis(3))],
                "connection refused",
            ),
            confirmed: ProbeStatus::Down,
        },
    );
    live.monitors.insert(
        MonitorId::new("web"),
        LatestResult {
            at: now,
            started_at: now,
            outcome: Outcome::unknown(
                Duration::ZERO,
                vec![],
                "pharos could not run this check: too many open files",
            ),
            confirmed: ProbeStatus::Up,
        },
    );
    live.components.insert(
        ComponentId::new("mail"),
        (ComponentStatus::PartialOutage, now),
    );
    let incident = Incident {
        scope: Some(pharos_core::regions::Scope {
            reach: pharos_core::regions::Reach::Localized,
            regions: vec!["eu-west".into()],
            of: 3,
        }),
        dependents: vec![pharos_core::Dependent {
            component: ComponentId::new("calendar"),
            status: ComponentStatus::MajorOutage,
            joined_at: now,
            recovered_at: None,
            split_into: None,
            by_hand: false,
        }],
        id: 3,
        component: ComponentId::new("mail"),
        title: "Mail: partial outage".into(),
        phase: IncidentPhase::Identified,
        impact: ComponentStatus::PartialOutage,
        worst_impact: ComponentStatus::MajorOutage,
        started_at: now,
        detected_at: now,
        resolved_at: None,
        updates: vec![IncidentUpdate {
            at: now,
            phase: IncidentPhase::Identified,
            message: "A relay.".into(),
            automatic: false,
            expected_by: None,
            next_update_by: None,
            edited_at: None,
        }],
        timeline: vec![TimelineEntry {
            at: now,
            kind: TimelineKind::FirstFailure,
            detail: "First failed check".into(),
        }],
    };
    let resolved = Incident {
        id: 2,
        resolved_at: Some(now),
        phase: IncidentPhase::Resolved,
        ..incident.clone()
    };
    StatusView::build(&config, &live, vec![incident, resolved], &[], &[], now)
}

fn openapi() -> Value {
    serde_json::from_str(include_str!("openapi.json")).unwrap()
}

/// The schema of the 200 answer of `GET path`.
fn response_schema(openapi: &Value, path: &str) -> Value {
    openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        .clone()
}

fn resolve<'a>(schema: &'a Value, openapi: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.trim_start_matches("#/components/schemas/");
            &openapi["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn type_matches(value: &Value, kind: &str) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

fn check(value: &Value, schema: &Value, openapi: &Value, at: &str, problems: &mut Vec<String>) {
    let schema = resolve(schema, openapi);
    let kinds: Vec<&str> = match &schema["type"] {
        Value::String(kind) => vec![kind.as_str()],
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !kinds.is_empty() && !kinds.iter().any(|kind| type_matches(value, kind)) {
        problems.push(format!("{at}: {value} is not {kinds:?}"));
        return;
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            problems.push(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if schema["format"] == "date-time" {
        if let Some(text) = value.as_str() {
            if chrono::DateTime::parse_from_rfc3339(text).is_err() {
                problems.push(format!("{at}: `{text}` is not a date-time"));
            }
        }
    }
    if let (Some(object), Some(properties)) = (value.as_object(), schema["properties"].as_object())
    {
        for (key, field) in object {
            match properties.get(key) {
                Some(field_schema) => check(
                    field,
                    field_schema,
                    openapi,
                    &format!("{at}.{key}"),
                    problems,
                ),
                None => problems.push(format!("{at}.{key} is not in the schema")),
            }
        }
        for required in schema["required"].as_array().into_iter().flatten() {
            if let Some(name) = required.as_str() {
                if !object.contains_key(name) {
                    problems.push(format!("{at}.{name} is required but missing"));
                }
            }
        }
    }
    if let (Some(items), Some(item_schema)) = (value.as_array(), schema.get("items")) {
        for (index, item) in items.iter().enumerate() {
            check(
                item,
                item_schema,
                openapi,
                &format!("{at}[{index}]"),
                problems,
            );
        }
    }
}

#[test]
fn every_answer_agrees_with_openapi_json() {
    let view = view();
    let openapi = openapi();
    let answers = [
        (
            "/api/v1/status",
            serde_json::to_value(api::status(&view)).unwrap(),
        ),
        (
            "/api/v1/components",
            serde_json::to_value(api::components(&view)).unwrap(),
        ),
        (
            "/api/v1/incidents",
            serde_json::to_value(api::incidents(&view)).unwrap(),
        ),
        (
            "/api/v1/incidents/{id}",
            serde_json::to_value(api::incident_dto(&view, &view.active[0], true)).unwrap(),
        ),
    ];
    let mut problems = Vec::new();
    for (path, answer) in &answers {
        let schema = response_schema(&openapi, path);
        assert!(!schema.is_null(), "{path} is not in openapi.json");
        check(answer, &schema, &openapi, path, &mut problems);
    }
    assert!(
        problems.is_empty(),
        "the API and openapi.json disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_status_answer_reads_as_expected() {
    let view = view();
    let status = serde_json::to_string_pretty(&api::status(&view)).unwrap();
    expect_test::expect![[r#"
        {
          "page": {
            "title": "Service status",
            "url": null
          },
          "status": "partial_outage",
          "description": "Partial system outage",
          "components": [
            {
              "id": "mail",
              "name": "Mail",
              "group": "Email",
              "status": "partial_outage",
              "status_since": "2027-01-01T12:00:00.000Z"
            },
            {
              "id": "calendar",
              "name": "Calendar",
              "group": null,
              "status": "pending",
              "status_since": "2027-01-01T12:00:00.000Z"
            }
          ],
          "active_incidents": [
            {
              "id": 3,
              "title": "Mail: partial outage",
              "status": "identified",
              "impact": "partial_outage",
              "worst_impact": "major_outage",
              "component": {
                "id": "mail",
                "name": "Mail"
              },
              "started_at": "2027-01-01T12:00:00.000Z",
              "detected_at": "2027-01-01T12:00:00.000Z",
              "resolved_at": null,
              "time_to_detect_seconds": 0.0,
              "time_to_recover_seconds": null,
              "updates": [
                {
                  "at": "2027-01-01T12:00:00.000Z",
                  "status": "identified",
                  "message": "A relay.",
                  "automatic": false
                }
              ],
              "dependents": [
                {
                  "component": {
                    "id": "calendar",
                    "name": "Calendar"
                  },
                  "status": "major_outage",
                  "joined_at": "2027-01-01T12:00:00.000Z",
                  "recovered_at": null,
                  "split_into": null
                }
              ],
              "root_cause": "Calendar is affected because Mail is partly down.",
              "scope": {
                "reach": "localized",
                "regions": [
                  "eu-west"
                ],
                "of": 3
              }
            }
          ],
          "updated_at": "2027-01-01T12:00:00.000Z"
        }"#]]
    .assert_eq(&status);
    let incident =
        serde_json::to_string_pretty(&api::incident_dto(&view, &view.active[0], true)).unwrap();
    expect_test::expect![[r#"
        {
          "id": 3,
          "title": "Mail: partial outage",
          "status": "identified",
          "impact": "partial_outage",
          "worst_impact": "major_outage",
          "component": {
            "id": "mail",
            "name": "Mail"
          },
          "started_at": "2027-01-01T12:00:00.000Z",
          "detected_at": "2027-01-01T12:00:00.000Z",
          "resolved_at": null,
          "time_to_detect_seconds": 0.0,
          "time_to_recover_seconds": null,
          "updates": [
            {
              "at": "2027-01-01T12:00:00.000Z",
              "status": "identified",
              "message": "A relay.",
              "automatic": false
            }
          ],
          "timeline": [
            {
              "at": "2027-01-01T12:00:00.000Z",
              "kind": "first_failure",
              "detail": "First failed check"
            }
          ],
          "dependents": [
            {
              "component": {
                "id": "calendar",
                "name": "Calendar"
              },
              "status": "major_outage",
              "joined_at": "2027-01-01T12:00:00.000Z",
              "recovered_at": null,
              "split_into": null
            }
          ],
          "root_cause": "Calendar is affected because Mail is partly down.",
          "scope": {
            "reach": "localized",
            "regions": [
              "eu-west"
            ],
            "of": 3
          }
        }"#]]
    .assert_eq(&incident);
}
