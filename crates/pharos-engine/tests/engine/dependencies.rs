//! Root causes across dependent components, driven result by result with chosen times on a
//! real SQLite file: one incident per root cause, dependents joining and recovering in it,
//! a dependent failing before its root, a root found late, a dependent split out when it
//! outlives its root, and a flapping root.

use chrono::{DateTime, TimeZone, Utc};
use pharos_core::{ComponentId, ComponentStatus, EventKind, Incident, Outcome, TimelineKind};
use pharos_engine::{Evaluator, Topology};
use pharos_store::{Batch, IncidentQuery, Store};
use std::sync::Arc;
use std::time::Duration;

/// network → {smtp, imap} → mailflow; webmail → imap; and a website that needs none of
/// them. One monitor each, named as its component.
const CONFIG: &str = r#"
[incidents]
correlation_window = "60s"
settle = "30s"

[[components]]
id = "network"
name = "Network"

[[components]]
id = "smtp"
name = "Mail submission"
depends_on = ["network"]

[[components]]
id = "imap"
name = "Mailbox access"
depends_on = ["network"]

[[components]]
id = "mailflow"
name = "Mail delivery"
depends_on = ["smtp", "imap"]

[[components]]
id = "webmail"
name = "Webmail"
depends_on = ["imap"]

[[monitors]]
id = "network"
component = "network"
type = "tcp"
host = "127.0.0.1"
port = 1

[[monitors]]
id = "smtp"
component = "smtp"
type = "tcp"
host = "127.0.0.1"
port = 25

[[monitors]]
id = "imap"
component = "imap"
type = "tcp"
host = "127.0.0.1"
port = 143

[[monitors]]
id = "mailflow"
component = "mailflow"
type = "tcp"
host = "127.0.0.1"
port = 2525

[[monitors]]
id = "webmail"
component = "webmail"
type = "http"
url = "http://127.0.0.1/"

[[components]]
id = "website"
name = "Website"

[[monitors]]
id = "website"
component = "website"
type = "http"
url = "http://127.0.0.1:8080/"

[[channels]]
id = "ops"
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
events = ["incident.opened", "incident.updated", "incident.resolved", "pharos.degraded"]
"#;

fn at(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap()
}

pub(crate) fn down() -> Outcome {
    Outcome::down(Duration::from_millis(1), vec![], "connection refused")
}

pub(crate) fn up() -> Outcome {
    Outcome::up(Duration::from_millis(1), vec![])
}

pub(crate) struct Harness {
    config: &'static str,
    store: Arc<dyn Store>,
    pub(crate) topology: Arc<Topology>,
    evaluator: Evaluator,
    path: std::path::PathBuf,
    _dir: Arc<tempfile::TempDir>,
    /// Every notification so far.
    sent: Vec<EventKind>,
    /// Whether the unrelated website answers with every batch fed (so pharos itself is
    /// plainly not cut off).
    website_up: bool,
}

impl Harness {
    async fn new() -> Self {
        Self::with(CONFIG).await
    }

    /// A harness on another configuration (it must have a `website` monitor).
    pub(crate) async fn with(config: &'static str) -> Self {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        Self::open(config, dir.path().join("pharos.db"), dir, Vec::new()).await
    }

    async fn open(
        source: &'static str,
        path: std::path::PathBuf,
        dir: Arc<tempfile::TempDir>,
        sent: Vec<EventKind>,
    ) -> Self {
        let config = pharos_config::parse("test.toml", source, &|_| None).unwrap();
        let topology = Arc::new(Topology::from_config(&config));
        let store = crate::support::open_store(&path).await;
        let mut state = store.load_engine_state().await.unwrap();
        state.incident_ids = store.reserve_incident_ids(64).await.unwrap();
        let evaluator = Evaluator::new(topology.clone(), state, at(0));
        Self {
            config: source,
            store,
            topology,
            evaluator,
            path,
            _dir: dir,
            sent,
            website_up: true,
        }
    }

