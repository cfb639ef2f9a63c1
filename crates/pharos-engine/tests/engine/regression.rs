//! Regression tests, each named after the bug it keeps fixed.

use pharos_engine::{Engine, EngineOptions};
use pharos_store::{IncidentQuery, SqliteStore, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

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
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(dir.path().join("p.db").to_str().unwrap())
            .await
            .unwrap(),
    );
    let (stop, shutdown) = watch::channel(false);
    let options = EngineOptions {
        splay: Duration::ZERO,
        maintenance: false,
        ..EngineOptions::default()
    };
    let engine = Engine::start(
        &config,
        store.clone(),
        Arc::new(Notify::new()),
        shutdown,
        options,
    )
    .await
    .unwrap();
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
    stop.send(true).unwrap();
    engine.join().await;
}
