//! Detection, incidents and notifications, driven result by result with chosen times, on a
//! real SQLite file so that restarts are real.

use chrono::{DateTime, TimeZone, Utc};
use pharos_core::{ComponentStatus, EventKind, IncidentPhase, Outcome, TimelineKind};
use pharos_engine::{Evaluator, Topology};
use pharos_store::{Batch, IncidentQuery, Store};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const CONFIG: &str = r#"
[[components]]
id = "submission"
name = "Mail submission"
investigating_message = "We are investigating problems with mail submission."

[[components]]
id = "web"
name = "Webmail"

[[monitors]]
id = "smtp-a"
component = "submission"
type = "tcp"
host = "127.0.0.1"
port = 25

[[monitors]]
id = "smtp-b"
component = "submission"
type = "tcp"
host = "127.0.0.1"
port = 26

[[monitors]]
id = "web"
component = "web"
type = "http"
url = "http://127.0.0.1/"

[incidents]
update_every = "30m"

[[channels]]
id = "ops"
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
events = ["incident.opened", "incident.updated", "incident.resolved", "incident.update_overdue"]
"#;

pub(crate) fn at(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap()
}

pub(crate) fn down() -> Outcome {
    Outcome::down(Duration::from_millis(1), vec![], "connection refused")
}

pub(crate) fn up() -> Outcome {
    Outcome::up(Duration::from_millis(1), vec![])
}

pub(crate) struct Harness {
    pub(crate) store: Arc<dyn Store>,
    topology: Arc<Topology>,
    pub(crate) evaluator: Evaluator,
    _dir: Option<tempfile::TempDir>,
    path: std::path::PathBuf,
}

impl Harness {
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pharos.db");
        let mut harness = Self::open(path).await;
        harness._dir = Some(dir);
        harness
    }

    async fn open(path: std::path::PathBuf) -> Self {
        let config = pharos_config::parse("detection.toml", CONFIG, &|_| None).unwrap();
        let topology = Arc::new(Topology::from_config(&config));
        let store = crate::support::open_store(&path).await;
        let mut state = store.load_engine_state().await.unwrap();
        state.incident_ids = store.reserve_incident_ids(64).await.unwrap();
        let evaluator = Evaluator::new(topology.clone(), state, at(0));
        Self {
            store,
            topology,
            evaluator,
            _dir: None,
            path,
        }
    }

    /// Simulates a crash and restart: a new evaluator from what the store holds.
    pub(crate) async fn restart(mut self) -> Self {
        let dir = self._dir.take();
        let path = self.path.clone();
        drop(self);
        let mut harness = Self::open(path).await;
        harness._dir = dir;
        let mut batch = Batch::default();
        harness.evaluator.reconcile(at(0), &mut batch);
        harness.store.commit(&batch).await.unwrap();
        harness
    }

    pub(crate) async fn feed(&mut self, monitor: &str, second: i64, outcome: Outcome) -> Batch {
        let index = self
            .topology
            .monitors
            .iter()
            .position(|m| m.id.as_str() == monitor)
            .unwrap();
        let mut batch = Batch::default();
        self.evaluator
            .observe(index, at(second), outcome, &mut batch);
        self.evaluator.flush(&mut batch);
        self.store.commit(&batch).await.unwrap();
        batch
    }
}

impl Harness {
    /// Lets the engine post updates for impact changes that have settled by `second`.
    async fn settle(&mut self, second: i64) -> Batch {
        let mut batch = Batch::default();
        self.evaluator.settle(at(second), &mut batch);
        self.store.commit(&batch).await.unwrap();
        batch
    }
}

pub(crate) fn events(batch: &Batch) -> Vec<EventKind> {
    batch.outbox.iter().map(|message| message.event).collect()
}