    pub(crate) async fn restart(self, second: i64) -> Self {
        let (path, dir, sent) = (self.path.clone(), self._dir.clone(), self.sent.clone());
        drop(self.store);
        let mut harness = Self::open(self.config, path, dir, sent).await;
        let mut batch = Batch::default();
        harness.evaluator.reconcile(at(second), &mut batch);
        harness.commit(batch).await;
        harness
    }

    /// Feeds results in as the engine loop does: evaluated, then settled, then committed.
    pub(crate) async fn feed(&mut self, second: i64, results: &[(&str, bool)]) -> Vec<usize> {
        let outcomes: Vec<(&str, Outcome)> = results
            .iter()
            .map(|&(monitor, is_up)| (monitor, if is_up { up() } else { down() }))
            .collect();
        self.feed_outcomes(second, &outcomes).await
    }

    /// Feeds chosen outcomes in (and the website's success, if it is up); the monitors
    /// asked for at once.
    pub(crate) async fn feed_outcomes(
        &mut self,
        second: i64,
        results: &[(&str, Outcome)],
    ) -> Vec<usize> {
        let mut batch = Batch::default();
        let website = self.website_up.then(|| ("website", up()));
        for (monitor, outcome) in results.iter().cloned().chain(website) {
            let index = self.monitor(monitor);
            self.evaluator
                .observe(index, at(second), outcome, &mut batch);
        }
        let rechecks = self.evaluator.take_rechecks();
        self.evaluator.settle(at(second), &mut batch);
        self.evaluator.flush(&mut batch);
        self.commit(batch).await;
        rechecks
    }

    pub(crate) fn monitor(&self, id: &str) -> usize {
        self.topology
            .monitors
            .iter()
            .position(|m| m.id.as_str() == id)
            .unwrap_or_else(|| panic!("no monitor {id}"))
    }

    /// The loop's periodic look at maintenance windows.
    pub(crate) async fn follow_maintenance(&mut self, second: i64) {
        let mut batch = Batch::default();
        self.evaluator.follow_maintenance(at(second), &mut batch);
        self.evaluator.settle(at(second), &mut batch);
        self.commit(batch).await;
    }

    /// A component's status as stored.
    pub(crate) async fn status(&self, component: &str) -> ComponentStatus {
        let state = self.store.load_engine_state().await.unwrap();
        state.component_status[&ComponentId::new(component)].0
    }

    pub(crate) async fn tick(&mut self, second: i64) {
        let mut batch = Batch::default();
        self.evaluator.settle(at(second), &mut batch);
        self.commit(batch).await;
    }

    async fn commit(&mut self, batch: Batch) {
        self.sent
            .extend(batch.outbox.iter().map(|message| message.event));
        self.store.commit(&batch).await.unwrap();
    }

    pub(crate) async fn incidents(&self) -> Vec<Incident> {
        let mut all = self
            .store
            .incidents(IncidentQuery {
                since: None,
                limit: 100,
            })
            .await
            .unwrap();
        all.sort_by_key(|incident| incident.id);
        all
    }

    pub(crate) fn count(&self, kind: EventKind) -> usize {
        self.sent.iter().filter(|sent| **sent == kind).count()
    }
}

pub(crate) fn affected(incident: &Incident) -> Vec<&str> {
    incident
        .affected_dependents()
        .map(|dependent| dependent.component.as_str())
        .collect()
}

fn timeline(incident: &Incident, kind: TimelineKind) -> Vec<&str> {
    incident
        .timeline
        .iter()
        .filter(|entry| entry.kind == kind)
        .map(|entry| entry.detail.as_str())
        .collect()
}

const DEPENDENTS: [&str; 4] = ["smtp", "imap", "mailflow", "webmail"];

