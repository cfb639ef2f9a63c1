//! The Statuspage-compatible read API of a running pharos: the documents and their shapes as
//! Statuspage documents them, through an incident that opens and resolves, read both as JSON
//! and by pharos's own Statuspage reader (what any Statuspage client would do); and the
//! status badges.

use crate::support::*;
use pharos_core::ProbeStatus;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;

/// The keys of each object in Statuspage's documented examples.
const PAGE_KEYS: [&str; 5] = ["id", "name", "url", "time_zone", "updated_at"];
const COMPONENT_KEYS: [&str; 13] = [
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "position",
    "description",
    "showcase",
    "start_date",
    "group_id",
    "page_id",
    "group",
    "only_show_if_degraded",
];
const INCIDENT_KEYS: [&str; 13] = [
    "id",
    "name",
    "status",
    "created_at",
    "updated_at",
    "monitoring_at",
    "resolved_at",
    "impact",
    "shortlink",
    "started_at",
    "page_id",
    "incident_updates",
    "components",
];
const UPDATE_KEYS: [&str; 11] = [
    "id",
    "status",
    "body",
    "incident_id",
    "created_at",
    "updated_at",
    "display_at",
    "affected_components",
    "deliver_notifications",
    "custom_tweet",
    "tweet_id",
];

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_keys(value: &Value, expected: &[&str], extra: &[&str]) {
    let expected: BTreeSet<&str> = expected.iter().chain(extra).copied().collect();
    assert_eq!(keys(value), expected, "{value:#}");
}

const NAME: &str = "Mail <script>alert(1)</script> submission";
const TITLE: &str = "Test status <b>&amp;</b>";

/// pharos's own Statuspage reader pointed at the running pharos.
fn reader(pharos: &Pharos) -> pharos_probe::Prober {
    pharos_probe::install_crypto_provider();
    let source = format!(
        "[[components]]\nid = \"c\"\nname = \"C\"\n\n[[monitors]]\nid = \"m\"\ncomponent = \"c\"\n\
         type = \"provider\"\nprovider = \"statuspage\"\nurl = \"http://{}/\"\ncomponents = [\"{}\"]\n\
         timeout = \"2s\"\n",
        pharos.address,
        NAME.replace('"', "\\\"")
    );
    let mut config = pharos_config::parse("reader.toml", &source, &|_| None).unwrap();
    pharos_probe::Prober::new(&config.monitors.remove(0)).unwrap()
}

