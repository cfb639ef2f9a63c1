//! A follower tells the renderer only of what the leader changed: an idle one does not have
//! its pages rendered every second.

use crate::detection::{at, down, up, CONFIG};
use pharos_core::{ComponentId, ComponentStatus, MonitorId};
use pharos_engine::Engine;
use pharos_store::{Batch, ResultRecord};
use std::time::Duration;
use tokio::sync::watch;

/// Waits for `version` to move past `seen`; `None` when it did not within `within`.
async fn moved(version: &mut watch::Receiver<u64>, seen: u64, within: Duration) -> Option<u64> {
    tokio::time::timeout(within, version.wait_for(|now| *now > seen))
        .await
        .ok()
        .and_then(Result::ok)
        .map(|now| *now)
}

#[tokio::test]
async fn a_follower_tells_the_renderer_only_of_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::support::open_store(&dir.path().join("pharos.db")).await;
    let config = pharos_config::parse("follower.toml", CONFIG, &|_| None).unwrap();
    let (_stop, shutdown) = watch::channel(false);
    let engine = Engine::follow(&config, store.clone(), shutdown)
        .await
        .unwrap();
    let mut status = engine.handle.status_version.clone();
    let mut results = engine.handle.results_version.clone();
    let (status_seen, results_seen) = (*status.borrow(), *results.borrow());

    // Nothing committed: three reads later, nothing to render again.
    let idle = Duration::from_millis(3_500);
    assert_eq!(moved(&mut status, status_seen, idle).await, None);
    assert_eq!(*results.borrow(), results_seen);

    // The leader saves a result: newer results, same statuses.
    let result = |second, outcome| ResultRecord {
        monitor: MonitorId::new("web"),
        at: at(second),
        outcome,
    };
    store
        .commit(&Batch {
            results: vec![result(1, up())],
            ..Batch::default()
        })
        .await
        .unwrap();
    let within = Duration::from_secs(5);
    let results_seen = moved(&mut results, results_seen, within)
        .await
        .expect("a new result is told");
    assert_eq!(*status.borrow(), status_seen, "no status changed");

    // The leader saves a status change: told too.
    store
        .commit(&Batch {
            results: vec![result(2, down())],
            component_status: vec![(ComponentId::new("web"), ComponentStatus::MajorOutage, at(2))],
            ..Batch::default()
        })
        .await
        .unwrap();
    let status_seen = moved(&mut status, status_seen, within)
        .await
        .expect("a status change is told");
    moved(&mut results, results_seen, within)
        .await
        .expect("and its result");
    assert_eq!(
        engine.handle.live.read().unwrap().components[&ComponentId::new("web")].0,
        ComponentStatus::MajorOutage
    );
    assert_eq!(
        moved(&mut status, status_seen, idle).await,
        None,
        "then quiet again"
    );
}
