//! SIGKILL mid-incident with a webhook still undelivered, then a restart.

use crate::support::*;
use pharos_demo::WebhookReceiver;
use std::time::Duration;

#[tokio::test]
async fn a_kill_mid_incident_loses_and_duplicates_nothing() {
    kill_mid_incident(None).await;
}

#[tokio::test]
async fn a_kill_mid_incident_loses_and_duplicates_nothing_on_postgresql() {
    let Some(database) = crate::pg_server::fresh_database("a_kill_mid_incident on PostgreSQL")
    else {
        return;
    };
    // The server trusts local connections, so a password may be given and must never show.
    let database = database.replacen("pharos@", "pharos:pg-s3cret-pass@", 1);
    kill_mid_incident(Some(database)).await;
}

/// On the SQLite file of the test's directory, or on `database`.
async fn kill_mid_incident(database: Option<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut target = TcpTarget::start().await;
    // The receiver is not up yet: the incident's webhook stays pending in the outbox.
    let receiver_port = free_port();
    let receiver_url = format!("http://127.0.0.1:{receiver_port}/hooks/pharos");
    let config = write_config(dir.path(), target.address, &receiver_url);
    if let Some(database) = &database {
        use_database(&config, database);
    }

    let pharos = Pharos::start(&config, dir.path());
    eventually(Duration::from_secs(10), "a first check", || async {
        let components = pharos.get_json("/api/v1/components").await;
        (components[0]["monitors"][0]["last_check"]["status"] == "up").then_some(())
    })
    .await;
    if database.is_some() {
        let log = pharos.log_text();
        assert!(
            log.contains("database=postgres://pharos:[redacted]@127.0.0.1:"),
            "{log}"
        );
        assert!(!log.contains("pg-s3cret-pass"), "{log}");
    }
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

/// A fallback chain survives `kill -9`: the first step's service hangs, pharos is killed while
/// it waits, and after the restart the next step gets the incident exactly once.
#[tokio::test]
async fn a_kill_mid_chain_hands_the_event_to_the_next_step_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = TcpTarget::start().await;
    // The first step: a service that accepts connections and never answers.
    let hung = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_url = format!("http://{}/hooks/pharos", hung.local_addr().unwrap());
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = attempts.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = hung.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream);
        }
    });
    let backup = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let config = write_config(dir.path(), target.address, &hung_url);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("secret = \"{SECRET}\"\n"),
        &format!("secret = \"{SECRET}\"\ntimeout = \"1s\"\n"),
    );
    let text = format!(
        "{text}\n[[channels]]\nid = \"backup\"\ntype = \"webhook\"\nurl = \"{}\"\nsecret = \"{SECRET}\"\n\n\
         [[routes]]\nevents = [\"incident.opened\"]\nchain = [\"receiver\", \"backup\"]\nfallback_after = \"3s\"\n",
        backup.url()
    );
    std::fs::write(&config, text).unwrap();

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
    eventually(Duration::from_secs(10), "the first step tried", || async {
        (attempts.load(std::sync::atomic::Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    assert!(
        backup.received().is_empty(),
        "the next step waits for the deadline"
    );
    pharos.kill();

    let pharos = Pharos::start(&config, dir.path());
    let delivered = eventually(
        Duration::from_secs(20),
        "the incident through the next step after the restart",
        || async {
            backup
                .received()
                .into_iter()
                .find(|received| received.event == "incident.opened")
        },
    )
    .await;
    assert_eq!(delivered.body["data"]["incident"]["id"], incident_id);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(backup.received().len(), 1, "exactly once");
    let deliveries = pharos.admin_json("/api/v1/admin/deliveries").await;
    let steps: Vec<(String, String)> = deliveries["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|delivery| delivery["event"] == "incident.opened")
        .map(|delivery| {
            (
                delivery["channel"].as_str().unwrap().to_owned(),
                delivery["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        steps.contains(&("receiver".to_owned(), "failed".to_owned()))
            && steps.contains(&("backup".to_owned(), "delivered".to_owned())),
        "{steps:?}"
    );
    assert!(pharos.terminate().success());
}