#[tokio::test]
async fn statuspage_clients_read_pharos_through_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, "http://127.0.0.1:9/unused");
    let pharos = Pharos::start(&config, dir.path());
    let status = eventually(Duration::from_secs(20), "a first check", || async {
        let status = pharos.get_json("/api/v2/status.json").await;
        (status["status"]["indicator"] == "none").then_some(status)
    })
    .await;
    assert_eq!(status["status"]["description"], "All Systems Operational");
    assert_keys(&status["page"], &PAGE_KEYS, &[]);
    assert_eq!(status["page"]["name"], TITLE);
    assert_eq!(status["page"]["url"], "https://status.example.test/");

    let summary = pharos.get_json("/api/v2/summary.json").await;
    assert_keys(
        &summary,
        &[
            "page",
            "components",
            "incidents",
            "scheduled_maintenances",
            "status",
        ],
        &[],
    );
    assert_eq!(summary["incidents"], Value::Array(vec![]));
    assert_eq!(summary["scheduled_maintenances"], Value::Array(vec![]));
    let components = summary["components"].as_array().unwrap();
    assert_eq!(components.len(), 2, "the group and its member: {summary:#}");
    let (group, component) = (&components[0], &components[1]);
    assert_keys(group, &COMPONENT_KEYS, &["components"]);
    assert_eq!(group["group"], true);
    assert_eq!(group["name"], "Email");
    assert_eq!(group["components"], serde_json::json!(["svc"]));
    assert_keys(component, &COMPONENT_KEYS, &[]);
    assert_eq!(component["id"], "svc");
    assert_eq!(component["name"], NAME);
    assert_eq!(component["status"], "operational");
    assert_eq!(component["group_id"], group["id"]);
    assert_eq!(component["page_id"], summary["page"]["id"]);
    assert_eq!(
        pharos.get_json("/api/v2/components.json").await["components"],
        summary["components"]
    );

    let outcome = reader(&pharos).run().await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
    assert_eq!(
        outcome.detail.as_deref(),
        Some(format!("{TITLE} reports {NAME} as operational").as_str())
    );

    // The service goes away: an incident, in Statuspage's words.
    target.stop().await;
    let unresolved = eventually(Duration::from_secs(20), "an incident", || async {
        let unresolved = pharos.get_json("/api/v2/incidents/unresolved.json").await;
        (unresolved["incidents"].as_array().unwrap().len() == 1).then_some(unresolved)
    })
    .await;
    let incident = &unresolved["incidents"][0];
    assert_keys(incident, &INCIDENT_KEYS, &[]);
    let id = incident["id"].as_str().expect("ids are strings").to_owned();
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["impact"], "critical");
    assert_eq!(
        incident["shortlink"],
        format!("https://status.example.test/incidents/{id}")
    );
    assert!(incident["resolved_at"].is_null());
    assert_eq!(incident["components"][0]["id"], "svc");
    assert_eq!(incident["components"][0]["status"], "major_outage");
    let update = &incident["incident_updates"][0];
    assert_keys(update, &UPDATE_KEYS, &[]);
    assert_eq!(update["incident_id"], id.as_str());
    assert_eq!(
        update["affected_components"][0]["new_status"],
        "major_outage"
    );
    let status = pharos.get_json("/api/v2/status.json").await;
    assert_eq!(status["status"]["indicator"], "critical");
    assert_eq!(
        pharos.get_json("/api/v2/summary.json").await["incidents"][0]["id"],
        id.as_str()
    );

    // The badges say the same, with every text escaped.
    let (code, badge) = pharos.get("/badge/svc.svg").await;
    assert_eq!(code, 200, "{badge}");
    assert!(
        badge.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
        "{badge}"
    );
    assert!(badge.contains(">Major outage</text>"), "{badge}");
    assert!(
        badge.contains("Mail &lt;script&gt;alert(1)&lt;/script&gt; submission"),
        "{badge}"
    );
    assert!(!badge.contains("<script>"), "{badge}");
    let (_, overall) = pharos.get("/badge.svg").await;
    assert!(overall.contains(">Major system outage</text>"), "{overall}");
    assert!(
        overall.contains("Test status &lt;b&gt;&amp;amp;&lt;/b&gt;"),
        "{overall}"
    );
    let (_, uptime) = pharos.get("/badge/svc/uptime.svg").await;
    assert!(uptime.contains("% uptime (90 days)</text>"), "{uptime}");
    assert_eq!(pharos.get("/badge/nothing.svg").await.0, 404);

    // The command line reads the same incident.
    let server = format!("http://{}/", pharos.address);
    let cli = |args: &[&str]| {
        std::process::Command::new(binary())
            .args(args)
            .args(["--server", &server])
            .output()
            .unwrap()
    };
    let listed = cli(&["incident", "list"]);
    let listed_text = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{listed:?}");
    assert!(listed_text.contains("investigating"), "{listed_text}");
    assert!(listed_text.contains("1 incidents"), "{listed_text}");
    let as_json: serde_json::Value =
        serde_json::from_slice(&cli(&["incident", "list", "--json"]).stdout).unwrap();
    assert_eq!(as_json["incidents"][0]["id"].to_string(), id);
    let shown = cli(&["incident", "show", &id]);
    let shown_text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{shown:?}");
    assert!(
        shown_text.contains("Updates:") && shown_text.contains("Timeline:"),
        "{shown_text}"
    );
    assert!(shown_text.contains("first_failure"), "{shown_text}");
    let missing = cli(&["incident", "show", "999"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such incident"));

    let outcome = reader(&pharos).run().await;
    assert_eq!(outcome.status, ProbeStatus::Down, "{outcome:?}");
    assert_eq!(
        outcome.reason.as_deref(),
        Some(format!("{TITLE} reports {id}: {NAME}: major outage (major outage)").as_str())
    );

    // It comes back: resolved, newest update first.
    target.restart().await;
    let incidents = eventually(Duration::from_secs(20), "the resolution", || async {
        let incidents = pharos.get_json("/api/v2/incidents.json").await;
        (incidents["incidents"][0]["status"] == "resolved").then_some(incidents)
    })
    .await;
    let incident = &incidents["incidents"][0];
    assert_eq!(incident["id"], id.as_str());
    assert!(incident["resolved_at"].is_string());
    assert_eq!(incident["incident_updates"][0]["status"], "resolved");
    assert_eq!(
        pharos.get_json("/api/v2/incidents/unresolved.json").await["incidents"],
        Value::Array(vec![])
    );
    assert_eq!(reader(&pharos).run().await.status, ProbeStatus::Up);

    for path in [
        "/api/v2/scheduled-maintenances.json",
        "/api/v2/scheduled-maintenances/upcoming.json",
        "/api/v2/scheduled-maintenances/active.json",
    ] {
        let answer = pharos.get_json(path).await;
        assert_eq!(
            answer["scheduled_maintenances"],
            Value::Array(vec![]),
            "{path}"
        );
        assert_keys(&answer["page"], &PAGE_KEYS, &[]);
    }
    let _ = pharos.terminate();
}
