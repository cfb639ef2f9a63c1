//! The webhook's wire format: Standard Webhooks JSON, `{type, timestamp, data}`.

use crate::channel::EventContext;
use chrono::{DateTime, SecondsFormat, Utc};
use pharos_core::{Event, IncidentNews, MonitorState};
use serde_json::{json, Value};

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The event as the webhook's JSON body.
pub(crate) fn render(event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
    let data = match event {
        Event::IncidentOpened(news)
        | Event::IncidentUpdated(news)
        | Event::IncidentResolved(news)
        | Event::IncidentUpdateOverdue(news) => incident_data(news, context),
        Event::ComponentStatusChanged(news) => json!({
            "component": { "id": news.component.as_str(), "name": news.component_name },
            "previous_status": news.previous.as_str(),
            "status": news.status.as_str(),
            "monitors": monitors(&news.monitors),
            "url": context.link(""),
        }),
        Event::PharosDegraded(fault) => json!({
            "reason": fault.reason,
            "monitor": monitor(&fault.monitor),
        }),
        Event::AgentSilent(news) | Event::AgentBack(news) => json!({
            "region": news.region,
            "agent": news.agent,
            "last_seen": time(news.last_seen),
            "monitors": news.monitors,
        }),
        Event::ChannelUnhealthy(news) | Event::ChannelRecovered(news) => json!({
            "channel": { "id": news.channel, "type": news.kind },
            "failures": news.failures,
            "since": time(news.since),
            "reason": news.reason,
        }),
        Event::MaintenanceScheduled(news)
        | Event::MaintenanceStarted(news)
        | Event::MaintenanceEnded(news) => json!({
            "maintenance": {
                "id": news.window,
                "title": news.title,
                "components": news.components.iter().zip(&news.component_names).map(|(id, name)| json!({ "id": id.as_str(), "name": name })).collect::<Vec<_>>(),
                "start": time(news.start),
                "end": time(news.end),
                "message": news.message,
            },
            "url": context.link(""),
        }),
    };
    json!({
        "type": event.kind().as_str(),
        "timestamp": time(at),
        "data": data,
    })
    .to_string()
}

fn incident_data(news: &IncidentNews, context: &EventContext) -> Value {
    let incident = &news.incident;
    let latest = incident.updates.last().map(|update| {
        let mut latest = json!({
            "at": time(update.at),
            "status": update.phase.as_str(),
            "message": update.message,
            "automatic": update.automatic,
        });
        let (expected_by, next_update_by) = incident.promised_times();
        if let Some(at) = expected_by {
            latest["expected_by"] = json!(time(at));
        }
        if let Some(at) = next_update_by {
            latest["next_update_by"] = json!(time(at));
        }
        latest
    });
    json!({
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "status": incident.phase.as_str(),
            "impact": incident.impact.as_str(),
            "worst_impact": incident.worst_impact.as_str(),
            "component": { "id": incident.component.as_str(), "name": news.component_name },
            "started_at": time(incident.started_at),
            "detected_at": time(incident.detected_at),
            "resolved_at": incident.resolved_at.map(time),
            "time_to_detect_seconds": incident.time_to_detect().as_secs_f64(),
            "time_to_recover_seconds": incident.time_to_recover().map(|duration| duration.as_secs_f64()),
            "latest_update": latest,
            "monitors": monitors(&news.monitors),
            "dependents": incident
                .dependents
                .iter()
                .zip(&news.dependent_names)
                .map(|(dependent, name)| json!({
                    "component": { "id": dependent.component.as_str(), "name": name },
                    "status": if dependent.recovered_at.is_some() { "operational" } else { dependent.status.as_str() },
                    "joined_at": time(dependent.joined_at),
                    "recovered_at": dependent.recovered_at.map(time),
                    "split_into": dependent.split_into,
                }))
                .collect::<Vec<_>>(),
            "root_cause": news.root_cause,
            "scope": incident.scope.as_ref().map(|scope| json!({
                "reach": scope.reach.as_str(),
                "regions": scope.regions,
                "of": scope.of,
            })),
            "url": context.link(&format!("incidents/{}", incident.id)),
        }
    })
}

fn monitors(monitors: &[MonitorState]) -> Value {
    Value::Array(monitors.iter().map(monitor).collect())
}

