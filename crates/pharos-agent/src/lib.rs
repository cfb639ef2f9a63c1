//! The pharos probe agent (`pharos agent`): checks the monitors a server assigns to its region
//! with the server's own time grid and probes, and reports the results back in batches
//! (`pharos_wire`). While the server is unreachable it goes on probing and keeps its results
//! on disk (`buffer.rs`), then delivers them in order; a new assignment from the server takes
//! effect without a restart, and monitors another region saw fail are checked at once.

pub mod buffer;
pub mod exchange;

use crate::buffer::Buffer;
use crate::exchange::{ExchangeError, Exchanger};
use pharos_core::{DetectionPolicy, MonitorHealth};
use pharos_engine::runs::{launch, Finished};
use pharos_engine::scheduler::Grid;
use pharos_engine::watches::Watches;
use pharos_engine::SchedulerMetrics;
use pharos_probe::Prober;
use pharos_wire::{AgentReport, AgentResult, Assignment, PROTOCOL};
use rand::Rng;
use secrecy::SecretString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::time::Instant;

/// How an agent runs.
pub struct AgentOptions {
    /// The server, or each of its replicas (reports go to whichever leads).
    pub servers: Vec<url::Url>,
    pub region: String,
    pub token: SecretString,
    /// Where its buffer of undelivered results lives.
    pub state_dir: PathBuf,
    /// The most results kept while the server is unreachable.
    pub buffer_limit: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("cannot use the buffer in {dir}: {error}")]
    Buffer { dir: String, error: std::io::Error },
    #[error("{0}")]
    Server(String),
    #[error("{0}")]
    Incompatible(String),
}

/// Results are sent this soon after the first one waiting (more may join it).
const GATHER: Duration = Duration::from_millis(100);
/// The longest wait between tries while the server is unreachable.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long to wait after the server refused this agent's token.
const REFUSED_WAIT: Duration = Duration::from_secs(10);

/// Runs until `shutdown`; returns early only when the server speaks another protocol.
pub async fn run(options: AgentOptions, shutdown: watch::Receiver<bool>) -> Result<(), AgentError> {
    let buffer = Buffer::open(&options.state_dir, options.buffer_limit).map_err(|error| {
        AgentError::Buffer {
            dir: options.state_dir.display().to_string(),
            error,
        }
    })?;
    if buffer.pending() > 0 {
        tracing::info!(
            pending = buffer.pending(),
            "{} results from before are waiting for the server",
            buffer.pending()
        );
    }
    let exchanger = Exchanger::with_replicas(&options.servers, options.token.clone())
        .map_err(AgentError::Server)?;
    let buffer = Arc::new(Mutex::new(buffer));
    let waiting = Arc::new(Notify::new());
    let (assignments, assigned) = watch::channel::<Option<Assignment>>(None);
    let (rechecks, asked) = mpsc::unbounded_channel::<Vec<String>>();
    let prober = tokio::spawn(probe_loop(
        options.region.clone(),
        buffer.clone(),
        waiting.clone(),
        assigned,
        asked,
        shutdown.clone(),
    ));
    let result = report_loop(
        &options,
        &exchanger,
        &buffer,
        &waiting,
        &assignments,
        &rechecks,
        shutdown,
    )
    .await;
    prober.abort();
    if let Ok(mut buffer) = buffer.lock() {
        let _ = buffer.sync();
    }
    result
}

