//! A running engine on a fresh SQLite file: first runs at once, no background maintenance.

use pharos_config::Config;
use pharos_engine::{Engine, EngineOptions};
use pharos_store::{SqliteStore, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

pub(crate) struct Running {
    pub(crate) engine: Engine,
    pub(crate) store: Arc<dyn Store>,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

impl Running {
    pub(crate) async fn start(config: &Config) -> Self {
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