fn all(is_up: bool) -> Vec<(&'static str, bool)> {
    std::iter::once("network")
        .chain(DEPENDENTS)
        .map(|monitor| (monitor, is_up))
        .collect()
}

#[tokio::test]
async fn a_failing_root_opens_one_incident_its_dependents_join_and_recover_in() {
    let mut harness = Harness::new().await;
    harness.feed(0, &all(true)).await;
    // Everything fails at once; the root is confirmed first in each batch.
    harness.feed(10, &all(false)).await;
    harness.feed(15, &all(false)).await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let incident = &incidents[0];
    assert_eq!(incident.component, ComponentId::new("network"));
    assert_eq!(incident.title, "Network: major outage");
    assert_eq!(affected(incident), DEPENDENTS);
    assert_eq!(harness.count(EventKind::IncidentOpened), 1);
    assert_eq!(
        harness.count(EventKind::IncidentUpdated),
        0,
        "told once settled"
    );

    harness.tick(50).await;
    assert_eq!(
        harness.count(EventKind::IncidentUpdated),
        1,
        "one update for every dependent that joined, not one each"
    );
    let incident = &harness.incidents().await[0];
    assert_eq!(
        incident.updates.last().unwrap().message,
        "Mail submission, Mailbox access, Mail delivery and Webmail are affected because Network is down."
    );

    // Recovery: the root first, then each dependent; the incident resolves with the last.
    harness.feed(60, &all(true)).await;
    harness
        .feed(
            65,
            &[
                ("network", true),
                ("smtp", true),
                ("imap", true),
                ("mailflow", true),
            ],
        )
        .await;
    let incident = &harness.incidents().await[0];
    assert!(incident.is_open(), "webmail is still affected");
    assert_eq!(affected(incident), ["webmail"]);
    assert_eq!(
        timeline(incident, TimelineKind::DependentRecovered),
        [
            "Mail submission operational again",
            "Mailbox access operational again",
            "Mail delivery operational again"
        ]
    );
    harness.feed(70, &[("webmail", true)]).await;
    let incident = &harness.incidents().await[0];
    assert!(!incident.is_open());
    assert_eq!(harness.incidents().await.len(), 1);
    assert_eq!(harness.count(EventKind::IncidentOpened), 1);
    assert_eq!(harness.count(EventKind::IncidentResolved), 1);
    assert_eq!(
        incident.updates.last().unwrap().message,
        "Network is operating normally again."
    );
}

#[tokio::test]
async fn a_dependent_failing_before_its_root_waits_for_the_root_and_joins_it() {
    let mut harness = Harness::new().await;
    harness.feed(0, &all(true)).await;
    let rechecks = harness.feed(10, &[("smtp", false)]).await;
    let network = harness
        .topology
        .monitors
        .iter()
        .position(|monitor| monitor.id.as_str() == "network")
        .unwrap();
    assert_eq!(rechecks, [network], "the root is asked at once");
    harness.feed(11, &[("network", false)]).await;
    harness.feed(15, &[("smtp", false)]).await;
    assert!(
        harness.incidents().await.is_empty(),
        "smtp waits while its root's failure awaits confirmation"
    );
    harness.feed(16, &[("network", false)]).await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0].component, ComponentId::new("network"));
    assert_eq!(affected(&incidents[0]), ["smtp"]);
    assert_eq!(harness.count(EventKind::IncidentOpened), 1);
}

#[tokio::test]
async fn a_dependent_with_a_healthy_root_opens_at_once_and_waits_no_longer_than_the_window() {
    let mut harness = Harness::new().await;
    harness.feed(0, &all(true)).await;
    harness
        .feed(10, &[("smtp", false), ("network", true)])
        .await;
    harness.feed(15, &[("smtp", false)]).await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 1, "the root was checked since and is fine");
    assert_eq!(incidents[0].component, ComponentId::new("smtp"));

    // IMAP's root says nothing (its checks are older than IMAP's failure): the wait ends
    // with the window.
    harness.feed(20, &[("imap", false)]).await;
    harness.feed(25, &[("imap", false)]).await;
    assert_eq!(harness.incidents().await.len(), 1);
    harness.tick(79).await;
    assert_eq!(harness.incidents().await.len(), 1);
    harness.tick(81).await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 2);
    assert_eq!(incidents[1].component, ComponentId::new("imap"));
    assert_eq!(incidents[1].started_at, at(20));
}

