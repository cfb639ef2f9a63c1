//! The pharos engine: schedules every monitor's probe, feeds results through detection and
//! the incident logic, and hands each step to a single writer that commits it atomically.
//!
//! Data flows one way: scheduler → probe → evaluator → batch → writer → store, with the
//! live view and a status version published for the page renderer and a wake-up for the
//! outbox worker.

mod agents;
mod by_hand;
mod command;
mod correlation;
mod dirty;
mod engine_loop;
mod evaluator;
mod follower;
mod live;
mod maintenance;
mod metrics;
mod provider_word;
mod regional;
pub mod runs;
pub mod scheduler;
mod topology;
pub mod watches;
mod windows;
mod writer;

pub use by_hand::Amendment;
pub use command::{AgentAnswer, CommandError};
pub use evaluator::Evaluator;
pub use live::{LatestResult, LiveState, RegionCell, StoreFault};
pub use metrics::SchedulerMetrics;
pub use topology::Topology;

use chrono::Utc;
use pharos_config::Config;
use pharos_probe::Prober;
use pharos_store::{Batch, Retention, Store, StoreError};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinSet;

/// Incident ids are reserved in the store this many at a time, and topped up when fewer
/// than half are left; a restart skips at most the unused rest of a block.
pub(crate) const INCIDENT_ID_BLOCK: u32 = 16;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("monitor `{monitor}`: {error}")]
    Probe {
        monitor: String,
        error: pharos_probe::SetupError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct EngineOptions {
    /// Probes running at once, at most.
    pub concurrency: usize,
    /// First runs are spread over at most this long after start.
    pub splay: Duration,
    /// Run roll-ups and retention in the background.
    pub maintenance: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            concurrency: 1024,
            splay: Duration::from_secs(30),
            maintenance: true,
        }
    }
}

/// What the rest of pharos sees of a running engine.
#[derive(Clone)]
pub struct EngineHandle {
    pub topology: Arc<Topology>,
    pub live: Arc<RwLock<LiveState>>,
    /// Bumped after every committed change of statuses or incidents.
    pub status_version: watch::Receiver<u64>,
    /// Bumped after every committed batch of probe results.
    pub results_version: watch::Receiver<u64>,
    pub metrics: Arc<SchedulerMetrics>,
    commands: mpsc::Sender<command::Command>,
}

impl EngineHandle {
    /// Hands a probe agent's report (its token already checked) to the engine; returns once
    /// its results are stored.
    pub async fn agent_report(
        &self,
        agent: String,
        token_made: chrono::DateTime<Utc>,
        report: pharos_wire::AgentReport,
    ) -> Result<AgentAnswer, CommandError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.commands
            .send(command::Command::AgentReport {
                agent,
                token_made,
                report,
                reply,
            })
            .await
            .map_err(|_| CommandError::Stopping)?;
        answer.await.unwrap_or(Err(CommandError::Stopping))
    }

    /// Posts an operator's update on an open incident; returns once it is saved (and its
    /// notifications are queued).
    pub async fn post_update(
        &self,
        incident: i64,
        phase: pharos_core::IncidentPhase,
        message: String,
    ) -> Result<pharos_core::IncidentUpdate, CommandError> {
        self.amend(
            incident,
            Amendment {
                update: pharos_core::OperatorUpdate {
                    phase,
                    message,
                    expected_by: None,
                    next_update_by: None,
                },
                title: None,
                impact: None,
                affected: Vec::new(),
                by: "an operator".into(),
            },
        )
        .await
    }

    /// Posts an operator's update (with times, a title, an impact); answers once saved.
    pub async fn amend(
        &self,
        incident: i64,
        amendment: Amendment,
    ) -> Result<pharos_core::IncidentUpdate, CommandError> {
        self.ask(|reply| command::Command::Amend {
            incident,
            amendment,
            reply,
        })
        .await
    }

    /// Opens an incident by hand; answers once saved.
    pub async fn declare(
        &self,
        declaration: pharos_core::Declaration,
    ) -> Result<pharos_core::Incident, CommandError> {
        self.ask(|reply| command::Command::Declare { declaration, reply })
            .await
    }

    /// Resolves an open incident by hand; answers once saved.
    pub async fn resolve(
        &self,
        incident: i64,
        message: String,
        by: String,
    ) -> Result<pharos_core::Incident, CommandError> {
        self.ask(|reply| command::Command::Resolve {
            incident,
            message,
            by,
            reply,
        })
        .await
    }

    /// Corrects (`Some`) or deletes (`None`) an update of an incident as stored; answers the
    /// update as it was, once saved.
    pub async fn edit_update(
        &self,
        incident: pharos_core::Incident,
        posted_at: chrono::DateTime<chrono::Utc>,
        message: Option<String>,
    ) -> Result<pharos_core::IncidentUpdate, CommandError> {
        self.ask(|reply| command::Command::EditUpdate {
            incident: Box::new(incident),
            posted_at,
            message,
            reply,
        })
        .await
    }

    /// Marks an incident (as stored) a false alarm; answers once saved.
    pub async fn false_alarm(
        &self,
        incident: pharos_core::Incident,
        reason: String,
        by: String,
    ) -> Result<pharos_core::Incident, CommandError> {
        self.ask(|reply| command::Command::FalseAlarm {
            incident: Box::new(incident),
            reason,
            by,
            reply,
        })
        .await
    }

    /// Schedules a maintenance window; answers once saved.
    pub async fn schedule_maintenance(
        &self,
        window: pharos_core::maintenance::MaintenanceWindow,
        by: String,
    ) -> Result<pharos_core::maintenance::MaintenanceWindow, CommandError> {
        self.ask(|reply| command::Command::ScheduleMaintenance {
            window: Box::new(window),
            by,
            reply,
        })
        .await
    }

    /// Cancels a scheduled maintenance window; answers once saved.
    pub async fn cancel_maintenance(
        &self,
        id: String,
        by: String,
    ) -> Result<pharos_core::maintenance::MaintenanceWindow, CommandError> {
        self.ask(|reply| command::Command::CancelMaintenance { id, by, reply })
            .await
    }

    /// Writes an incident's postmortem; answers once saved.
    pub async fn set_postmortem(&self, incident: i64, text: String) -> Result<(), CommandError> {
        self.ask(|reply| command::Command::SetPostmortem {
            incident,
            text,
            reply,
        })
        .await
    }

    /// Reopens a resolved incident (as stored) by hand; answers once saved.
    pub async fn reopen(
        &self,
        incident: pharos_core::Incident,
        update: pharos_core::OperatorUpdate,
        by: String,
    ) -> Result<pharos_core::Incident, CommandError> {
        self.ask(|reply| command::Command::Reopen {
            incident: Box::new(incident),
            update,
            by,
            reply,
        })
        .await
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(tokio::sync::oneshot::Sender<Result<T, CommandError>>) -> command::Command,
    ) -> Result<T, CommandError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.commands
            .send(command(reply))
            .await
            .map_err(|_| CommandError::Stopping)?;
        answer.await.unwrap_or(Err(CommandError::Stopping))
    }
}

