//! Regression tests, each named after the bug it keeps fixed.

use pharos_store::{IncidentQuery, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Before: detection and the first failure were stamped with the time the run *started*,
/// so a slow failing run (a mail flow waiting for its deadline) announced an incident
/// "detected" seconds before it was, and time to detect was understated by the run's length.
#[tokio::test]
async fn detection_is_timed_when_the_confirming_run_ends() {
    // Accepts, says nothing for 2 s, then hangs up: every run fails after 2 s.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(2)).await;
                drop(stream);
            });
        }
    });
    let config = pharos_config::parse(
        "slow.toml",
        &format!(
            "[[components]]\nid = \"svc\"\nname = \"Service\"\n\n[[monitors]]\nid = \"slow\"\ncomponent = \"svc\"\ntype = \"tcp\"\n\
             host = \"127.0.0.1\"\nport = {port}\nexpect = \"220\"\ninterval = \"10s\"\ntimeout = \"5s\"\nconfirm_delay = \"300ms\"\n"
        ),
        &|_| None,
    )
    .unwrap();
    let running = crate::support::Running::start(&config).await;
    let (engine, store) = (&running.engine, running.store.clone());
    let mut version = engine.handle.status_version.clone();
    tokio::time::timeout(Duration::from_secs(10), version.changed())
        .await
        .expect("an incident within 10 s")
        .unwrap();
    let seen = chrono::Utc::now();
    let incidents = store.incidents(IncidentQuery::default()).await.unwrap();
    assert_eq!(incidents.len(), 1);
    let incident = &incidents[0];
    let lag = (seen - incident.detected_at).to_std().unwrap_or_default();
    assert!(
        lag < Duration::from_millis(1000),
        "detected_at is {lag:?} before the incident existed"
    );
    // From the end of the first failing run to the end of the confirming one: the confirm
    // delay plus a whole 2 s run.
    let time_to_detect = incident.time_to_detect();
    assert!(
        time_to_detect >= Duration::from_millis(2200)
            && time_to_detect < Duration::from_millis(3500),
        "{time_to_detect:?}"
    );
    let results = store
        .recent_results(&pharos_core::MonitorId::new("slow"), 10)
        .await
        .unwrap();
    assert!(results
        .iter()
        .any(|result| result.at == incident.detected_at));
    assert!(results
        .iter()
        .any(|result| result.at == incident.started_at));
    running.stop().await;
}

/// Before: incident ids came from the highest id saved, so after a lost tail of writes the
/// next incident took an id already shown (and announced) for another. Ids now come from
/// blocks reserved in the store before use.
#[tokio::test]
async fn incident_ids_are_never_reused_after_a_lost_tail_of_writes() {
    let config = pharos_config::parse(
        "ids.toml",
        "[[components]]\nid = \"svc\"\nname = \"Service\"\n\n[[monitors]]\nid = \"svc-tcp\"\ncomponent = \"svc\"\n\
         type = \"tcp\"\nhost = \"127.0.0.1\"\nport = 9\n",
        &|_| None,
    )
    .unwrap();
    let topology = Arc::new(pharos_engine::Topology::from_config(&config));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ids.db");
    let at = |second: i64| chrono::DateTime::from_timestamp(1_800_000_000 + second, 0).unwrap();
    let down = || pharos_core::Outcome::down(Duration::from_millis(1), vec![], "refused");
    let open_one = |store: Arc<dyn Store>| {
        let topology = topology.clone();
        async move {
            let mut state = store.load_engine_state().await.unwrap();
            state.incident_ids = store.reserve_incident_ids(16).await.unwrap();
            let mut evaluator = pharos_engine::Evaluator::new(topology, state, at(0));
            let mut batch = pharos_store::Batch::default();
            evaluator.observe(0, at(1), down(), &mut batch);
            evaluator.observe(0, at(6), down(), &mut batch);
            batch.new_incidents[0].id
        }
    };
    // An incident opens, is shown, and its batch is never saved.
    let lost = open_one(crate::support::open_store(&path).await).await;
    // After a restart the next incident takes another id.
    let next = open_one(crate::support::open_store(&path).await).await;
    assert_ne!(lost, next, "incident #{lost} was handed out twice");
}
