//! The engine's main loop: one closed set of events (`LoopEvent`), waited for by
//! `next_event` and handled one at a time by `handle_event`. Probe results go through the
//! evaluator into a batch for the writer; operator commands and reminders take the same road,
//! so the engine's state has one owner and one order of changes.

use crate::command::{Command, CommandError};
use crate::evaluator::Evaluator;
use crate::live::{LatestResult, LiveState};
use crate::metrics::SchedulerMetrics;
use crate::runs::{launch, Finished};
use crate::scheduler::Grid;
use crate::topology::Topology;
use crate::writer::Job;
use crate::INCIDENT_ID_BLOCK;
use chrono::Utc;
use pharos_probe::Prober;
use pharos_store::{Batch, Store};
use rand::Rng;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::{Instant, Interval};

/// The most results evaluated into one batch.
const MAX_BATCH: usize = 4096;
/// How often open incidents are checked for an overdue update and for impact changes that
/// have settled.
const REMIND_EVERY: Duration = Duration::from_secs(10);

/// Everything the loop reacts to.
pub(crate) enum LoopEvent {
    /// Shutdown was asked for.
    Stop,
    /// Time to look for incidents whose update is overdue.
    Remind,
    /// An operator's command.
    Command(Command),
    /// Probe runs that ended (as many as were waiting, up to `MAX_BATCH`).
    Finished(Vec<Finished>),
    /// Monitors fell due.
    Due,
}

/// Whether the loop goes on after an event.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// What the loop is built from.
pub(crate) struct Parts {
    pub(crate) topology: Arc<Topology>,
    pub(crate) probers: Arc<Vec<Prober>>,
    pub(crate) evaluator: Evaluator,
    /// Only for reserving incident ids; everything else is written by the writer.
    pub(crate) store: Arc<dyn Store>,
    pub(crate) live: Arc<RwLock<LiveState>>,
    pub(crate) metrics: Arc<SchedulerMetrics>,
    pub(crate) batches: mpsc::Sender<Job>,
    pub(crate) commands: mpsc::Receiver<Command>,
    pub(crate) concurrency: usize,
    /// First runs are spread over at most this long after start.
    pub(crate) splay: Duration,
    pub(crate) shutdown: watch::Receiver<bool>,
}

pub(crate) struct EngineLoop {
    parts: Parts,
    grid: Grid,
    semaphore: Arc<Semaphore>,
    results_sender: mpsc::UnboundedSender<Finished>,
    results: mpsc::UnboundedReceiver<Finished>,
    reminders: Interval,
    last_reservation: Option<Instant>,
}

