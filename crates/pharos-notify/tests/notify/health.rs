//! A channel that keeps failing is reported once, through the other channels, and its
//! recovery once; a message about the failing channel never goes to that channel.

use crate::service::degraded;
use crate::service::{Reply, Service};
use chrono::Utc;
use pharos_core::Event;
use pharos_notify::{Notifier, OutboxWorker};
use pharos_store::{Batch, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn enqueue(store: &dyn Store, notifier: &Notifier, events: &[Event]) {
    let outbox = events
        .iter()
        .flat_map(|event| notifier.messages(event, Utc::now(), &|_| None))
        .collect();
    store
        .commit(&Batch {
            outbox,
            ..Batch::default()
        })
        .await
        .unwrap();
}

/// The `type` of every JSON body the service received.
fn event_types(service: &Service) -> Vec<String> {
    service
        .seen()
        .iter()
        .map(|seen| {
            let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
            body["type"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_failing_channel_is_reported_once_through_the_others_and_so_is_its_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let failing = Service::start(Reply::status(503, "down for maintenance")).await;
    let other = Service::start(Reply::status(200, "")).await;
    let source = format!(
        "[[channels]]\nid = \"chat\"\ntype = \"ntfy\"\nserver = \"{}/\"\ntopic = \"ops\"\nunhealthy_after_failures = 3\n\
         [[channels]]\nid = \"hook\"\ntype = \"webhook\"\nurl = \"{}/hook\"\nsecret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
         events = [\"channel.unhealthy\", \"channel.recovered\"]\n",
        failing.url(),
        other.url()
    );
    let config = pharos_config::parse("health.toml", &source, &|_| None)
        .unwrap_or_else(|errors| panic!("{errors}"));
    let notifier = Arc::new(Notifier::from_config(&config));
    let store = crate::test_store::open_store(&dir.path().join("pharos.db")).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let wake = Arc::new(tokio::sync::Notify::new());
    let worker = OutboxWorker::new(store.clone(), notifier.clone(), wake.clone());
    let running = tokio::spawn(worker.run(shutdown));

    // Three messages fail at once: the third failure in a row makes the channel unhealthy.
    enqueue(
        store.as_ref(),
        &notifier,
        &[degraded("a"), degraded("b"), degraded("c")],
    )
    .await;
    wake.notify_one();
    wait_for("channel.unhealthy reaches the other channel", || {
        event_types(&other) == ["channel.unhealthy"]
    })
    .await;
    let health = notifier.health().snapshot();
    let chat = &health.iter().find(|(id, _, _)| id == "chat").unwrap().2;
    assert!(chat.unhealthy);
    assert_eq!(chat.consecutive_failures, 3);
    assert!(
        chat.last_error
            .as_deref()
            .unwrap()
            .contains("down for maintenance"),
        "{chat:?}"
    );
    let body: serde_json::Value = serde_json::from_slice(&other.seen()[0].body).unwrap();
    assert_eq!(body["data"]["channel"]["id"], "chat");
    assert_eq!(body["data"]["failures"], 3);

    // The channel works again: one more message goes through and the recovery is told once.
    failing.answer_with(Reply::status(200, "{}"));
    enqueue(store.as_ref(), &notifier, &[degraded("d")]).await;
    wake.notify_one();
    wait_for("channel.recovered reaches the other channel", || {
        event_types(&other) == ["channel.unhealthy", "channel.recovered"]
    })
    .await;
    assert!(!notifier.health().is_unhealthy("chat"));
    let told_the_failing_channel = failing
        .seen()
        .iter()
        .any(|seen| String::from_utf8_lossy(&seen.body).contains("keeps failing"));
    assert!(
        !told_the_failing_channel,
        "news about a channel never goes to it"
    );

    let _ = stop.send(true);
    let _ = running.await;
}