/// How a long-running task ended.
#[derive(Debug)]
pub enum TaskEnd {
    Returned(&'static str),
    /// It panicked (or was cancelled): the message says how.
    Failed(String),
}

pub struct Engine {
    pub handle: EngineHandle,
    /// The engine's long-running tasks, each returning its name when it ends.
    tasks: JoinSet<&'static str>,
}

impl Engine {
    /// Prepares every probe, resumes from the store, and starts scheduling.
    pub async fn start(
        config: &Config,
        store: Arc<dyn Store>,
        outbox_wake: Arc<Notify>,
        shutdown: watch::Receiver<bool>,
        options: EngineOptions,
    ) -> Result<Self, EngineError> {
        let mut probers = Vec::with_capacity(config.monitors.len());
        for monitor in &config.monitors {
            let prober = Prober::new(monitor).map_err(|error| EngineError::Probe {
                monitor: monitor.id.to_string(),
                error,
            })?;
            probers.push(prober);
        }
        let topology = Arc::new(Topology::from_config(config));
        let mut state = store.load_engine_state().await?;
        let agent_records = store.agents().await?;
        state.incident_ids = store.reserve_incident_ids(INCIDENT_ID_BLOCK).await?;
        let now = Utc::now();
        let mut evaluator = Evaluator::new(topology.clone(), state, now);
        let mut startup = Batch::default();
        evaluator.reconcile(now, &mut startup);
        store.commit(&startup).await?;
        if !startup.outbox.is_empty() {
            outbox_wake.notify_one();
        }

        let mut live = LiveState::default();
        for (index, component) in topology.components.iter().enumerate() {
            live.components
                .insert(component.id.clone(), evaluator.component_status(index));
        }
        live.open_incidents = evaluator.open_incidents().cloned().collect();
        live.open_incidents
            .sort_by_key(|incident| std::cmp::Reverse(incident.id));
        live.maintenance = evaluator.maintenance_windows();
        let live = Arc::new(RwLock::new(live));
        let metrics = Arc::new(SchedulerMetrics::default());
        let (version_sender, status_version) = watch::channel(0u64);
        let (results_sender, results_version) = watch::channel(0u64);
        let (batch_sender, batch_receiver) = mpsc::channel(256);
        let (command_sender, command_receiver) = mpsc::channel(64);

        let mut tasks = JoinSet::new();
        let writer = writer::run_writer(
            writer::WriterContext {
                store: store.clone(),
                live: live.clone(),
                status_version: version_sender,
                results_version: results_sender,
                outbox_wake,
                shutdown: shutdown.clone(),
            },
            batch_receiver,
        );
        tasks.spawn(async move {
            writer.await;
            "writer"
        });
        let engine_loop = engine_loop::EngineLoop::new(engine_loop::Parts {
            agent_records,
            topology: topology.clone(),
            probers: Arc::new(probers),
            evaluator,
            store: store.clone(),
            live: live.clone(),
            metrics: metrics.clone(),
            batches: batch_sender,
            commands: command_receiver,
            concurrency: options.concurrency,
            splay: options.splay,
            shutdown: shutdown.clone(),
        });
        tasks.spawn(async move {
            engine_loop.run().await;
            "engine loop"
        });
        if options.maintenance {
            let retention = Retention {
                raw_results: config.retention.raw_results,
                minute_rollups: Duration::from_secs(14 * 86_400),
                rollups: config.retention.rollups,
                messages: Duration::from_secs(30 * 86_400),
            };
            let maintaining = maintenance::run_maintenance(store, retention, shutdown);
            tasks.spawn(async move {
                maintaining.await;
                "maintenance"
            });
        }
        Ok(Self {
            handle: EngineHandle {
                topology,
                live,
                status_version,
                results_version,
                metrics,
                commands: command_sender,
            },
            tasks,
        })
    }

    /// Waits until one of the engine's tasks ends (which before shutdown is a fault) and
    /// says which, and whether it panicked.
    pub async fn first_to_stop(&mut self) -> TaskEnd {
        match self.tasks.join_next().await {
            Some(Ok(name)) => TaskEnd::Returned(name),
            Some(Err(error)) => TaskEnd::Failed(error.to_string()),
            None => std::future::pending().await,
        }
    }

    /// Waits for the engine to stop after shutdown; the writer finishes every queued batch.
    pub async fn join(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }
}