fn monitor(monitor: &MonitorState) -> Value {
    json!({
        "id": monitor.id.as_str(),
        "name": monitor.name,
        "status": monitor.status.as_str(),
        "reason": monitor.reason,
        "region": monitor.region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use pharos_core::{
        ComponentId, ComponentNews, ComponentStatus, Incident, IncidentPhase, IncidentUpdate,
        MonitorId, MonitorState, ProbeStatus, SelfFault,
    };

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap()
    }

    fn context() -> EventContext {
        EventContext {
            public_url: Some("https://status.example.test/".parse().unwrap()),
        }
    }

    fn monitors() -> Vec<MonitorState> {
        vec![
            MonitorState {
                id: MonitorId::new("smtp"),
                name: "Submission".into(),
                status: ProbeStatus::Down,
                reason: Some("connection refused".into()),
                region: "local".into(),
            },
            MonitorState {
                id: MonitorId::new("imap"),
                name: "Mailbox".into(),
                status: ProbeStatus::Up,
                reason: None,
                region: "local".into(),
            },
        ]
    }

    fn pretty(json: &str) -> String {
        let value: Value = serde_json::from_str(json).unwrap();
        serde_json::to_string_pretty(&value).unwrap()
    }

    #[test]
    fn an_incident_event_names_its_failing_monitors() {
        let incident = Incident {
            dependents: vec![pharos_core::Dependent {
                component: ComponentId::new("webmail"),
                status: ComponentStatus::MajorOutage,
                joined_at: at(9),
                recovered_at: None,
                split_into: None,
                by_hand: false,
            }],
            scope: Some(pharos_core::regions::Scope {
                reach: pharos_core::regions::Reach::Regional,
                regions: vec!["eu-west".into(), "us-east".into()],
                of: 3,
            }),
            id: 12,
            component: ComponentId::new("mail"),
            title: "Mail: major outage".into(),
            phase: IncidentPhase::Identified,
            impact: ComponentStatus::PartialOutage,
            worst_impact: ComponentStatus::MajorOutage,
            started_at: at(0),
            detected_at: at(7),
            resolved_at: None,
            updates: vec![IncidentUpdate {
                at: at(60),
                phase: IncidentPhase::Identified,
                message: "A relay rejects mail.".into(),
                automatic: false,
                expected_by: None,
                next_update_by: None,
                edited_at: None,
            }],
            timeline: vec![],
        };
        let event = Event::IncidentUpdated(IncidentNews {
            dependent_names: vec!["Webmail".into()],
            root_cause: Some("Webmail is affected because Mail is partly down.".into()),
            incident,
            component_name: "Mail".into(),
            monitors: monitors(),
        });
        expect_test::expect![[r#"
            {
              "data": {
                "incident": {
                  "component": {
                    "id": "mail",
                    "name": "Mail"
                  },
                  "dependents": [
                    {
                      "component": {
                        "id": "webmail",
                        "name": "Webmail"
                      },
                      "joined_at": "2027-01-15T08:00:09.000Z",
                      "recovered_at": null,
                      "split_into": null,
                      "status": "major_outage"
                    }
                  ],
                  "detected_at": "2027-01-15T08:00:07.000Z",
                  "id": 12,
                  "impact": "partial_outage",
                  "latest_update": {
                    "at": "2027-01-15T08:01:00.000Z",
                    "automatic": false,
                    "message": "A relay rejects mail.",
                    "status": "identified"
                  },
                  "monitors": [
                    {
                      "id": "smtp",
                      "name": "Submission",
                      "reason": "connection refused",
                      "region": "local",
                      "status": "down"
                    },
                    {
                      "id": "imap",
                      "name": "Mailbox",
                      "reason": null,
                      "region": "local",
                      "status": "up"
                    }
                  ],
                  "resolved_at": null,
                  "root_cause": "Webmail is affected because Mail is partly down.",
                  "scope": {
                    "of": 3,
                    "reach": "regional",
                    "regions": [
                      "eu-west",
                      "us-east"
                    ]
                  },
                  "started_at": "2027-01-15T08:00:00.000Z",
                  "status": "identified",
                  "time_to_detect_seconds": 7.0,
                  "time_to_recover_seconds": null,
                  "title": "Mail: major outage",
                  "url": "https://status.example.test/incidents/12",
                  "worst_impact": "major_outage"
                }
              },
              "timestamp": "2027-01-15T08:01:00.000Z",
              "type": "incident.updated"
            }"#]]
        .assert_eq(&pretty(&render(&event, &context(), at(60))));
    }

    #[test]
    fn a_component_event_and_a_self_fault() {
        let event = Event::ComponentStatusChanged(ComponentNews {
            component: ComponentId::new("mail"),
            component_name: "Mail".into(),
            previous: ComponentStatus::Operational,
            status: ComponentStatus::PartialOutage,
            monitors: monitors(),
        });
        expect_test::expect![[r#"
            {
              "data": {
                "component": {
                  "id": "mail",
                  "name": "Mail"
                },
                "monitors": [
                  {
                    "id": "smtp",
                    "name": "Submission",
                    "reason": "connection refused",
                    "region": "local",
                    "status": "down"
                  },
                  {
                    "id": "imap",
                    "name": "Mailbox",
                    "reason": null,
                    "region": "local",
                    "status": "up"
                  }
                ],
                "previous_status": "operational",
                "status": "partial_outage",
                "url": "https://status.example.test/"
              },
              "timestamp": "2027-01-15T08:00:05.000Z",
              "type": "component.status_changed"
            }"#]]
        .assert_eq(&pretty(&render(&event, &context(), at(5))));
        let fault = Event::PharosDegraded(SelfFault {
            reason: "pharos could not run this check: too many open files".into(),
            monitor: MonitorState {
                status: ProbeStatus::Unknown,
                reason: Some("pharos could not run this check: too many open files".into()),
                ..monitors().remove(0)
            },
        });
        expect_test::expect![[r#"
            {
              "data": {
                "monitor": {
                  "id": "smtp",
                  "name": "Submission",
                  "reason": "pharos could not run this check: too many open files",
                  "region": "local",
                  "status": "unknown"
                },
                "reason": "pharos could not run this check: too many open files"
              },
              "timestamp": "2027-01-15T08:00:09.000Z",
              "type": "pharos.degraded"
            }"#]]
        .assert_eq(&pretty(&render(&fault, &context(), at(9))));
    }
}
