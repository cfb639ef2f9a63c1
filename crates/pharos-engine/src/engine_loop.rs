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
    /// A watch connection was lost: check the monitor at once.
    Watched(usize),
    /// An agent's report was not committed: take back the numbers it took.
    AgentNotStored {
        agent: String,
        token_made: chrono::DateTime<Utc>,
        to: u64,
    },
}

/// A result for the live view: monitor, region, end, start, outcome.
type Latest = (
    usize,
    usize,
    chrono::DateTime<Utc>,
    chrono::DateTime<Utc>,
    pharos_core::Outcome,
);

/// Where the live view keeps one region's latest check of a regional monitor.
fn region_key(topology: &Topology, monitor: usize, region: usize) -> pharos_core::MonitorId {
    pharos_core::MonitorId::new(format!(
        "{}@{}",
        topology.monitors[monitor].id, topology.regions[region]
    ))
}

/// Whether the loop goes on after an event.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// What the loop is built from.
pub(crate) struct Parts {
    /// The agents the store knows, with how far their results are stored.
    pub(crate) agent_records: Vec<pharos_store::AgentRecord>,
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
    /// When reserving incident ids last failed (cleared by a success).
    reservation_failed: Option<Instant>,
    agents: crate::agents::Agents,
    watched: mpsc::UnboundedReceiver<usize>,
    _watches: crate::watches::Watches,
    not_stored_sender: mpsc::UnboundedSender<(String, chrono::DateTime<Utc>, u64)>,
    not_stored: mpsc::UnboundedReceiver<(String, chrono::DateTime<Utc>, u64)>,
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
        let mut grid = Grid::new(intervals, parts.splay, Instant::now(), &mut || {
            rng.random::<f64>()
        });
        let (wall, now) = (Utc::now(), Instant::now());
        for (monitor, info) in parts.topology.monitors.iter().enumerate() {
            if info.home.is_none() {
                // Only agents check it.
                grid.exclude(monitor);
            } else if let Some(phase) = info.phase {
                grid.place(monitor, phase, wall, now);
            }
        }
        let (watch_checks, watched) = mpsc::unbounded_channel();
        let (not_stored_sender, not_stored) = mpsc::unbounded_channel();
        let to_watch: Vec<(usize, String)> = parts
            .topology
            .monitors
            .iter()
            .enumerate()
            .filter(|(_, info)| info.watch && info.home.is_some())
            .map(|(monitor, info)| (monitor, info.name.clone()))
            .collect();
        let watches =
            crate::watches::Watches::start(&parts.probers, &to_watch, watch_checks, &parts.metrics);
        let agents = crate::agents::Agents::new(
            &parts.agent_records,
            parts.topology.regions.len(),
            Instant::now(),
        );
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
            reservation_failed: None,
            agents,
            watched,
            _watches: watches,
            not_stored_sender,
            not_stored,
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
            Some(monitor) = self.watched.recv() => LoopEvent::Watched(monitor),
            Some((agent, token_made, to)) = self.not_stored.recv() => LoopEvent::AgentNotStored { agent, token_made, to },
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
                self.follow_agent_silence(now, &mut batch);
                self.parts.evaluator.follow_maintenance(now, &mut batch);
                self.parts.evaluator.announce_maintenance(now, &mut batch);
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
            LoopEvent::AgentNotStored {
                agent,
                token_made,
                to,
            } => {
                self.agents.rewind(&agent, token_made, to);
                Flow::Continue
            }
            LoopEvent::Watched(monitor) => {
                self.grid.recheck(monitor, Instant::now());
                Flow::Continue
            }
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
                0,
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
                .home_health(monitor)
                .next_delay(info.interval, &info.policy);
            let skipped = self.grid.finished(monitor, Some(early), now);
            if skipped > 0 {
                self.parts
                    .metrics
                    .slots_skipped
                    .fetch_add(skipped, Ordering::Relaxed);
            }
        }
        self.dispatch_rechecks(now);
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
            Command::AgentReport {
                agent,
                token_made,
                report,
                reply,
            } => self.take_report(agent, token_made, report, reply).await,
            Command::Amend {
                incident,
                amendment,
                reply,
            } => {
                self.operator_step(reply, |evaluator, now, batch| {
                    evaluator.amend(incident, amendment, now, batch)
                })
                .await
            }
            Command::Declare { declaration, reply } => {
                self.operator_step(reply, |evaluator, now, batch| {
                    evaluator.declare(declaration, now, batch)
                })
                .await
            }
            Command::Resolve {
                incident,
                message,
                by,
                reply,
            } => {
                self.operator_step(reply, |evaluator, now, batch| {
                    evaluator.resolve_by_hand(incident, message, &by, now, batch)
                })
                .await
            }
            Command::EditUpdate {
                incident,
                posted_at,
                message,
                reply,
            } => {
                self.operator_step(reply, |evaluator, now, batch| {
                    evaluator.edit_update(*incident, posted_at, message, now, batch)
                })
                .await
            }
            Command::FalseAlarm {
                incident,
                reason,
                by,
                reply,
            } => {
                self.operator_step(reply, |evaluator, now, batch| {
                    evaluator.false_alarm(*incident, &reason, &by, now, batch)
                })
                .await
            }
            Command::ScheduleMaintenance { window, by, reply } => {
                self.operator_step(reply, |evaluator, now, batch| {
                    evaluator.schedule_maintenance(*window, &by, now, batch)
                })
                .await
            }
            Command::CancelMaintenance { id, by, reply } => {
                self.operator_step(reply, |evaluator, now, batch| {
                    evaluator.cancel_maintenance(&id, &by, now, batch)
                })
                .await
            }
            Command::SetPostmortem {
                incident,
                text,
                reply,
            } => {
                self.operator_step(reply, |_, now, batch| {
                    batch.postmortems.push((
                        incident,
                        pharos_store::Postmortem {
                            text,
                            updated_at: now,
                        },
                    ));
                    Ok(())
                })
                .await
            }
            Command::Reopen {
                incident,
                update,
                by,
                reply,
            } => {
                self.operator_step(reply, |evaluator, now, batch| {
                    evaluator.reopen(*incident, update, &by, now, batch)
                })
                .await
            }
        }
    }

    /// Applies an operator's step to the evaluator at the current time.
    async fn operator_step<T: Send + 'static>(
        &mut self,
        reply: tokio::sync::oneshot::Sender<Result<T, CommandError>>,
        step: impl FnOnce(
            &mut crate::Evaluator,
            chrono::DateTime<Utc>,
            &mut Batch,
        ) -> Result<T, CommandError>,
    ) -> Flow {
        let mut batch = Batch::default();
        // Operators may open incidents faster than checks do.
        self.top_up_incident_ids(&mut batch).await;
        let result = step(&mut self.parts.evaluator, Utc::now(), &mut batch);
        self.answer_once_committed(result, batch, reply).await
    }

    /// Answers an operator's command: a refusal at once, a change once its batch is
    /// committed (so that what they see next is saved).
    async fn answer_once_committed<T: Send + 'static>(
        &mut self,
        result: Result<T, CommandError>,
        batch: Batch,
        reply: tokio::sync::oneshot::Sender<Result<T, CommandError>>,
    ) -> Flow {
        let value = match result {
            Err(error) => {
                let _ = reply.send(Err(error));
                return Flow::Continue;
            }
            Ok(value) => value,
        };
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
                Ok(()) => Ok(value),
                Err(_) => Err(CommandError::Stopping),
            };
            let _ = reply.send(answer);
        });
        Flow::Continue
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
                .reservation_failed
                .is_some_and(|at| at.elapsed() < Duration::from_secs(5))
        {
            return;
        }
        match self
            .parts
            .store
            .reserve_incident_ids(INCIDENT_ID_BLOCK)
            .await
        {
            Ok(ids) => {
                self.reservation_failed = None;
                self.parts
                    .evaluator
                    .add_incident_ids(ids, Utc::now(), batch);
            }
            Err(error) => {
                self.reservation_failed = Some(Instant::now());
                tracing::warn!(%error, "cannot reserve incident ids; retrying shortly");
            }
        }
    }

    /// Puts the latest results in the live view: under the monitor's id (whatever the region)
    /// and, for a monitor checked from several regions, under `monitor@region` too.
    fn record(&self, latest: Vec<Latest>) {
        let Ok(mut live) = self.parts.live.write() else {
            return;
        };
        let topology = &self.parts.topology;
        for (monitor, region, at, started_at, outcome) in latest {
            let confirmed = self.parts.evaluator.health(monitor).confirmed;
            let result = LatestResult {
                at,
                started_at,
                outcome,
                confirmed,
            };
            if topology.monitors[monitor].is_regional() {
                live.monitors
                    .insert(region_key(topology, monitor, region), result.clone());
            }
            live.monitors
                .insert(topology.monitors[monitor].id.clone(), result);
            if topology.monitors[monitor].is_regional() {
                let cells = self.region_cells(monitor, &live);
                live.regions
                    .insert(topology.monitors[monitor].id.clone(), cells);
            }
        }
    }

    /// What each region says of a regional monitor, with its latest check.
    fn region_cells(&self, monitor: usize, live: &LiveState) -> Vec<crate::RegionCell> {
        let topology = &self.parts.topology;
        let info = &topology.monitors[monitor];
        self.parts
            .evaluator
            .region_views(monitor)
            .into_iter()
            .zip(&info.regions)
            .map(|((region, status, reason), &index)| crate::RegionCell {
                region,
                status,
                reason,
                last: live
                    .monitors
                    .get(&region_key(topology, monitor, index))
                    .cloned(),
            })
            .collect()
    }

    /// Sends the checks the evaluator asked for to where they run: the time grid for the
    /// server's own region, the next report of each other region's agent.
    fn dispatch_rechecks(&mut self, now: Instant) {
        let topology = self.parts.topology.clone();
        let asked = self.parts.evaluator.take_rechecks();
        let first_failures = std::mem::take(&mut self.parts.evaluator.region_rechecks);
        let everywhere = asked.into_iter().map(|monitor| (monitor, None));
        let elsewhere = first_failures
            .into_iter()
            .map(|(monitor, region)| (monitor, Some(region)));
        for (monitor, except) in everywhere.chain(elsewhere) {
            for &region in &topology.monitors[monitor].regions {
                if Some(region) == except {
                    continue;
                }
                if region == 0 {
                    self.grid.recheck(monitor, now);
                } else {
                    self.agents.ask(region, monitor);
                }
            }
        }
    }

    /// Takes an agent's report: its new results through the evaluator, its region heard
    /// again; answered once committed, with the monitors its region should check at once.
    async fn take_report(
        &mut self,
        agent: String,
        token_made: chrono::DateTime<Utc>,
        report: pharos_wire::AgentReport,
        reply: tokio::sync::oneshot::Sender<Result<crate::AgentAnswer, CommandError>>,
    ) -> Flow {
        let topology = self.parts.topology.clone();
        let now = Utc::now();
        let mut batch = Batch::default();
        self.top_up_incident_ids(&mut batch).await;
        let region = topology.region_index(&report.region);
        if report.dropped > 0 {
            tracing::warn!(
                agent,
                region = report.region,
                dropped = report.dropped,
                "agent {agent} dropped {} results it could not deliver in time (its buffer was full)",
                report.dropped
            );
        }
        let before = self.agents.taken(&agent, token_made);
        let (fresh, acked) = self.agents.accept(&agent, token_made, report.results);
        let mut latest = Vec::with_capacity(fresh.len());
        if let Some(region) = region.filter(|&region| region != 0) {
            self.agents.heard(&agent, region, Instant::now(), now);
            if self.parts.evaluator.region_is_silent(region) {
                self.parts
                    .evaluator
                    .set_region_silent(region, false, now, &mut batch);
                let news = self.agent_news(region, &agent, now);
                tracing::info!(
                    agent,
                    region = report.region,
                    "agent.back: agent {agent} in {} reports again",
                    report.region
                );
                self.parts
                    .evaluator
                    .announce(pharos_core::Event::AgentBack(news), now, &mut batch);
            }
            for result in &fresh {
                let Some(monitor) = topology.monitor_index(&result.monitor) else {
                    continue;
                };
                latest.push((
                    monitor,
                    region,
                    result.at,
                    result.started_at,
                    result.outcome.clone(),
                ));
            }
            for result in fresh.iter().cloned() {
                if let Some(monitor) = topology.monitor_index(&result.monitor) {
                    self.parts.evaluator.observe_from(
                        monitor,
                        region,
                        result.at,
                        result.outcome,
                        &mut batch,
                    );
                }
            }
        }
        if !fresh.is_empty() {
            batch.agent_progress.push(pharos_store::AgentProgress {
                agent: agent.clone(),
                last_seq: acked,
                seen_at: now,
                region: report.region.clone(),
            });
        }
        self.dispatch_rechecks(Instant::now());
        self.record(latest);
        self.parts.evaluator.settle(now, &mut batch);
        self.parts.evaluator.flush(&mut batch);
        if batch.changes_status() {
            self.publish_status();
        }
        let recheck = region
            .map(|region| self.agents.take_rechecks(region))
            .unwrap_or_default()
            .into_iter()
            .map(|monitor| topology.monitors[monitor].id.to_string())
            .collect();
        // Even an empty job: its commit comes after every batch before it, so what is
        // acknowledged is stored.
        let (committed, done) = tokio::sync::oneshot::channel();
        let job = Job {
            batch,
            committed: Some(committed),
        };
        if self.submit(job).await == Flow::Stop {
            let _ = reply.send(Err(CommandError::Stopping));
            return Flow::Stop;
        }
        let not_stored = self.not_stored_sender.clone();
        tokio::spawn(async move {
            let answer = match done.await {
                Ok(()) => Ok(crate::AgentAnswer { acked, recheck }),
                Err(_) => {
                    // Not committed: the agent sends these again and they must be taken.
                    let _ = not_stored.send((agent, token_made, before));
                    Err(CommandError::Stopping)
                }
            };
            let _ = reply.send(answer);
        });
        Flow::Continue
    }

    /// Regions whose agents stopped reporting stop voting; one `agent.silent` each.
    fn follow_agent_silence(&mut self, now: chrono::DateTime<Utc>, batch: &mut Batch) {
        let topology = self.parts.topology.clone();
        let instant = Instant::now();
        for region in 1..topology.regions.len() {
            if self.parts.evaluator.region_is_silent(region)
                || !self.agents.is_silent(region, instant)
            {
                continue;
            }
            self.parts
                .evaluator
                .set_region_silent(region, true, now, batch);
            let (agent, _) = self
                .agents
                .last_heard(region)
                .unwrap_or_else(|| ("(none since start)".to_owned(), now));
            let news = self.agent_news(region, &agent, now);
            tracing::warn!(
                region = topology.regions[region],
                "agent.silent: no agent of region {} has reported for {}s; its checks do not count until one does",
                topology.regions[region],
                crate::agents::SILENT_AFTER.as_secs()
            );
            self.parts
                .evaluator
                .announce(pharos_core::Event::AgentSilent(news), now, batch);
        }
        if batch.changes_status() {
            self.publish_status();
        }
    }

    fn agent_news(
        &self,
        region: usize,
        agent: &str,
        now: chrono::DateTime<Utc>,
    ) -> pharos_core::AgentNews {
        let topology = &self.parts.topology;
        pharos_core::AgentNews {
            region: topology.regions[region].clone(),
            agent: agent.to_owned(),
            last_seen: self.agents.last_heard(region).map_or(now, |(_, at)| at),
            monitors: topology
                .monitors
                .iter()
                .filter(|info| info.region_slot(region).is_some())
                .count(),
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
        live.maintenance = self.parts.evaluator.maintenance_windows();
        live.open_incidents
            .sort_by_key(|incident| std::cmp::Reverse(incident.id));
        // A region going silent changes its cells without a result.
        for (monitor, info) in self.parts.topology.monitors.iter().enumerate() {
            if info.is_regional() {
                let cells = self.region_cells(monitor, &live);
                live.regions.insert(info.id.clone(), cells);
            }
        }
    }
}