#[tokio::test]
async fn two_failures_open_one_incident_with_its_timeline_and_a_notification() {
    let mut harness = Harness::new().await;
    assert!(
        harness
            .feed("web", 0, down())
            .await
            .new_incidents
            .is_empty(),
        "one failure is not an outage"
    );
    let batch = harness.feed("web", 5, down()).await;
    assert_eq!(events(&batch), [EventKind::IncidentOpened]);
    let incident = &batch.new_incidents[0];
    assert_eq!(incident.impact, ComponentStatus::MajorOutage);
    assert_eq!((incident.started_at, incident.detected_at), (at(0), at(5)));
    assert_eq!(incident.time_to_detect(), Duration::from_secs(5));
    assert_eq!(
        incident.updates[0].message,
        "We are investigating problems with Webmail."
    );
    let kinds: Vec<TimelineKind> = incident.timeline.iter().map(|entry| entry.kind).collect();
    assert_eq!(
        kinds,
        [
            TimelineKind::FirstFailure,
            TimelineKind::Detected,
            TimelineKind::Update
        ]
    );
    assert_eq!(
        incident.timeline[0].detail,
        "First failed check: web: connection refused"
    );
    let payload: serde_json::Value = serde_json::from_str(&batch.outbox[0].payload).unwrap();
    assert_eq!(payload["type"], "incident.opened");
    assert_eq!(payload["data"]["incident"]["component"]["name"], "Webmail");

    assert!(
        harness.feed("web", 35, down()).await.outbox.is_empty(),
        "a continuing outage notifies nothing new"
    );
    assert!(
        harness.feed("web", 65, up()).await.outbox.is_empty(),
        "one success is not a recovery"
    );
    let batch = harness.feed("web", 70, up()).await;
    assert_eq!(events(&batch), [EventKind::IncidentResolved]);
    let resolved = harness.store.incident(incident.id).await.unwrap().unwrap();
    assert_eq!(resolved.phase, IncidentPhase::Resolved);
    assert_eq!(resolved.time_to_recover(), Some(Duration::from_secs(70)));
    assert_eq!(
        resolved.timeline.last().unwrap().kind,
        TimelineKind::Recovered
    );
}

#[tokio::test]
async fn one_of_two_monitors_down_is_a_partial_outage_that_escalates() {
    let mut harness = Harness::new().await;
    harness.feed("smtp-a", 0, down()).await;
    let opened = harness.feed("smtp-a", 5, down()).await;
    assert_eq!(
        opened.new_incidents[0].impact,
        ComponentStatus::PartialOutage
    );
    assert_eq!(
        opened.new_incidents[0].updates[0].message,
        "We are investigating problems with mail submission."
    );
    harness.feed("smtp-b", 6, down()).await;
    let escalated = harness.feed("smtp-b", 11, down()).await;
    assert!(
        escalated.new_incidents.is_empty(),
        "the same incident continues"
    );
    assert_eq!(
        escalated.incident_changes[0].impact,
        ComponentStatus::MajorOutage
    );
    // Six seconds after the opening update: noted at once, told once it has settled.
    assert!(!events(&escalated).contains(&EventKind::IncidentUpdated));
    assert!(
        harness.settle(40).await.outbox.is_empty(),
        "not settled yet"
    );
    let settled = harness.settle(72).await;
    assert_eq!(events(&settled), [EventKind::IncidentUpdated]);
    assert_eq!(
        settled.new_updates[0].1.message,
        "Mail submission is now in major outage."
    );
}

/// Before: one blip on a component with two monitors posted four public updates within
/// 30 s. Impact changes within the settle window are folded into one update.
#[tokio::test]
async fn impact_changes_within_the_settle_window_are_folded_into_one_update() {
    let mut harness = Harness::new().await;
    harness.feed("smtp-a", 0, down()).await;
    let opened = harness.feed("smtp-a", 5, down()).await;
    assert_eq!(opened.new_incidents.len(), 1);
    let mut public = Vec::new();
    for (monitor, second, outcome) in [
        ("smtp-b", 8, down()),
        ("smtp-b", 12, down()),
        ("smtp-b", 18, up()),
        ("smtp-b", 22, up()),
        ("smtp-b", 26, down()),
        ("smtp-b", 30, down()),
    ] {
        let batch = harness.feed(monitor, second, outcome).await;
        public.extend(batch.new_updates.into_iter().map(|(_, update)| update));
    }
    assert!(
        public.is_empty(),
        "nothing public within the window: {public:?}"
    );
    let settled = harness.settle(95).await;
    assert_eq!(
        settled.new_updates.len(),
        1,
        "one update for the settled impact"
    );
    assert_eq!(events(&settled), [EventKind::IncidentUpdated]);
    let stored = harness
        .store
        .incidents(IncidentQuery::default())
        .await
        .unwrap();
    assert_eq!(
        stored[0].updates.len(),
        2,
        "opening plus one settled update"
    );
    assert!(
        stored[0]
            .timeline
            .iter()
            .filter(|entry| entry.kind == pharos_core::TimelineKind::ImpactChanged)
            .count()
            >= 2,
        "every change stays in the timeline for the postmortem"
    );
}

