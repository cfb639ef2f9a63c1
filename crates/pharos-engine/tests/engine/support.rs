//! The stores the engine's tests write into (a SQLite file, or a PostgreSQL database when
//! `PHAROS_TEST_BACKEND=postgres`, as `.ci/run` runs them a second time), and a running engine
//! on a fresh one: first runs at once, no background maintenance.

use pharos_config::Config;
use pharos_engine::{Engine, EngineOptions};
use pharos_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

pub(crate) use crate::test_store::open_store;

pub(crate) struct Running {
    pub(crate) engine: Engine,
    pub(crate) store: Arc<dyn Store>,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Running {
    pub(crate) async fn start(config: &Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(&dir.path().join("p.db")).await;
        let (stop, shutdown) = watch::channel(false);
        let options = EngineOptions {
            splay: Duration::ZERO,
            maintenance: false,
            ..EngineOptions::default()
        };
        let engine = Engine::start(
            config,
            store.clone(),
            Arc::new(Notify::new()),
            shutdown,
            options,
        )
        .await
        .unwrap();
        Self {
            engine,
            store,
            stop,
            _dir: dir,
        }
    }

    /// Stops the engine once its queued work is saved.
    pub(crate) async fn stop(self) {
        self.stop.send(true).unwrap();
        self.engine.join().await;
    }
}
