//! One configuration's running parts: the engine, the outbox worker and the renderer. A
//! reload stops the running generation (the writer saves everything queued) and starts the
//! next from the new configuration; detector state carries over by monitor id, because the
//! engine resumes from what the store holds.

use crate::leadership::{Leadership, Role};
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
    /// Whether it runs the engine or follows the leader's writes.
    pub(crate) role: Role,
    replica: Option<String>,
}

/// What every generation shares.
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) pages: PageCache,
    pub(crate) outbox_wake: Arc<Notify>,
    /// The process-wide shutdown, which stops the running generation too.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// This replica in the election, when several may share the database.
    pub(crate) leadership: Option<Leadership>,
}

impl Generation {
    pub(crate) async fn start(
        config: Arc<Config>,
        shared: &Shared,
        role: Role,
    ) -> anyhow::Result<Self> {
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
        let engine = match role {
            Role::Leader => Engine::start(
                &config,
                shared.store.clone(),
                shared.outbox_wake.clone(),
                stopping.clone(),
                EngineOptions::default(),
            )
            .await
            .context("cannot start monitoring")?,
            Role::Follower => Engine::follow(&config, shared.store.clone(), stopping.clone())
                .await
                .context("cannot read the leader's state")?,
        };
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
        if role == Role::Leader {
            let mut worker = OutboxWorker::new(
                shared.store.clone(),
                engine.handle.topology.notifier.clone(),
                shared.outbox_wake.clone(),
            );
            if let Some(leadership) = shared.leadership.clone() {
                worker = worker.with_gate(Arc::new(move || leadership.may_deliver()));
            }
            tasks.spawn("outbox worker", worker.run(stopping.clone()));
        }
        tasks.spawn("renderer", renderer.run(stopping.clone()));
        Ok(Self {
            config,
            engine,
            tasks,
            stop,
            stopping,
            role,
            replica: shared
                .leadership
                .as_ref()
                .map(|leadership| leadership.replica.clone()),
        })
    }

    /// What the web server follows of this generation.
    pub(crate) fn current(&self) -> Current {
        Current {
            admin_token: self.config.server.admin_token.clone(),
            engine: self.engine.handle.clone(),
            trusted_proxies: self.config.server.trusted_proxies.clone(),
            assignments: Arc::new(self.config.assignments.clone()),
            replica: self.replica.clone().map(|id| pharos_web::Replica {
                id,
                leading: self.role == Role::Leader,
            }),
            https_host: self
                .config
                .server
                .public_url
                .as_ref()
                .filter(|url| url.scheme() == "https")
                .and_then(|url| {
                    let host = url.host_str()?;
                    Some(match url.port() {
                        Some(port) => format!("{host}:{port}"),
                        None => host.to_owned(),
                    })
                }),
        }
    }

    /// Stops it, once everything it queued is saved.
    pub(crate) async fn stop(self) {
        self.stop.send_replace(true);
        self.engine.join().await;
        self.tasks.join().await;
    }
}