/// Before: history called a mostly-major outage "Partial outage" and the title stayed at the
/// first impact. Now the title and record name the worst impact, and the current one is
/// kept beside it.
#[tokio::test]
async fn an_incident_is_titled_and_recorded_by_its_worst_impact() {
    let mut harness = Harness::new().await;
    harness.feed("smtp-a", 0, down()).await;
    harness.feed("smtp-a", 5, down()).await;
    harness.feed("smtp-b", 6, down()).await;
    harness.feed("smtp-b", 11, down()).await;
    // One monitor recovers: the impact eases back to partial, the worst stays major.
    harness.feed("smtp-b", 20, up()).await;
    let eased = harness.feed("smtp-b", 25, up()).await;
    let change = &eased.incident_changes[0];
    assert_eq!(change.impact, ComponentStatus::PartialOutage);
    assert_eq!(change.worst_impact, ComponentStatus::MajorOutage);
    assert_eq!(change.title, "Mail submission: major outage");
    let harness = harness.restart().await;
    let stored = harness
        .store
        .incidents(IncidentQuery::default())
        .await
        .unwrap();
    assert_eq!(stored[0].title, "Mail submission: major outage");
    assert_eq!(stored[0].worst_impact, ComponentStatus::MajorOutage);
    assert_eq!(stored[0].impact, ComponentStatus::PartialOutage);
}

