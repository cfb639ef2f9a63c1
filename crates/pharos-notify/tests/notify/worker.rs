//! The outbox worker: one service that hangs until its timeout delays no other channel.

use crate::service::degraded;
use crate::service::{Reply, Service};
use chrono::Utc;
use pharos_core::Event;
use pharos_notify::{Notifier, OutboxWorker};
use pharos_store::Batch;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Before: the worker waited for every delivery of a round before looking at the outbox
/// again, so a service hanging until its timeout held back every other channel's new messages.
#[tokio::test]
async fn a_hanging_service_holds_back_no_other_channel() {
    let dir = tempfile::tempdir().unwrap();
    let hanging = Service::start(Reply::Hang).await;
    let fast = Service::start(Reply::status(200, "{}")).await;
    let source = format!(
        "[[channels]]\nid = \"slow\"\ntype = \"ntfy\"\nserver = \"{}/\"\ntopic = \"ops\"\ntimeout = \"8s\"\n\
         [[channels]]\nid = \"fast\"\ntype = \"ntfy\"\nserver = \"{}/\"\ntopic = \"ops\"\n",
        hanging.url(),
        fast.url()
    );
    let config = pharos_config::parse("worker.toml", &source, &|_| None).unwrap();
    let notifier = Arc::new(Notifier::from_config(&config));
    let store = crate::test_store::open_store(&dir.path().join("pharos.db")).await;
    let enqueue = |event: Event| {
        let store = store.clone();
        let notifier = notifier.clone();
        async move {
            let batch = Batch {
                outbox: notifier.messages(&event, Utc::now(), &|_| None),
                ..Batch::default()
            };
            store.commit(&batch).await.unwrap();
        }
    };
    let wake = Arc::new(tokio::sync::Notify::new());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(
        OutboxWorker::new(store.clone(), notifier.clone(), wake.clone()).run(shutdown),
    );

    enqueue(degraded("a")).await;
    wake.notify_one();
    let started = Instant::now();
    while hanging.seen().is_empty() || fast.seen().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the first message goes out"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The slow service now holds its attempt for 8 s; a new message must not wait for it.
    enqueue(degraded("b")).await;
    wake.notify_one();
    let second = Instant::now();
    while fast.seen().len() < 2 {
        assert!(
            second.elapsed() < Duration::from_secs(2),
            "the fast channel waited for the hanging one"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = stop.send(true);
    running.abort();
}