#[tokio::test]
async fn a_root_failing_after_its_dependents_opened_takes_their_incidents_over() {
    let mut harness = Harness::new().await;
    harness.feed(0, &all(true)).await;
    harness
        .feed(10, &[("smtp", false), ("imap", false), ("network", true)])
        .await;
    harness.feed(15, &[("smtp", false), ("imap", false)]).await;
    assert_eq!(harness.incidents().await.len(), 2);
    assert_eq!(harness.count(EventKind::IncidentOpened), 2);

    harness.feed(30, &[("network", false)]).await;
    harness.feed(35, &[("network", false)]).await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 2, "no third incident: {incidents:#?}");
    let (kept, merged) = (&incidents[0], &incidents[1]);
    assert_eq!(kept.component, ComponentId::new("network"));
    assert_eq!(kept.title, "Network: major outage");
    assert!(kept.is_open());
    assert_eq!(affected(kept), ["smtp", "imap"]);
    assert_eq!(
        kept.updates.last().unwrap().message,
        "Mail submission and Mailbox access are affected because Network is down."
    );
    assert!(!merged.is_open());
    assert_eq!(
        merged.updates.last().unwrap().message,
        format!(
            "Merged into incident #{}: the probable root cause is Network.",
            kept.id
        )
    );
    assert_eq!(harness.count(EventKind::IncidentOpened), 2);
    assert_eq!(harness.count(EventKind::IncidentUpdated), 1);
    assert_eq!(harness.count(EventKind::IncidentResolved), 1);

    // Restart mid-incident: the joined components are still known as such.
    let mut harness = harness.restart(40).await;
    harness
        .feed(60, &[("network", true), ("smtp", true), ("imap", true)])
        .await;
    harness
        .feed(65, &[("network", true), ("smtp", true), ("imap", true)])
        .await;
    let kept = &harness.incidents().await[0];
    assert!(!kept.is_open(), "{kept:#?}");
    assert_eq!(harness.incidents().await.len(), 2);
    assert_eq!(harness.count(EventKind::IncidentResolved), 2);
}

#[tokio::test]
async fn a_dependent_still_failing_after_its_root_recovered_is_split_out() {
    let mut harness = Harness::new().await;
    harness.feed(0, &all(true)).await;
    harness.feed(10, &all(false)).await;
    harness.feed(15, &all(false)).await;
    harness.tick(50).await;
    // The network comes back; IMAP (and so webmail) does not.
    harness
        .feed(60, &[("network", true), ("smtp", true), ("mailflow", true)])
        .await;
    harness
        .feed(
            65,
            &[
                ("network", true),
                ("smtp", true),
                ("mailflow", true),
                ("imap", false),
                ("webmail", false),
            ],
        )
        .await;
    harness.tick(100).await;
    let root = &harness.incidents().await[0];
    assert!(root.is_open());
    assert_eq!(
        root.updates.last().unwrap().message,
        "Network is operating normally again; Mailbox access and Webmail are still affected."
    );
    harness.tick(120).await;
    assert_eq!(
        harness.incidents().await.len(),
        1,
        "within the window: still one"
    );
    harness.tick(126).await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 2, "{incidents:#?}");
    let (root, split) = (&incidents[0], &incidents[1]);
    assert!(!root.is_open(), "everything left is followed elsewhere");
    assert_eq!(split.component, ComponentId::new("imap"));
    assert_eq!(
        split.title,
        "Mailbox access still failing after Network recovered"
    );
    assert!(split.is_open());
    assert_eq!(
        affected(split),
        ["webmail"],
        "webmail follows its own root, IMAP"
    );
    assert_eq!(
        timeline(root, TimelineKind::Split),
        [
            format!(
                "Mailbox access still failing after Network recovered: followed in incident #{}",
                split.id
            ),
            format!(
                "Webmail still failing after Network recovered: followed in incident #{}",
                split.id
            ),
        ]
    );
    assert_eq!(
        timeline(split, TimelineKind::Split),
        [format!(
            "Split from incident #{}: still failing after Network recovered",
            root.id
        )]
    );
    assert_eq!(harness.count(EventKind::IncidentOpened), 2);
    assert_eq!(harness.count(EventKind::IncidentResolved), 1);
    harness
        .feed(130, &[("imap", true), ("webmail", true)])
        .await;
    harness
        .feed(135, &[("imap", true), ("webmail", true)])
        .await;
    assert!(harness
        .incidents()
        .await
        .iter()
        .all(|incident| !incident.is_open()));
    assert_eq!(harness.count(EventKind::IncidentResolved), 2);
}