#[tokio::test]
async fn a_restart_mid_incident_neither_loses_nor_duplicates_it() {
    let mut harness = Harness::new().await;
    harness.feed("web", 0, down()).await;
    let opened = harness.feed("web", 5, down()).await;
    let id = opened.new_incidents[0].id;

    let mut harness = harness.restart().await;
    assert_eq!(
        harness
            .evaluator
            .open_incidents()
            .map(|incident| incident.id)
            .collect::<Vec<_>>(),
        [id]
    );
    let batch = harness.feed("web", 35, down()).await;
    assert!(
        batch.new_incidents.is_empty() && batch.outbox.is_empty(),
        "{batch:?}"
    );
    harness.feed("web", 65, up()).await;
    let batch = harness.feed("web", 70, up()).await;
    assert_eq!(batch.incident_changes[0].id, id);
    assert_eq!(
        harness
            .store
            .incidents(IncidentQuery::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_restart_between_two_failures_still_confirms_on_the_second() {
    let mut harness = Harness::new().await;
    harness.feed("web", 0, down()).await;
    let mut harness = harness.restart().await;
    let batch = harness.feed("web", 5, down()).await;
    assert_eq!(
        batch.new_incidents.len(),
        1,
        "the first failure was remembered across the restart"
    );
    assert_eq!(batch.new_incidents[0].started_at, at(0));
}

#[tokio::test]
async fn incidents_of_components_removed_from_the_configuration_are_closed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pharos.db");
    {
        let store = crate::support::open_store(&path).await;
        let mut orphan = pharos_core::Incident {
            dependents: Vec::new(),
            scope: None,
            id: 9,
            component: pharos_core::ComponentId::new("gone"),
            title: "Gone: major outage".into(),
            phase: IncidentPhase::Investigating,
            impact: ComponentStatus::MajorOutage,
            worst_impact: ComponentStatus::MajorOutage,
            started_at: at(0),
            detected_at: at(5),
            resolved_at: None,
            updates: vec![],
            timeline: vec![],
        };
        orphan.updates.clear();
        store
            .commit(&Batch {
                new_incidents: vec![orphan],
                ..Batch::default()
            })
            .await
            .unwrap();
    }
    let mut harness = Harness::open(path).await;
    let mut batch = Batch::default();
    harness.evaluator.reconcile(at(100), &mut batch);
    harness.store.commit(&batch).await.unwrap();
    let incident = harness.store.incident(9).await.unwrap().unwrap();
    assert_eq!(incident.resolved_at, Some(at(100)));
    // A later incident gets a fresh id, never a reused one.
    harness.feed("web", 200, down()).await;
    assert_eq!(
        harness.feed("web", 205, down()).await.new_incidents[0].id,
        10
    );
}

#[tokio::test]
async fn an_operator_update_is_recorded_notified_and_survives_a_restart() {
    let mut harness = Harness::new().await;
    harness.feed("web", 0, down()).await;
    let id = harness.feed("web", 5, down()).await.new_incidents[0].id;

    let mut batch = Batch::default();
    let update = harness
        .evaluator
        .post_update(
            id,
            IncidentPhase::Identified,
            "A failed disk; replacing it.".into(),
            at(60),
            &mut batch,
        )
        .unwrap();
    assert!(!update.automatic);
    assert_eq!(events(&batch), [EventKind::IncidentUpdated]);
    harness.store.commit(&batch).await.unwrap();
    assert_eq!(
        harness.evaluator.post_update(
            id,
            IncidentPhase::Resolved,
            "done".into(),
            at(61),
            &mut Batch::default()
        ),
        Err(pharos_engine::CommandError::ResolveByRecovery)
    );
    assert_eq!(
        harness.evaluator.post_update(
            999,
            IncidentPhase::Monitoring,
            "x".into(),
            at(61),
            &mut Batch::default()
        ),
        Err(pharos_engine::CommandError::NoOpenIncident(999))
    );

    let mut harness = harness.restart().await;
    let incident = harness.evaluator.open_incidents().next().unwrap().clone();
    assert_eq!(incident.phase, IncidentPhase::Identified);
    assert_eq!(
        incident.updates.last().unwrap().message,
        "A failed disk; replacing it."
    );
    harness.feed("web", 65, up()).await;
    let resolved = harness.feed("web", 70, up()).await;
    assert_eq!(events(&resolved), [EventKind::IncidentResolved]);
}

#[tokio::test]
async fn operators_are_reminded_once_when_an_update_is_overdue_even_across_a_restart() {
    let mut harness = Harness::new().await;
    harness.feed("web", 0, down()).await;
    let id = harness.feed("web", 5, down()).await.new_incidents[0].id;

    let remind = |harness: &mut Harness, second: i64| {
        let mut batch = Batch::default();
        harness.evaluator.remind_overdue(at(second), &mut batch);
        batch
    };
    assert!(remind(&mut harness, 5 + 29 * 60).is_empty());
    let reminder = remind(&mut harness, 5 + 31 * 60);
    assert_eq!(events(&reminder), [EventKind::IncidentUpdateOverdue]);
    assert_eq!(
        reminder.new_timeline[0].1.detail,
        "No update for 31 min: readers are waiting for news."
    );
    harness.store.commit(&reminder).await.unwrap();
    assert!(
        remind(&mut harness, 5 + 40 * 60).is_empty(),
        "once per silence"
    );

    let mut harness = harness.restart().await;
    let mut batch = Batch::default();
    harness
        .evaluator
        .remind_overdue(at(5 + 45 * 60), &mut batch);
    assert!(
        batch.is_empty(),
        "the reminder was remembered across the restart"
    );
    let mut posted = Batch::default();
    harness
        .evaluator
        .post_update(
            id,
            IncidentPhase::Identified,
            "Found it.".into(),
            at(5 + 50 * 60),
            &mut posted,
        )
        .unwrap();
    harness.store.commit(&posted).await.unwrap();
    let mut batch = Batch::default();
    harness
        .evaluator
        .remind_overdue(at(5 + 81 * 60), &mut batch);
    assert_eq!(
        events(&batch),
        [EventKind::IncidentUpdateOverdue],
        "a new silence, a new reminder"
    );
}
