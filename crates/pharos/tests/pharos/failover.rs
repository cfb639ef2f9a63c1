//! Two `pharos serve` replicas on one PostgreSQL database: one leads, the other follows and
//! serves the same page. The leader is killed (SIGKILL) during an open incident whose
//! notification is still pending, then the new leader is paused (SIGSTOP) and resumed: each
//! time the other replica takes over within 15 s, no incident is opened twice, and every
//! notification is delivered exactly once.

use crate::support::*;
use pharos_demo::WebhookReceiver;
use std::time::{Duration, Instant};

async fn health(pharos: &Pharos) -> String {
    http_get(pharos.address, "/healthz", None).await.1
}

async fn leads(pharos: &Pharos) -> bool {
    health(pharos).await.contains("leader: this replica")
}

fn count(receiver: &WebhookReceiver, event: &str) -> usize {
    receiver
        .received()
        .iter()
        .filter(|received| received.event == event)
        .count()
}

fn signal(pharos: &Pharos, name: &str) {
    let sent = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pharos.pid().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test]
async fn the_other_replica_takes_over_and_nothing_is_lost_or_sent_twice() {
    let Some(database) = crate::pg_server::fresh_database("replicas failing over") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut target = TcpTarget::start().await;
    let receiver_port = free_port();
    let receiver_url = format!("http://127.0.0.1:{receiver_port}/hooks/pharos");
    let config = write_config(dir.path(), target.address, &receiver_url);
    use_database(&config, &database);

    let first = Pharos::start(&config, dir.path());
    eventually(
        Duration::from_secs(10),
        "the first replica leads",
        || async { leads(&first).await.then_some(()) },
    )
    .await;
    let second = Pharos::start(&config, dir.path());
    let follower = health(&second).await;
    assert!(follower.contains("follower"), "{follower}");
    let metrics = http_get(second.address, "/metrics", Some(ADMIN_TOKEN))
        .await
        .1;
    assert!(metrics.contains("pharos_leader{replica=\""), "{metrics}");
    assert!(metrics
        .lines()
        .any(|line| line.starts_with("pharos_leader{") && line.ends_with(" 0")));

    // Agents report to the leader; a follower sends them on.
    let made = std::process::Command::new(binary())
        .args(["agent-token", "create", "probe-eu", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let token = String::from_utf8(made.stdout).unwrap();
    let report = serde_json::json!({
        "protocol": 1, "region": "eu", "agent_version": "test",
        "generation": null, "results": [], "dropped": 0
    })
    .to_string();
    let exchange = "/api/agent/v1/exchange";
    let (status, body) = http_post(second.address, exchange, Some(token.trim()), &report).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("follows"), "{body}");
    let (status, body) = http_post(first.address, exchange, Some(token.trim()), &report).await;
    assert_eq!(status, 200, "{body}");

    // An incident whose notification cannot be delivered yet (the receiver is not up).
    target.stop().await;
    let incident_id = eventually(Duration::from_secs(15), "an incident", || async {
        first.get_json("/api/v1/incidents").await["incidents"][0]["id"].as_i64()
    })
    .await;
    eventually(
        Duration::from_secs(15),
        "a failed delivery attempt",
        || async {
            // Messages about one component go in order: the status change is retried while the
            // incident's waits its turn.
            let deliveries = first.admin_json("/api/v1/admin/deliveries").await;
            let deliveries = deliveries["deliveries"].as_array()?.clone();
            let attempted = deliveries.iter().any(|delivery| {
                delivery["state"] == "pending"
                    && !delivery["attempts"].as_array().unwrap().is_empty()
            });
            let opened = deliveries.iter().any(|delivery| {
                delivery["event"] == "incident.opened" && delivery["state"] == "pending"
            });
            (attempted && opened).then_some(())
        },
    )
    .await;
    // The follower shows the same incident, read from what the leader committed; an
    // operator's update goes to the leader.
    eventually(Duration::from_secs(5), "the follower's page", || async {
        let incidents = second.get_json("/api/v1/incidents").await;
        (incidents["incidents"][0]["id"].as_i64() == Some(incident_id)).then_some(())
    })
    .await;
    let update = r#"{"status": "identified", "message": "A failed switch."}"#;
    let path = format!("/api/v1/admin/incidents/{incident_id}/updates");
    let (status, body) = http_post(second.address, &path, Some(ADMIN_TOKEN), update).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("follows"), "{body}");
    let (status, body) = http_post(first.address, &path, Some(ADMIN_TOKEN), update).await;
    assert_eq!(status, 201, "{body}");

    // The leader dies.
    let killed = Instant::now();
    first.kill();
    let receiver = WebhookReceiver::start(
        format!("127.0.0.1:{receiver_port}").parse().unwrap(),
        SECRET,
    )
    .await
    .unwrap();
    eventually(
        Duration::from_secs(15),
        "the second replica leads",
        || async { leads(&second).await.then_some(()) },
    )
    .await;
    let takeover = killed.elapsed();
    assert!(takeover <= Duration::from_secs(15), "{takeover:?}");
    eventually(
        Duration::from_secs(10),
        "the pending notification",
        || async { (count(&receiver, "incident.opened") == 1).then_some(()) },
    )
    .await;

    // The first comes back as a follower; the leader is paused while the target recovers.
    let first = Pharos::start(&config, dir.path());
    assert!(health(&first).await.contains("follower"));
    signal(&second, "STOP");
    let paused = Instant::now();
    target.restart().await;
    eventually(
        Duration::from_secs(15),
        "the first replica leads again",
        || async { leads(&first).await.then_some(()) },
    )
    .await;
    assert!(paused.elapsed() <= Duration::from_secs(15));
    eventually(Duration::from_secs(15), "the resolution told", || async {
        (count(&receiver, "incident.resolved") == 1).then_some(())
    })
    .await;
    // The paused one wakes up with an incident it thinks is still open: it must write and
    // send nothing.
    signal(&second, "CONT");
    eventually(
        Duration::from_secs(10),
        "the resumed replica follows",
        || async { health(&second).await.contains("follower").then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(&receiver, "incident.opened"), 1, "opened told once");
    assert_eq!(
        count(&receiver, "incident.resolved"),
        1,
        "resolved told once"
    );
    let ids: std::collections::HashSet<String> = receiver
        .received()
        .iter()
        .map(|received| received.id.clone())
        .collect();
    assert_eq!(ids.len(), receiver.received().len(), "no message twice");
    let incidents = first.get_json("/api/v1/incidents").await;
    let incidents = incidents["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 1, "one incident: {incidents:?}");
    assert_eq!(incidents[0]["id"], incident_id);
    assert_eq!(incidents[0]["status"], "resolved");
}
