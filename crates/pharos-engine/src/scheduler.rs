//! The scheduler loop: runs every monitor on its own fixed grid (a random phase per monitor
//! spreads the load; due times never drift), re-checks early while a change awaits
//! confirmation, bounds concurrency, and never queues a monitor twice, so a hanging target
//! cannot pile up runs. Results go through the evaluator and on to the writer.

use crate::command::{Command, CommandError};
use crate::evaluator::Evaluator;
use crate::live::{LatestResult, LiveState};
use crate::metrics::SchedulerMetrics;
use crate::topology::Topology;
use crate::writer::Job;
use crate::INCIDENT_ID_BLOCK;
use chrono::Utc;
use pharos_core::Outcome;
use pharos_probe::Prober;
use pharos_store::{Batch, Store};
use rand::Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Semaphore};
use tokio::time::Instant;

/// The most results evaluated into one batch.
const MAX_BATCH: usize = 4096;

pub(crate) struct Scheduler {
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
}

struct Finished {
    monitor: usize,
    /// When the run ended: results, detection and incidents are timed by their verdict.
    at: chrono::DateTime<Utc>,
    started_at: chrono::DateTime<Utc>,
    outcome: Outcome,
}

/// Hands a job to the writer; false once the writer is gone or shutdown is asked for while
/// the writer cannot keep up (a store that refuses writes must not hold shutdown up).
async fn submit(
    batches: &mpsc::Sender<Job>,
    job: Job,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        sent = batches.send(job) => sent.is_ok(),
        _ = shutdown.wait_for(|stopping| *stopping) => false,
    }
}

/// Sends a result even if the probe task panics, so its monitor is always rescheduled.
struct ResultGuard {
    monitor: usize,
    results: mpsc::UnboundedSender<Finished>,
    sent: bool,
}

impl ResultGuard {
    fn send(mut self, started_at: chrono::DateTime<Utc>, outcome: Outcome) {
        self.sent = true;
        let _ = self.results.send(Finished {
            monitor: self.monitor,
            at: Utc::now(),
            started_at,
            outcome,
        });
    }
}

impl Drop for ResultGuard {
    fn drop(&mut self) {
        if !self.sent {
            let outcome = Outcome::down(
                Duration::ZERO,
                Vec::new(),
                "internal error: the probe stopped unexpectedly",
            );
            let now = Utc::now();
            let _ = self.results.send(Finished {
                monitor: self.monitor,
                at: now,
                started_at: now,
                outcome,
            });
        }
    }
}

impl Scheduler {
    pub(crate) async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let count = self.topology.monitors.len();
        let start = Instant::now();
        // Each monitor's grid: due times are anchor + k * interval.
        let anchors: Vec<Instant> = {
            let mut rng = rand::rng();
            self.topology
                .monitors
                .iter()
                .map(|monitor| {
                    start
                        + monitor
                            .interval
                            .min(self.splay)
                            .mul_f64(rng.random::<f64>())
                })
                .collect()
        };
        let mut queue: BinaryHeap<Reverse<(Instant, usize)>> = anchors
            .iter()
            .enumerate()
            .map(|(monitor, &due)| Reverse((due, monitor)))
            .collect();
        let semaphore = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let (results_sender, mut results) = mpsc::unbounded_channel::<Finished>();
        let mut in_flight = vec![false; count];
        let mut reminders = tokio::time::interval(Duration::from_secs(30));
        reminders.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut launched_due: Vec<Instant> = anchors.clone();
        let mut last_reservation: Option<Instant> = None;