impl EngineLoop {
    pub(crate) fn new(parts: Parts) -> Self {
        let intervals = parts
            .topology
            .monitors
            .iter()
            .map(|monitor| monitor.interval)
            .collect();
        let mut rng = rand::rng();
        let grid = Grid::new(intervals, parts.splay, Instant::now(), &mut || {
            rng.random::<f64>()
        });
        let (results_sender, results) = mpsc::unbounded_channel();
        let mut reminders = tokio::time::interval(REMIND_EVERY);
        reminders.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            semaphore: Arc::new(Semaphore::new(parts.concurrency.max(1))),
            parts,
            grid,
            results_sender,
            results,
            reminders,
            last_reservation: None,
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            let event = self.next_event().await;
            if self.handle_event(event).await == Flow::Stop {
                break;
            }
        }
    }

    async fn next_event(&mut self) -> LoopEvent {
        let next_due = self.grid.next_due();
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            biased;
            _ = self.parts.shutdown.changed() => LoopEvent::Stop,
            _ = self.reminders.tick() => LoopEvent::Remind,
            Some(command) = self.parts.commands.recv() => LoopEvent::Command(command),
            Some(first) = self.results.recv() => {
                let mut finished = vec![first];
                while finished.len() < MAX_BATCH {
                    match self.results.try_recv() {
                        Ok(more) => finished.push(more),
                        Err(_) => break,
                    }
                }
                LoopEvent::Finished(finished)
            }
            _ = tokio::time::sleep_until(next_due.unwrap_or(far)), if next_due.is_some() => LoopEvent::Due,
        }
    }

    async fn handle_event(&mut self, event: LoopEvent) -> Flow {
        match event {
            LoopEvent::Stop => Flow::Stop,
            LoopEvent::Remind => {
                let mut batch = Batch::default();
                let now = Utc::now();
                self.parts.evaluator.follow_maintenance(now, &mut batch);
                self.parts.evaluator.remind_overdue(now, &mut batch);
                self.parts.evaluator.settle(now, &mut batch);
                if batch.is_empty() {
                    return Flow::Continue;
                }
                self.publish_status();
                self.submit(Job {
                    batch,
                    committed: None,
                })
                .await
            }
            LoopEvent::Command(command) => self.apply(command).await,
            LoopEvent::Finished(finished) => self.evaluate(finished).await,
            LoopEvent::Due => {
                for (monitor, due) in self.grid.take_due(Instant::now()) {
                    launch(
                        &self.parts.probers,
                        monitor,
                        due,
                        &self.semaphore,
                        &self.parts.metrics,
                        &self.results_sender,
                    );
                }
                Flow::Continue
            }
        }
    }

    /// Feeds ended runs through the evaluator, reschedules their monitors, and hands the
    /// batch to the writer.
    async fn evaluate(&mut self, finished: Vec<Finished>) -> Flow {
        let mut batch = Batch::default();
        self.top_up_incident_ids(&mut batch).await;
        let now = Instant::now();
        let mut latest = Vec::with_capacity(finished.len());
        for result in finished {
            let monitor = result.monitor;
            latest.push((
                monitor,
                result.at,
                result.started_at,
                result.outcome.clone(),
            ));
            self.parts
                .evaluator
                .observe(monitor, result.at, result.outcome, &mut batch);
            let info = &self.parts.topology.monitors[monitor];
            let early = self
                .parts
                .evaluator
                .health(monitor)
                .next_delay(info.interval, &info.policy);
            let skipped = self.grid.finished(monitor, Some(early), now);
            if skipped > 0 {
                self.parts
                    .metrics
                    .slots_skipped
                    .fetch_add(skipped, Ordering::Relaxed);
            }
        }
        for monitor in self.parts.evaluator.take_rechecks() {
            self.grid.recheck(monitor, now);
        }
        self.record(latest);
        self.parts.evaluator.settle(Utc::now(), &mut batch);
        self.parts.evaluator.flush(&mut batch);
        if batch.changes_status() {
            self.publish_status();
        }
        self.submit(Job {
            batch,
            committed: None,
        })
        .await
    }

    /// Applies a command; the reply goes out once its batch is committed.
    async fn apply(&mut self, command: Command) -> Flow {
        match command {
            Command::PostUpdate {
                incident,
                phase,
                message,
                reply,
            } => {
                let mut batch = Batch::default();
                match self.parts.evaluator.post_update(
                    incident,
                    phase,
                    message,
                    Utc::now(),
                    &mut batch,
                ) {
                    Err(error) => {
                        let _ = reply.send(Err(error));
                        Flow::Continue
                    }
                    Ok(update) => {
                        self.publish_status();
                        let (committed, done) = tokio::sync::oneshot::channel();
                        let job = Job {
                            batch,
                            committed: Some(committed),
                        };
                        if self.submit(job).await == Flow::Stop {
                            let _ = reply.send(Err(CommandError::Stopping));
                            return Flow::Stop;
                        }
                        tokio::spawn(async move {
                            let answer = match done.await {
                                Ok(()) => Ok(update),
                                Err(_) => Err(CommandError::Stopping),
                            };
                            let _ = reply.send(answer);
                        });
                        Flow::Continue
                    }
                }
            }
        }
    }

    /// Hands a job to the writer; stops once the writer is gone, or when shutdown comes while
    /// the writer cannot keep up (a store that refuses writes must not hold shutdown up).
    async fn submit(&mut self, job: Job) -> Flow {
        tokio::select! {
            sent = self.parts.batches.send(job) => {
                if sent.is_ok() { Flow::Continue } else { Flow::Stop }
            }
            _ = self.parts.shutdown.wait_for(|stopping| *stopping) => Flow::Stop,
        }
    }

    /// Reserves more incident ids in the store when fewer than half a block are left (at
    /// most every few seconds while the store refuses).
    async fn top_up_incident_ids(&mut self, batch: &mut Batch) {
        if self.parts.evaluator.spare_incident_ids() >= (INCIDENT_ID_BLOCK / 2) as usize
            || self
                .last_reservation
                .is_some_and(|at| at.elapsed() < Duration::from_secs(5))
        {
            return;
        }
        self.last_reservation = Some(Instant::now());
        match self
            .parts
            .store
            .reserve_incident_ids(INCIDENT_ID_BLOCK)
            .await
        {
            Ok(ids) => self
                .parts
                .evaluator
                .add_incident_ids(ids, Utc::now(), batch),
            Err(error) => tracing::warn!(%error, "cannot reserve incident ids; retrying shortly"),
        }
    }

    fn record(
        &self,
        latest: Vec<(
            usize,
            chrono::DateTime<Utc>,
            chrono::DateTime<Utc>,
            pharos_core::Outcome,
        )>,
    ) {
        let Ok(mut live) = self.parts.live.write() else {
            return;
        };
        for (monitor, at, started_at, outcome) in latest {
            let confirmed = self.parts.evaluator.health(monitor).confirmed;
            live.monitors.insert(
                self.parts.topology.monitors[monitor].id.clone(),
                LatestResult {
                    at,
                    started_at,
                    outcome,
                    confirmed,
                },
            );
        }
    }

    fn publish_status(&self) {
        let Ok(mut live) = self.parts.live.write() else {
            return;
        };
        for (index, component) in self.parts.topology.components.iter().enumerate() {
            live.components.insert(
                component.id.clone(),
                self.parts.evaluator.component_status(index),
            );
        }
        live.open_incidents = self.parts.evaluator.open_incidents().cloned().collect();
        live.open_incidents
            .sort_by_key(|incident| std::cmp::Reverse(incident.id));
    }
}