#[tokio::test]
async fn a_flapping_root_keeps_its_one_incident() {
    let mut harness = Harness::new().await;
    harness.feed(0, &all(true)).await;
    harness.feed(10, &all(false)).await;
    harness.feed(15, &all(false)).await;
    for (second, is_up) in [
        (20, true),
        (25, true),
        (30, false),
        (35, false),
        (40, true),
        (45, true),
        (50, false),
        (55, false),
    ] {
        harness.feed(second, &[("network", is_up)]).await;
    }
    harness.tick(200).await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert!(incidents[0].is_open());
    assert_eq!(incidents[0].impact, ComponentStatus::MajorOutage);
    assert_eq!(affected(&incidents[0]), DEPENDENTS);
    assert_eq!(harness.count(EventKind::IncidentOpened), 1);
    assert_eq!(harness.count(EventKind::IncidentResolved), 0);
}

#[tokio::test]
async fn when_every_check_fails_pharos_blames_its_own_network_and_opens_nothing() {
    let mut harness = Harness::new().await;
    harness.feed(0, &all(true)).await;
    harness.website_up = false;
    let mut everything = all(false);
    everything.push(("website", false));
    harness.feed(10, &everything).await;
    harness.feed(15, &everything).await;
    harness.tick(100).await;
    harness.feed(120, &everything).await;
    assert!(harness.incidents().await.is_empty());
    assert_eq!(harness.count(EventKind::PharosDegraded), 1, "told once");
    assert_eq!(harness.count(EventKind::IncidentOpened), 0);

    // The network is back, but the website is not: that one is real.
    harness.feed(130, &all(true)).await;
    harness.feed(135, &all(true)).await;
    harness.feed(140, &[("website", false)]).await;
    harness.feed(145, &[("website", false)]).await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0].component, ComponentId::new("website"));
}

#[tokio::test]
async fn an_isolated_failure_with_no_fresh_evidence_asks_other_components_first() {
    let mut harness = Harness::new().await;
    harness.feed(0, &all(true)).await;
    harness.website_up = false;
    harness.feed(10, &[("website", false)]).await;
    let asked = harness.feed(15, &[("website", false)]).await;
    assert!(
        harness.incidents().await.is_empty(),
        "nothing else checked since: is it pharos or the website?"
    );
    assert_eq!(
        asked.len(),
        5,
        "one check of each other component: {asked:?}"
    );
    let rechecks = harness.feed(16, &[]).await;
    assert!(rechecks.is_empty(), "asked once");
    harness.feed(16, &[("network", true)]).await;
    harness.tick(17).await;
    let incidents = harness.incidents().await;
    assert_eq!(
        incidents.len(),
        1,
        "another check answered: the website is down"
    );
    assert_eq!(incidents[0].started_at, at(10));
}