        loop {
            let next_due = queue.peek().map(|Reverse((due, _))| *due);
            tokio::select! {
                biased;
                _ = shutdown.changed() => break,
                _ = reminders.tick() => {
                    let mut batch = Batch::default();
                    self.evaluator.remind_overdue(Utc::now(), &mut batch);
                    if !batch.is_empty() {
                        self.publish_status();
                        if !submit(&self.batches, Job { batch, committed: None }, &mut shutdown).await {
                            break;
                        }
                    }
                }
                Some(command) = self.commands.recv() => {
                    if !self.apply(command, &mut shutdown).await {
                        break;
                    }
                }
                Some(first) = results.recv() => {
                    let mut batch = Batch::default();
                    self.top_up_incident_ids(&mut last_reservation, &mut batch).await;
                    let mut finished = vec![first];
                    while finished.len() < MAX_BATCH {
                        match results.try_recv() {
                            Ok(more) => finished.push(more),
                            Err(_) => break,
                        }
                    }
                    let now = Instant::now();
                    let mut latest = Vec::with_capacity(finished.len());
                    for result in finished {
                        let monitor = result.monitor;
                        in_flight[monitor] = false;
                        latest.push((monitor, result.at, result.started_at, result.outcome.clone()));
                        self.evaluator.observe(monitor, result.at, result.outcome, &mut batch);
                        let due = self.next_due(monitor, anchors[monitor], launched_due[monitor], now);
                        queue.push(Reverse((due, monitor)));
                    }
                    self.record(latest);
                    self.evaluator.flush(&mut batch);
                    if batch.changes_status() {
                        self.publish_status();
                    }
                    if !submit(&self.batches, Job { batch, committed: None }, &mut shutdown).await {
                        break;
                    }
                }
                _ = tokio::time::sleep_until(next_due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600))), if next_due.is_some() => {
                    let now = Instant::now();
                    while let Some(&Reverse((due, monitor))) = queue.peek() {
                        if due > now {
                            break;
                        }
                        queue.pop();
                        if in_flight[monitor] {
                            continue;
                        }
                        in_flight[monitor] = true;
                        launched_due[monitor] = due;
                        self.launch(monitor, due, &semaphore, &results_sender);
                    }
                }
            }
        }
    }

    /// Applies a command; the reply goes out once its batch is committed. Returns false when
    /// the writer is gone.
    async fn apply(&mut self, command: Command, shutdown: &mut watch::Receiver<bool>) -> bool {
        match command {
            Command::PostUpdate {
                incident,
                phase,
                message,
                reply,
            } => {
                let mut batch = Batch::default();
                match self
                    .evaluator
                    .post_update(incident, phase, message, Utc::now(), &mut batch)
                {
                    Err(error) => {
                        let _ = reply.send(Err(error));
                        true
                    }
                    Ok(update) => {
                        self.publish_status();
                        let (committed, done) = tokio::sync::oneshot::channel();
                        let job = Job {
                            batch,
                            committed: Some(committed),
                        };
                        if !submit(&self.batches, job, shutdown).await {
                            let _ = reply.send(Err(CommandError::Stopping));
                            return false;
                        }
                        tokio::spawn(async move {
                            let answer = match done.await {
                                Ok(()) => Ok(update),
                                Err(_) => Err(CommandError::Stopping),
                            };
                            let _ = reply.send(answer);
                        });
                        true
                    }
                }
            }
        }
    }

    /// Reserves more incident ids in the store when fewer than half a block are left (at
    /// most every few seconds while the store refuses).
    async fn top_up_incident_ids(&mut self, last_try: &mut Option<Instant>, batch: &mut Batch) {
        if self.evaluator.spare_incident_ids() >= (INCIDENT_ID_BLOCK / 2) as usize
            || last_try.is_some_and(|at| at.elapsed() < Duration::from_secs(5))
        {
            return;
        }
        *last_try = Some(Instant::now());
        match self.store.reserve_incident_ids(INCIDENT_ID_BLOCK).await {
            Ok(ids) => self.evaluator.add_incident_ids(ids, Utc::now(), batch),
            Err(error) => tracing::warn!(%error, "cannot reserve incident ids; retrying shortly"),
        }
    }

    fn launch(
        &self,
        monitor: usize,
        due: Instant,
        semaphore: &Arc<Semaphore>,
        results: &mpsc::UnboundedSender<Finished>,
    ) {
        let probers = self.probers.clone();
        let semaphore = semaphore.clone();
        let metrics = self.metrics.clone();
        let guard = ResultGuard {
            monitor,
            results: results.clone(),
            sent: false,
        };
        tokio::spawn(async move {
            let Ok(_permit) = semaphore.acquire_owned().await else {
                return;
            };
            metrics.record_lateness(Instant::now().saturating_duration_since(due));
            metrics.probes_started.fetch_add(1, Ordering::Relaxed);
            let started_at = Utc::now();
            let outcome = probers[monitor].run().await;
            metrics.probes_finished.fetch_add(1, Ordering::Relaxed);
            guard.send(started_at, outcome);
        });
    }

    /// The next run: soon while a change awaits confirmation, otherwise the first grid point
    /// after now. Grid points passed while the last run was still going are skipped, not
    /// queued up.
    fn next_due(
        &self,
        monitor: usize,
        anchor: Instant,
        launched_for: Instant,
        now: Instant,
    ) -> Instant {
        let info = &self.topology.monitors[monitor];
        let delay = self
            .evaluator
            .health(monitor)
            .next_delay(info.interval, &info.policy);
        if delay < info.interval {
            return now + delay;
        }
        let interval = info.interval.as_nanos().max(1);
        let slots = now.saturating_duration_since(anchor).as_nanos() / interval + 1;
        let due = anchor + Duration::from_nanos((slots * interval).min(u64::MAX as u128) as u64);
        let passed = due.saturating_duration_since(launched_for).as_nanos() / interval;
        if passed > 1 {
            self.metrics
                .slots_skipped
                .fetch_add((passed - 1) as u64, Ordering::Relaxed);
        }
        due
    }

    fn record(&self, latest: Vec<(usize, chrono::DateTime<Utc>, chrono::DateTime<Utc>, Outcome)>) {
        let Ok(mut live) = self.live.write() else {
            return;
        };
        for (monitor, at, started_at, outcome) in latest {
            let confirmed = self.evaluator.health(monitor).confirmed;
            live.monitors.insert(
                self.topology.monitors[monitor].id.clone(),
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
        let Ok(mut live) = self.live.write() else {
            return;
        };
        for (index, component) in self.topology.components.iter().enumerate() {
            live.components
                .insert(component.id.clone(), self.evaluator.component_status(index));
        }
        live.open_incidents = self.evaluator.open_incidents().cloned().collect();
        live.open_incidents
            .sort_by_key(|incident| std::cmp::Reverse(incident.id));
    }
}
