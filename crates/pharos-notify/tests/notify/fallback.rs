//! Fallback chains through the real outbox (SQLite) and worker against local services: an
//! email channel depending on the mail submission that is down is skipped without a single
//! connection to its SMTP server, a step that
//! does not deliver in time hands over to the next, a delivered step ends the chain, and a
//! restart mid-chain loses nothing and sends nothing twice.

use crate::service::{Reply, Service};
use chrono::{TimeZone, Utc};
use pharos_core::{
    ComponentId, ComponentStatus, Event, Incident, IncidentNews, IncidentPhase, IncidentUpdate,
};
use pharos_notify::{Notifier, OutboxWorker};
use pharos_store::{Batch, MessageState, Store};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// An SMTP port that counts the connections made to it (and never answers them).
struct SmtpPort {
    port: u16,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl SmtpPort {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                held.push(stream);
            }
        });
        Self { port, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Mail submission is down; the route tries email to operators (which needs mail
/// submission), then SMS, then chat, each for 1 s.
fn config(ops: &SmtpPort, sms: &Service, chat: &Service) -> pharos_config::Config {
    let source = format!(
        r#"[[components]]
id = "mail-submission"
name = "Mail submission"

[[components]]
id = "webmail"
name = "Webmail"

[[channels]]
id = "ops-mail"
type = "email"
host = "127.0.0.1"
port = {ops}
tls = "none"
from = "pharos@example.test"
to = ["ops@example.test"]
timeout = "300ms"
depends_on = ["mail-submission"]

[[channels]]
id = "sms"
type = "sms"
api_url = "{sms}/"
account_sid = "AC0123456789abcdef0123456789abcdef"
auth_token = "twilioauthtoken"
from = "+15005550006"
to = "+14155550100"
timeout = "300ms"

[[channels]]
id = "chat"
type = "ntfy"
server = "{chat}/"
topic = "ops"

[[routes]]
min_impact = "partial_outage"
chain = ["ops-mail", "sms", "chat"]
fallback_after = "1s"
"#,
        ops = ops.port,
        sms = sms.url(),
        chat = chat.url(),
    );
    pharos_config::parse("fallback.toml", &source, &|_| None)
        .unwrap_or_else(|errors| panic!("{errors}"))
}

fn webmail_outage() -> Event {
    let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    Event::IncidentOpened(IncidentNews {
        dependent_names: Vec::new(),
        root_cause: None,
        incident: Incident {
            dependents: Vec::new(),
            scope: None,
            id: 3,
            component: ComponentId::new("webmail"),
            title: "Webmail: major outage".into(),
            phase: IncidentPhase::Investigating,
            impact: ComponentStatus::MajorOutage,
            worst_impact: ComponentStatus::MajorOutage,
            started_at: at,
            detected_at: at,
            resolved_at: None,
            updates: vec![IncidentUpdate {
                at,
                phase: IncidentPhase::Investigating,
                message: "Webmail does not load.".into(),
                automatic: true,
                expected_by: None,
                next_update_by: None,
                edited_at: None,
            }],
            timeline: vec![],
        },
        component_name: "Webmail".into(),
        monitors: vec![],
    })
}

/// Enqueues the outage's messages as the engine would, with mail submission down.
async fn enqueue(store: &dyn Store, notifier: &Notifier) {
    let status_of = |id: &ComponentId| {
        Some(if id.as_str() == "mail-submission" {
            ComponentStatus::MajorOutage
        } else {
            ComponentStatus::Operational
        })
    };
    let batch = Batch {
        outbox: notifier.messages(&webmail_outage(), Utc::now(), &status_of),
        ..Batch::default()
    };
    store.commit(&batch).await.unwrap();
}

/// Runs the outbox worker until `done` holds (or 10 s pass).
async fn deliver_until(store: Arc<dyn Store>, notifier: &Arc<Notifier>, done: impl Fn() -> bool) {
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let worker = OutboxWorker::new(store, notifier.clone(), Arc::default());
    let running = tokio::spawn(worker.run(shutdown));
    let started = Instant::now();
    while !done() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    let _ = running.await;
}

async fn states(store: &dyn Store) -> Vec<(String, MessageState, Option<String>)> {
    let mut messages = store.recent_messages(10).await.unwrap();
    messages.sort_by_key(|(message, _)| message.chain.as_ref().map(|link| link.step));
    messages
        .into_iter()
        .map(|(message, _)| (message.channel_id, message.state, message.last_error))
        .collect()
}

async fn open(path: &Path) -> Arc<dyn Store> {
    crate::test_store::open_store(path).await
}

#[tokio::test]
async fn a_step_that_does_not_deliver_in_time_hands_over_and_a_broken_dependency_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let ops = SmtpPort::start().await;
    let sms = Service::start(Reply::Hang).await;
    let chat = Service::start(Reply::status(200, "{}")).await;
    let notifier = Arc::new(Notifier::from_config(&config(&ops, &sms, &chat)));
    let store = open(&dir.path().join("pharos.db")).await;
    enqueue(store.as_ref(), &notifier).await;

    let started = Instant::now();
    deliver_until(store.clone(), &notifier, || !chat.seen().is_empty()).await;
    let handed_over = started.elapsed();
    assert_eq!(chat.seen().len(), 1, "the last step got it");
    assert!(
        handed_over >= Duration::from_millis(900),
        "{handed_over:?}: not before the deadline"
    );
    assert!(
        handed_over < Duration::from_secs(4),
        "{handed_over:?}: soon after it"
    );
    assert_eq!(
        ops.connections(),
        0,
        "email whose mail submission is down never touches SMTP"
    );
    assert!(!sms.seen().is_empty(), "the hung step was tried");

    let states = states(store.as_ref()).await;
    assert_eq!(states[0].0, "ops-mail");
    assert_eq!(states[0].1, MessageState::Skipped);
    assert_eq!(
        states[0].2.as_deref(),
        Some("skipped: Mail submission is in major outage")
    );
    assert_eq!(states[1].0, "sms");
    assert_eq!(states[1].1, MessageState::Failed);
    assert!(
        states[1]
            .2
            .as_deref()
            .unwrap()
            .contains("next step of the chain takes over"),
        "{states:?}"
    );
    assert_eq!(
        (states[2].0.as_str(), states[2].1),
        ("chat", MessageState::Delivered)
    );
}

#[tokio::test]
async fn a_delivered_step_ends_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let ops = SmtpPort::start().await;
    let sms = Service::start(Reply::status(201, r#"{"sid":"SM1"}"#)).await;
    let chat = Service::start(Reply::status(200, "{}")).await;
    let notifier = Arc::new(Notifier::from_config(&config(&ops, &sms, &chat)));
    let store = open(&dir.path().join("pharos.db")).await;
    enqueue(store.as_ref(), &notifier).await;

    deliver_until(store.clone(), &notifier, || !sms.seen().is_empty()).await;
    // Past the deadline: nothing more may be sent.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(sms.seen().len(), 1);
    assert!(chat.seen().is_empty());
    assert_eq!(ops.connections(), 0);
    let states = states(store.as_ref()).await;
    assert_eq!(states[1].1, MessageState::Delivered);
    assert_eq!(states[2].1, MessageState::Skipped);
    assert_eq!(
        states[2].2.as_deref(),
        Some("an earlier step of the chain delivered")
    );
}

#[tokio::test]
async fn a_restart_mid_chain_loses_nothing_and_sends_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("pharos.db");
    let ops = SmtpPort::start().await;
    let sms = Service::start(Reply::Hang).await;
    let chat = Service::start(Reply::status(200, "{}")).await;
    let notifier = Arc::new(Notifier::from_config(&config(&ops, &sms, &chat)));
    {
        let store = open(&database).await;
        enqueue(store.as_ref(), &notifier).await;
        // The first pass tries SMS (which hangs) and stops before the deadline.
        deliver_until(store.clone(), &notifier, || !sms.seen().is_empty()).await;
    }
    assert!(chat.seen().is_empty());

    // A new process on the same database.
    let store = open(&database).await;
    deliver_until(store.clone(), &notifier, || !chat.seen().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        chat.seen().len(),
        1,
        "exactly one delivery to the next step"
    );
    assert_eq!(ops.connections(), 0);
    let states = states(store.as_ref()).await;
    assert_eq!(states[2].1, MessageState::Delivered);
}
