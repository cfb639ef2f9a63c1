//! Monitors checked from several regions, driven result by result with chosen times on a
//! real SQLite file: one region failing is a localized partial outage, a quorum of regions a
//! widespread major one, silent regions do not vote, and the scope follows the incident.

use chrono::{DateTime, TimeZone, Utc};
use pharos_core::regions::Reach;
use pharos_core::{ComponentStatus, Outcome};
use pharos_engine::{Evaluator, Topology};
use pharos_store::{Batch, IncidentQuery, Store};
use std::sync::Arc;
use std::time::Duration;

const CONFIG: &str = r#"
[server]
region = "home"

[defaults]
regions = ["home", "eu-west", "us-east"]

[[components]]
id = "mail"
name = "Mail"

[[monitors]]
id = "smtp"
component = "mail"
type = "tcp"
host = "127.0.0.1"
port = 25

[[channels]]
id = "ops"
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
events = ["incident.opened", "incident.updated", "incident.resolved"]
"#;

fn at(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap()
}

fn down() -> Outcome {
    Outcome::down(Duration::from_millis(1), vec![], "connection refused")
}

fn up() -> Outcome {
    Outcome::up(Duration::from_millis(1), vec![])
}

struct Harness {
    store: Arc<dyn Store>,
    topology: Arc<Topology>,
    evaluator: Evaluator,
    _dir: tempfile::TempDir,
}

impl Harness {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pharos.db");
        let config = pharos_config::parse("regions.toml", CONFIG, &|_| None).unwrap();
        let topology = Arc::new(Topology::from_config(&config));
        let store = crate::support::open_store(&path).await;
        let mut state = store.load_engine_state().await.unwrap();
        state.incident_ids = store.reserve_incident_ids(64).await.unwrap();
        let evaluator = Evaluator::new(topology.clone(), state, at(0));
        Self {
            store,
            topology,
            evaluator,
            _dir: dir,
        }
    }

    async fn feed(&mut self, region: &str, second: i64, outcome: Outcome) -> Batch {
        let region = self.topology.region_index(region).unwrap();
        let mut batch = Batch::default();
        self.evaluator
            .observe_from(0, region, at(second), outcome, &mut batch);
        self.evaluator.settle(at(second), &mut batch);
        self.evaluator.flush(&mut batch);
        self.store.commit(&batch).await.unwrap();
        batch
    }

    /// Every region reports twice, five seconds apart.
    async fn everywhere(&mut self, second: i64, outcome: fn() -> Outcome) {
        for offset in [0, 5] {
            for region in ["home", "eu-west", "us-east"] {
                self.feed(region, second + offset, outcome()).await;
            }
        }
    }

    fn status(&self) -> ComponentStatus {
        self.evaluator.component_status(0).0
    }

    async fn open_incident(&self) -> Option<pharos_core::Incident> {
        self.store
            .incidents(IncidentQuery {
                since: None,
                limit: 10,
            })
            .await
            .unwrap()
            .into_iter()
            .find(|incident| incident.is_open())
    }
}

#[tokio::test]
async fn one_region_failing_is_a_localized_partial_outage_and_all_a_widespread_major_one() {
    let mut harness = Harness::new().await;
    harness.everywhere(0, up).await;
    assert_eq!(harness.status(), ComponentStatus::Operational);

    harness.feed("eu-west", 30, down()).await;
    harness.feed("eu-west", 35, down()).await;
    assert_eq!(
        harness.status(),
        ComponentStatus::PartialOutage,
        "down in one of three regions: not a major outage under the default majority"
    );
    let incident = harness.open_incident().await.expect("an incident opens");
    let scope = incident.scope.clone().expect("with its scope");
    assert_eq!(scope.reach, Reach::Localized);
    assert_eq!(scope.regions, vec!["eu-west"]);
    assert!(
        incident.updates[0].message.contains("users in eu-west"),
        "{}",
        incident.updates[0].message
    );

    for region in ["home", "us-east"] {
        harness.feed(region, 40, down()).await;
        harness.feed(region, 45, down()).await;
    }
    assert_eq!(harness.status(), ComponentStatus::MajorOutage);
    // The scope change is told once the settle window has passed since the last update.
    let batch = harness.feed("eu-west", 200, down()).await;
    assert!(!batch.outbox.is_empty(), "the reach change is announced");
    let incident = harness.open_incident().await.unwrap();
    assert_eq!(incident.scope.as_ref().unwrap().reach, Reach::Widespread);
    assert!(incident
        .updates
        .iter()
        .any(|update| update.message.contains("widespread")));

    harness.everywhere(300, up).await;
    assert_eq!(harness.status(), ComponentStatus::Operational);
    assert!(harness.open_incident().await.is_none(), "resolved");
}

#[tokio::test]
async fn a_silent_region_does_not_vote_and_coming_back_it_counts_again() {
    let mut harness = Harness::new().await;
    harness.everywhere(0, up).await;
    let us = harness.topology.region_index("us-east").unwrap();
    let mut batch = Batch::default();
    assert!(harness
        .evaluator
        .set_region_silent(us, true, at(20), &mut batch));
    assert!(batch.outbox.is_empty(), "silence alone opens nothing");
    assert_eq!(harness.status(), ComponentStatus::Operational);
    // Two regions vote; one of them failing is not a majority of two: partial.
    harness.feed("eu-west", 30, down()).await;
    harness.feed("eu-west", 35, down()).await;
    assert_eq!(harness.status(), ComponentStatus::PartialOutage);
    assert_eq!(
        harness.evaluator.region_views(0)[2].1,
        None,
        "us-east cannot vote while silent"
    );
    // The server's own region is never silent: it is this process.
    assert!(!harness
        .evaluator
        .set_region_silent(0, true, at(40), &mut Batch::default()));
    let mut batch = Batch::default();
    harness
        .evaluator
        .set_region_silent(us, false, at(50), &mut batch);
    assert_eq!(
        harness.evaluator.region_views(0)[2].1,
        Some(pharos_core::ProbeStatus::Up),
        "back: its last word counts again"
    );
}

#[tokio::test]
async fn a_late_or_repeated_result_changes_nothing() {
    let mut harness = Harness::new().await;
    harness.everywhere(0, up).await;
    harness.feed("eu-west", 30, down()).await;
    // Delivered again, and an older one arriving late.
    harness.feed("eu-west", 30, down()).await;
    harness.feed("eu-west", 20, down()).await;
    assert_eq!(harness.status(), ComponentStatus::Operational);
    assert!(harness.open_incident().await.is_none());
}

#[tokio::test]
async fn region_results_are_kept_as_their_own_series() {
    let mut harness = Harness::new().await;
    harness.feed("home", 0, up()).await;
    harness.feed("eu-west", 1, down()).await;
    let home = harness
        .store
        .recent_results(&pharos_core::MonitorId::new("smtp"), 10)
        .await
        .unwrap();
    let eu = harness
        .store
        .recent_results(&pharos_core::MonitorId::new("smtp@eu-west"), 10)
        .await
        .unwrap();
    assert_eq!((home.len(), eu.len()), (1, 1));
    assert_eq!(eu[0].outcome.status, pharos_core::ProbeStatus::Down);
}
