//! One incident's messages reach each channel in the order they were written, even when the
//! channel's service is down for a while and the first of them waits for its retry.

use crate::service::{Reply, Service};
use chrono::{TimeZone, Utc};
use pharos_core::{
    ComponentId, ComponentStatus, Event, Incident, IncidentNews, IncidentPhase, IncidentUpdate,
};
use pharos_notify::{Notifier, OutboxWorker};
use pharos_store::Batch;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn incident(phase: IncidentPhase, message: &str) -> Incident {
    let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    Incident {
        dependents: Vec::new(),
        scope: None,
        id: 5,
        component: ComponentId::new("mail"),
        title: "Mail: major outage".into(),
        phase,
        impact: ComponentStatus::MajorOutage,
        worst_impact: ComponentStatus::MajorOutage,
        started_at: at,
        detected_at: at,
        resolved_at: (phase == IncidentPhase::Resolved).then_some(at),
        updates: vec![IncidentUpdate {
            at,
            phase,
            message: message.into(),
            automatic: false,
            expected_by: None,
            next_update_by: None,
            edited_at: None,
        }],
        timeline: vec![],
    }
}

#[tokio::test]
async fn an_incidents_messages_arrive_in_order_on_every_channel_across_an_outage() {
    let dir = tempfile::tempdir().unwrap();
    let chat = Service::start(Reply::status(503, "upstream unavailable")).await;
    let pager = Service::start(Reply::status(200, "{}")).await;
    let source = format!(
        "[[components]]\nid = \"mail\"\nname = \"Mail\"\n\
         [[channels]]\nid = \"chat\"\ntype = \"ntfy\"\nserver = \"{}/\"\ntopic = \"ops\"\n\
         [[channels]]\nid = \"pager\"\ntype = \"gotify\"\nserver = \"{}/\"\ntoken = \"apptoken\"\n",
        chat.url(),
        pager.url()
    );
    let config = pharos_config::parse("order.toml", &source, &|_| None).unwrap();
    let notifier = Arc::new(Notifier::from_config(&config));
    let store = crate::test_store::open_store(&dir.path().join("pharos.db")).await;
    let news = |phase, message| IncidentNews {
        dependent_names: Vec::new(),
        root_cause: None,
        incident: incident(phase, message),
        component_name: "Mail".into(),
        monitors: vec![],
    };
    let events = [
        Event::IncidentOpened(news(IncidentPhase::Investigating, "first")),
        Event::IncidentUpdated(news(IncidentPhase::Identified, "second")),
        Event::IncidentResolved(news(IncidentPhase::Resolved, "third")),
    ];
    for event in &events {
        let batch = Batch {
            outbox: notifier.messages(event, Utc::now(), &|_| None),
            ..Batch::default()
        };
        store.commit(&batch).await.unwrap();
    }
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(OutboxWorker::new(store, notifier, Arc::default()).run(shutdown));

    // The chat service refuses the first message; it comes back before the retry.
    let started = Instant::now();
    while chat.seen().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(chat.seen().len(), 1, "later messages wait for the first");
    chat.answer_with(Reply::status(200, "{}"));
    while chat.seen().len() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "retried within its backoff"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    let _ = running.await;

    let messages = |service: &Service| -> Vec<String> {
        service
            .seen()
            .iter()
            .map(|seen| {
                let body: serde_json::Value = serde_json::from_slice(&seen.body).unwrap();
                body["message"]
                    .as_str()
                    .unwrap_or_default()
                    .lines()
                    .nth(1)
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(messages(&chat), ["first", "first", "second", "third"]);
    assert_eq!(messages(&pager), ["first", "second", "third"]);
}
