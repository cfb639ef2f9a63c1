//! One configuration's running parts: the engine, the outbox worker and the renderer. A
//! reload stops the running generation (the writer saves everything queued) and starts the
//! next from the new configuration; detector state carries over by monitor id, because the
//! engine resumes from what the store holds.

use crate::supervise::Supervisor;
use anyhow::Context as _;
use pharos_config::Config;
use pharos_engine::{Engine, EngineOptions};
use pharos_notify::OutboxWorker;
use pharos_store::Store;
use pharos_web::{Current, PageCache, Renderer};
use std::sync::Arc;
use tokio::sync::{watch, Notify};

pub(crate) struct Generation {
    pub(crate) config: Arc<Config>,
    pub(crate) engine: Engine,
    pub(crate) tasks: Supervisor,
    stop: Arc<watch::Sender<bool>>,
    /// True once this generation is asked to stop (for a reload or at shutdown).
    pub(crate) stopping: watch::Receiver<bool>,
}

/// What every generation shares.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) pages: PageCache,
    pub(crate) outbox_wake: Arc<Notify>,
    /// The process-wide shutdown, which stops the running generation too.
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl Generation {
    pub(crate) async fn start(config: Arc<Config>, shared: &Shared) -> anyhow::Result<Self> {
        let (stop, stopping) = watch::channel(*shared.shutdown.borrow());
        let stop = Arc::new(stop);
        {
            let stop = stop.clone();
            let mut shutdown = shared.shutdown.clone();
            tokio::spawn(async move {
                let _ = shutdown.wait_for(|stopping| *stopping).await;
                stop.send_replace(true);
            });
        }
        let engine = Engine::start(
            &config,
            shared.store.clone(),
            shared.outbox_wake.clone(),
            stopping.clone(),
            EngineOptions::default(),
        )
        .await
        .context("cannot start monitoring")?;
        let renderer = Renderer::new(
            config.clone(),
            shared.store.clone(),
            engine.handle.clone(),
            shared.pages.clone(),
        );
        if let Err(error) = renderer.render().await {
            stop.send_replace(true);
            engine.join().await;
            return Err(error).context("cannot render the status page");
        }
        let mut tasks = Supervisor::default();
        tasks.spawn(
            "outbox worker",
            OutboxWorker::new(
                shared.store.clone(),
                engine.handle.topology.notifier.clone(),
                shared.outbox_wake.clone(),
            )
            .run(stopping.clone()),
        );
        tasks.spawn("renderer", renderer.run(stopping.clone()));
        Ok(Self {
            config,
            engine,
            tasks,
            stop,
            stopping,
        })
    }

    /// What the web server follows of this generation.
    pub(crate) fn current(&self) -> Current {
        Current {
            admin_token: self.config.server.admin_token.clone(),
            engine: self.engine.handle.clone(),
            trusted_proxies: self.config.server.trusted_proxies.clone(),
            assignments: Arc::new(self.config.assignments.clone()),
        }
    }

    /// Stops it, once everything it queued is saved.
    pub(crate) async fn stop(self) {
        self.stop.send_replace(true);
        self.engine.join().await;
        self.tasks.join().await;
    }
}
