//! Maintenance windows end to end: during a window the component is under maintenance on the
//! page and in both APIs, a failure opens no incident and sends nothing; upcoming windows are
//! announced; the Statuspage documents list both.

use crate::support::*;
use pharos_demo::WebhookReceiver;
use std::time::Duration;

#[tokio::test]
async fn a_window_under_way_holds_incidents_back_and_is_announced_with_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let mut target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, &receiver.url());
    let now = chrono::Utc::now();
    let started = (now - chrono::Duration::minutes(5)).to_rfc3339();
    let tomorrow = (now + chrono::Duration::days(1)).to_rfc3339();
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text}\n[[maintenance]]\nid = \"relay-swap\"\ntitle = \"Relay <b>swap</b>\"\n\
             components = [\"svc\"]\nstart = \"{started}\"\nduration = \"1h\"\n\
             message = \"Sending may pause for a few minutes.\"\n\n\
             [[maintenance]]\nid = \"weekly\"\ntitle = \"Weekly patching\"\ncomponents = [\"svc\"]\n\
             start = \"{tomorrow}\"\nduration = \"30m\"\nevery = \"7d\"\n"
        ),
    )
    .unwrap();
    let pharos = Pharos::start(&config, dir.path());
    let status = eventually(Duration::from_secs(20), "under maintenance", || async {
        let status = pharos.get_json("/api/v1/status").await;
        (status["components"][0]["status"] == "under_maintenance").then_some(status)
    })
    .await;
    assert_eq!(status["status"], "under_maintenance", "{status}");

    // The work takes the service down: recorded, no incident, nothing sent.
    target.stop().await;
    eventually(
        Duration::from_secs(20),
        "a failed check recorded",
        || async {
            let components = pharos.get_json("/api/v1/components").await;
            (components[0]["monitors"][0]["last_check"]["status"] == "down").then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let incidents = pharos.get_json("/api/v1/incidents").await;
    assert_eq!(incidents["incidents"], serde_json::json!([]), "{incidents}");
    assert!(
        receiver
            .received()
            .iter()
            .all(|received| !received.event.starts_with("incident.")),
        "no incident notification"
    );

    let (_, page) = pharos.get("/").await;
    assert!(page.contains("Scheduled maintenance"), "{page}");
    assert!(page.contains("Relay &lt;b&gt;swap&lt;/b&gt;"), "{page}");
    assert!(page.contains("In progress, until"), "{page}");
    assert!(page.contains("Weekly patching"), "{page}");
    assert!(
        page.contains("Sending may pause for a few minutes."),
        "{page}"
    );

    let active = pharos
        .get_json("/api/v2/scheduled-maintenances/active.json")
        .await;
    let active = active["scheduled_maintenances"].as_array().unwrap();
    assert_eq!(active.len(), 1, "{active:?}");
    assert_eq!(active[0]["name"], "Relay <b>swap</b>");
    assert_eq!(active[0]["status"], "in_progress");
    assert_eq!(active[0]["impact"], "maintenance");
    assert_eq!(active[0]["components"][0]["id"], "svc");
    assert!(active[0]["scheduled_until"].is_string());
    let upcoming = pharos
        .get_json("/api/v2/scheduled-maintenances/upcoming.json")
        .await;
    let upcoming = upcoming["scheduled_maintenances"].as_array().unwrap();
    assert_eq!(upcoming.len(), 1);
    assert_eq!(upcoming[0]["name"], "Weekly patching");
    assert_eq!(upcoming[0]["status"], "scheduled");
    let summary = pharos.get_json("/api/v2/summary.json").await;
    assert_eq!(summary["status"]["indicator"], "maintenance");
    assert_eq!(
        summary["scheduled_maintenances"].as_array().unwrap().len(),
        2
    );
    let _ = pharos.terminate();
}

/// A window scheduled from the command line on a running server: the component goes under
/// maintenance at once (a failure opens no incident, sends nothing, and the page and the
/// Statuspage documents show the window); it survives a restart; once cancelled, the failure
/// still there opens its incident.
#[tokio::test]
async fn a_window_scheduled_at_run_time_holds_incidents_back_until_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let mut target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, &receiver.url());
    let pharos = Pharos::start(&config, dir.path());
    let server = format!("http://{}/", pharos.address);
    let cli = |args: &[&str]| {
        std::process::Command::new(binary())
            .args(args)
            .args(["--server", &server])
            .env("PHAROS_TOKEN", ADMIN_TOKEN)
            .output()
            .unwrap()
    };
    let scheduled = cli(&[
        "maintenance",
        "schedule",
        "--title",
        "Relay swap",
        "--component",
        "svc",
        "--start",
        "0s",
        "--duration",
        "1h",
        "--message",
        "Sending may pause.",
        "--json",
    ]);
    assert!(
        scheduled.status.success(),
        "{}",
        String::from_utf8_lossy(&scheduled.stderr)
    );
    let window: serde_json::Value = serde_json::from_slice(&scheduled.stdout).unwrap();
    let id = window["id"].as_str().unwrap().to_owned();
    assert_eq!(window["next"]["under_way"], true, "{window}");
    let unknown = cli(&[
        "maintenance",
        "schedule",
        "--title",
        "x",
        "--component",
        "nothing",
        "--start",
        "1h",
        "--duration",
        "1h",
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no component `nothing`"));

    eventually(Duration::from_secs(10), "under maintenance", || async {
        let status = pharos.get_json("/api/v1/status").await;
        (status["components"][0]["status"] == "under_maintenance").then_some(())
    })
    .await;
    let active = pharos
        .get_json("/api/v2/scheduled-maintenances/active.json")
        .await;
    assert_eq!(
        active["scheduled_maintenances"][0]["name"], "Relay swap",
        "{active}"
    );
    target.stop().await;
    eventually(
        Duration::from_secs(20),
        "a failed check recorded",
        || async {
            let components = pharos.get_json("/api/v1/components").await;
            (components[0]["monitors"][0]["last_check"]["status"] == "down").then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        pharos.get_json("/api/v1/incidents").await["incidents"],
        serde_json::json!([])
    );
    assert!(receiver
        .received()
        .iter()
        .all(|received| !received.event.starts_with("incident.")));

    // It survives a restart.
    let pharos = {
        drop(pharos);
        Pharos::start(&config, dir.path())
    };
    let server = format!("http://{}/", pharos.address);
    let cli = |args: &[&str]| {
        std::process::Command::new(binary())
            .args(args)
            .args(["--server", &server])
            .env("PHAROS_TOKEN", ADMIN_TOKEN)
            .output()
            .unwrap()
    };
    // On PostgreSQL the killed server's lease runs out first: wait until this one leads.
    eventually(Duration::from_secs(30), "leading again", || async {
        let (status, health) = pharos.get("/healthz").await;
        (status == 200 && !health.contains("follower")).then_some(())
    })
    .await;
    let listed = cli(&["maintenance", "list"]);
    let listed_text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed_text.contains(&id) && listed_text.contains("scheduled"),
        "{listed_text}"
    );

    // Cancelled: the failure still there opens its incident.
    let cancelled = cli(&["maintenance", "cancel", &id]);
    assert!(
        cancelled.status.success(),
        "{}",
        String::from_utf8_lossy(&cancelled.stderr)
    );
    eventually(
        Duration::from_secs(20),
        "the incident after the window",
        || async {
            let incidents = pharos.get_json("/api/v1/incidents").await;
            incidents["incidents"][0]["id"].as_i64()
        },
    )
    .await;
    let again = cli(&["maintenance", "cancel", &id]);
    assert_eq!(again.status.code(), Some(1), "a window is cancelled once");
    let audit = pharos.admin_json("/api/v1/admin/audit?limit=5").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"maintenance.cancel") && actions.contains(&"maintenance.schedule"),
        "{actions:?}"
    );
}