/// Sends what waits (or a heartbeat) and takes in the server's answer, for as long as it runs.
async fn report_loop(
    options: &AgentOptions,
    exchanger: &Exchanger,
    buffer: &Arc<Mutex<Buffer>>,
    waiting: &Notify,
    assignments: &watch::Sender<Option<Assignment>>,
    rechecks: &mpsc::UnboundedSender<Vec<String>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), AgentError> {
    let mut backoff = Duration::from_millis(250);
    let mut reachable = true;
    loop {
        let (results, dropped) = {
            let mut buffer = buffer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let _ = buffer.sync();
            (
                buffer.oldest(pharos_wire::MAX_RESULTS_PER_REPORT),
                buffer.dropped(),
            )
        };
        let sent = results.len();
        let report = AgentReport {
            protocol: PROTOCOL,
            region: options.region.clone(),
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            generation: assignments
                .borrow()
                .as_ref()
                .map(|assignment| assignment.generation.clone()),
            results,
            dropped,
        };
        let wait = match exchanger.send(&report).await {
            Ok(reply) => {
                if !reachable {
                    tracing::info!("the server answers again");
                    reachable = true;
                }
                backoff = Duration::from_millis(250);
                let next_report = Duration::from_millis(reply.next_report_ms.clamp(200, 60_000));
                let more = {
                    let mut buffer = buffer
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    if let Err(error) = buffer.acknowledge(reply.acked, dropped) {
                        tracing::error!(%error, "cannot record what the server acknowledged");
                    }
                    buffer.pending() > 0
                };
                if let Some(assignment) = reply.assignment {
                    assignments.send_replace(Some(assignment));
                }
                if !reply.recheck.is_empty() {
                    let _ = rechecks.send(reply.recheck);
                }
                tracing::debug!(sent, acked = reply.acked, "report taken");
                if more {
                    Duration::ZERO
                } else {
                    next_report
                }
            }
            Err(ExchangeError::Incompatible(error)) => return Err(AgentError::Incompatible(error)),
            Err(ExchangeError::Refused(error)) => {
                tracing::error!("{error}; trying again in {}s", REFUSED_WAIT.as_secs());
                reachable = false;
                REFUSED_WAIT
            }
            Err(error) => {
                if reachable {
                    tracing::warn!("{error}; results are kept until it answers");
                    reachable = false;
                }
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                jitter(wait)
            }
        };
        // Wait for the next report, or for results to send.
        let pending = buffer.lock().map(|buffer| buffer.pending()).unwrap_or(0);
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        if pending > 0 || !reachable {
            tokio::select! {
                _ = &mut sleep => {}
                _ = shutdown.wait_for(|stopping| *stopping) => return Ok(()),
            }
        } else {
            tokio::select! {
                _ = &mut sleep => {}
                _ = waiting.notified() => tokio::time::sleep(GATHER).await,
                _ = shutdown.wait_for(|stopping| *stopping) => return Ok(()),
            }
        }
    }
}

fn jitter(wait: Duration) -> Duration {
    wait.mul_f64(rand::rng().random_range(0.8..1.2))
}

/// The monitors of one assignment, ready to run.
struct Plan {
    ids: Vec<String>,
    probers: Arc<Vec<Prober>>,
    intervals: Vec<Duration>,
    /// Where in its interval each runs (the server spaces the regions of a monitor).
    phases: Vec<Option<Duration>>,
    /// Which hold a watch connection.
    watch: Vec<bool>,
    policies: Vec<DetectionPolicy>,
    health: Vec<MonitorHealth>,
}

impl Plan {
    fn empty() -> Self {
        Self {
            ids: Vec::new(),
            probers: Arc::new(Vec::new()),
            intervals: Vec::new(),
            phases: Vec::new(),
            watch: Vec::new(),
            policies: Vec::new(),
            health: Vec::new(),
        }
    }

    /// Reads an assignment; a document that does not validate keeps the plan running.
    fn of(assignment: &Assignment, region: &str, previous: &Plan) -> Result<Self, String> {
        // Everything was resolved on the server: a `${NAME}` left is meant literally.
        let literal = |name: &str| Some(format!("${{{name}}}"));
        let config = pharos_config::parse(
            &format!("the assignment of {region}"),
            &assignment.document,
            &literal,
        )
        .map_err(|errors| errors.to_string())?;
        let mut plan = Plan::empty();
        let mut probers = Vec::new();
        for monitor in &config.monitors {
            let prober = Prober::new(monitor)
                .map_err(|error| format!("monitor `{}`: {error}", monitor.id))?;
            probers.push(prober);
            let id = monitor.id.to_string();
            let health = previous
                .ids
                .iter()
                .position(|known| *known == id)
                .map(|index| previous.health[index].clone())
                .unwrap_or_default();
            plan.ids.push(id);
            plan.intervals.push(monitor.interval);
            plan.phases.push(monitor.phase);
            plan.watch.push(monitor.watch);
            plan.policies.push(monitor.policy);
            plan.health.push(health);
        }
        plan.probers = Arc::new(probers);
        Ok(plan)
    }
}

