//! SIGKILL mid-incident with a webhook still undelivered, then a restart.

use crate::support::*;
use pharos_demo::WebhookReceiver;
use std::time::Duration;

#[tokio::test]
async fn a_kill_mid_incident_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = TcpTarget::start().await;
    // The receiver is not up yet: the incident's webhook stays pending in the outbox.
    let receiver_port = free_port();
    let receiver_url = format!("http://127.0.0.1:{receiver_port}/hooks/pharos");
    let config = write_config(dir.path(), target.address, &receiver_url);

    let pharos = Pharos::start(&config, dir.path());
    eventually(Duration::from_secs(10), "a first check", || async {
        let components = pharos.get_json("/api/v1/components").await;
        (components[0]["monitors"][0]["last_check"]["status"] == "up").then_some(())
    })
    .await;
    target.stop().await;
    let incident_id = eventually(Duration::from_secs(10), "an incident", || async {
        pharos.get_json("/api/v1/incidents").await["incidents"][0]["id"].as_i64()
    })
    .await;
    // Messages about one component go out in order: the first (the status change) is
    // retried while the incident's waits its turn.
    let pending_id = eventually(
        Duration::from_secs(10),
        "a failed delivery attempt",
        || async {
            let deliveries = pharos.admin_json("/api/v1/admin/deliveries").await;
            let deliveries = deliveries["deliveries"].as_array().unwrap().clone();
            let attempted = deliveries.iter().any(|delivery| {
                delivery["state"] == "pending"
                    && !delivery["attempts"].as_array().unwrap().is_empty()
            });
            let opened = deliveries.iter().find_map(|delivery| {
                (delivery["event"] == "incident.opened" && delivery["state"] == "pending")
                    .then(|| delivery["id"].as_str().unwrap().to_owned())
            });
            opened.filter(|_| attempted)
        },
    )
    .await;

    pharos.kill();
    let receiver = WebhookReceiver::start(
        format!("127.0.0.1:{receiver_port}").parse().unwrap(),
        SECRET,
    )
    .await
    .unwrap();
    let pharos = Pharos::start(&config, dir.path());

    let delivered = eventually(
        Duration::from_secs(20),
        "the pending webhook after the restart",
        || async {
            receiver
                .received()
                .into_iter()
                .find(|received| received.event == "incident.opened")
        },
    )
    .await;
    assert_eq!(delivered.id, pending_id, "the same message, not a new one");
    assert_eq!(delivered.body["data"]["incident"]["id"], incident_id);

    // Evaluation resumed: the target is still down, and it is still the same single incident.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let incidents = pharos.get_json("/api/v1/incidents").await;
    let incidents = incidents["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0]["id"], incident_id);
    assert_eq!(incidents[0]["status"], "investigating");
    let deliveries = pharos.admin_json("/api/v1/admin/deliveries").await;
    let opened: Vec<_> = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["event"] == "incident.opened")
        .collect();
    assert_eq!(opened.len(), 1, "{deliveries}");
    assert_eq!(opened[0]["state"], "delivered");
    assert!(!opened[0]["attempts"].as_array().unwrap().is_empty());
    // In the order they were announced: the status change, then the incident.
    let order: Vec<String> = receiver
        .received()
        .iter()
        .map(|received| received.event.clone())
        .collect();
    let changed = order
        .iter()
        .position(|event| event == "component.status_changed")
        .unwrap();
    let opened_at = order
        .iter()
        .position(|event| event == "incident.opened")
        .unwrap();
    assert!(changed < opened_at, "{order:?}");
    let distinct_opened = receiver
        .received()
        .iter()
        .filter(|received| received.event == "incident.opened")
        .count();
    assert_eq!(distinct_opened, 1);

    // And recovery after the restart resolves that same incident.
    target.restart().await;
    eventually(Duration::from_secs(15), "the incident resolved", || async {
        let incident = pharos
            .get_json(&format!("/api/v1/incidents/{incident_id}"))
            .await;
        (incident["status"] == "resolved").then_some(())
    })
    .await;
}