/// Runs the assigned monitors on the time grid and buffers every result.
async fn probe_loop(
    region: String,
    buffer: Arc<Mutex<Buffer>>,
    waiting: Arc<Notify>,
    mut assigned: watch::Receiver<Option<Assignment>>,
    mut asked: mpsc::UnboundedReceiver<Vec<String>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let metrics = Arc::new(SchedulerMetrics::default());
    let semaphore = Arc::new(Semaphore::new(256));
    // Each plan has its own channel: runs of a replaced plan report into one nobody reads.
    let (mut sender, mut finished) = mpsc::unbounded_channel::<Finished>();
    let mut plan = Plan::empty();
    let mut grid = Grid::new(Vec::new(), Duration::ZERO, Instant::now(), &mut || 0.0);
    // Until the first plan, a channel nobody sends on.
    let (_no_checks, mut watched) = mpsc::unbounded_channel::<usize>();
    let mut watches = Watches::default();
    loop {
        let next_due = grid.next_due();
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            biased;
            _ = shutdown.wait_for(|stopping| *stopping) => return,
            changed = assigned.changed() => {
                if changed.is_err() {
                    return;
                }
                let Some(assignment) = assigned.borrow_and_update().clone() else { continue };
                match Plan::of(&assignment, &region, &plan) {
                    Ok(next) => {
                        tracing::info!(
                            monitors = next.ids.len(),
                            generation = assignment.generation,
                            "checking {} monitors for region {region}",
                            next.ids.len()
                        );
                        let mut rng = rand::rng();
                        // First runs spread over a few seconds, not a whole interval: a new
                        // agent should see something soon.
                        let splay = Duration::from_secs(5);
                        grid = Grid::new(next.intervals.clone(), splay, Instant::now(), &mut || rng.random::<f64>());
                        let (wall, now) = (chrono::Utc::now(), Instant::now());
                        for (monitor, phase) in next.phases.iter().enumerate() {
                            if let Some(phase) = phase {
                                grid.place(monitor, *phase, wall, now);
                            }
                        }
                        plan = next;
                        (sender, finished) = mpsc::unbounded_channel();
                        let to_watch: Vec<(usize, String)> = plan
                            .watch
                            .iter()
                            .enumerate()
                            .filter(|(_, watch)| **watch)
                            .map(|(monitor, _)| (monitor, plan.ids[monitor].clone()))
                            .collect();
                        // Dropping the old watches stops them; their checks went to a
                        // channel of the old numbering, so a new one is made.
                        drop(std::mem::take(&mut watches));
                        let (checks, receiver) = mpsc::unbounded_channel();
                        watched = receiver;
                        watches = Watches::start(&plan.probers, &to_watch, checks, &metrics);
                    }
                    Err(error) => tracing::error!("the server's assignment cannot be used, the previous one runs on: {error}"),
                }
            }
            Some(monitor) = watched.recv() => {
                grid.recheck(monitor, Instant::now());
            }
            Some(ids) = asked.recv() => {
                let now = Instant::now();
                for id in ids {
                    if let Some(monitor) = plan.ids.iter().position(|known| *known == id) {
                        grid.recheck(monitor, now);
                    }
                }
            }
            Some(done) = finished.recv() => {
                let monitor = done.monitor;
                let result = AgentResult {
                    seq: 0,
                    monitor: plan.ids[monitor].clone(),
                    at: done.at,
                    started_at: done.started_at,
                    outcome: done.outcome,
                };
                plan.health[monitor].observe(result.outcome.status, result.at, &plan.policies[monitor]);
                let early = plan.health[monitor].next_delay(plan.intervals[monitor], &plan.policies[monitor]);
                grid.finished(monitor, Some(early), Instant::now());
                let pushed = buffer
                    .lock()
                    .map(|mut buffer| buffer.push(result))
                    .unwrap_or_else(|_| Ok(()));
                if let Err(error) = pushed {
                    tracing::error!(%error, "cannot keep a result in the buffer");
                }
                waiting.notify_one();
            }
            _ = tokio::time::sleep_until(next_due.unwrap_or(far)), if next_due.is_some() => {
                for (monitor, due) in grid.take_due(Instant::now()) {
                    launch(&plan.probers, monitor, due, &semaphore, &metrics, &sender);
                }
            }
        }
    }
}
