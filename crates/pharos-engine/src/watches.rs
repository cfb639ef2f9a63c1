//! Watch connections for monitors with `watch = true` (shared by the server and its agents):
//! one task per watched monitor holds a session open (`Prober::hold`) and, when the server at
//! the other end goes away, asks for the monitor's check at once; it then opens a new session,
//! backing off while the target refuses. A lost watch is never a failure by itself: the
//! check decides. Watches are bounded in number.

use crate::metrics::SchedulerMetrics;
use pharos_probe::{Prober, WatchEnd};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// The most watch connections one process holds.
pub const MAX_WATCHES: usize = 1_000;

/// A session lost sooner than this after it opened asks for no check (a service that closes
/// idle connections at once would otherwise be checked in a loop); the next session waits
/// longer.
const SHORT_SESSION: Duration = Duration::from_secs(1);
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The running watches; they stop when this is dropped.
#[derive(Default)]
pub struct Watches {
    tasks: Vec<AbortHandle>,
}

impl Drop for Watches {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Watches {
    /// Starts a watch for each of `watched` (monitor index and name) whose check can be
    /// watched; a lost session sends its monitor's index on `checks`.
    pub fn start(
        probers: &Arc<Vec<Prober>>,
        watched: &[(usize, String)],
        checks: mpsc::UnboundedSender<usize>,
        metrics: &Arc<SchedulerMetrics>,
    ) -> Self {
        let mut tasks = Vec::new();
        for (monitor, name) in watched {
            if !probers[*monitor].can_watch() {
                continue;
            }
            if tasks.len() == MAX_WATCHES {
                tracing::warn!(
                    "more than {MAX_WATCHES} monitors ask for a watch connection; {name} and those after it are checked on their schedule only"
                );
                break;
            }
            let task = tokio::spawn(watch(
                probers.clone(),
                *monitor,
                name.clone(),
                checks.clone(),
                metrics.clone(),
            ));
            tasks.push(task.abort_handle());
        }
        Self { tasks }
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

/// Counts an open session for as long as it is held.
struct Open<'a>(&'a SchedulerMetrics, std::sync::atomic::AtomicBool);

impl Open<'_> {
    fn opened(&self) {
        if !self.1.swap(true, Ordering::Relaxed) {
            self.0.watches_open.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        if *self.1.get_mut() {
            self.0.watches_open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

async fn watch(
    probers: Arc<Vec<Prober>>,
    monitor: usize,
    name: String,
    checks: mpsc::UnboundedSender<usize>,
    metrics: Arc<SchedulerMetrics>,
) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let open = Open(&metrics, std::sync::atomic::AtomicBool::new(false));
        let opened_at = std::sync::Mutex::new(None);
        let end = probers[monitor]
            .hold(&|| {
                open.opened();
                if let Ok(mut at) = opened_at.lock() {
                    *at = Some(tokio::time::Instant::now());
                }
            })
            .await;
        drop(open);
        let held = opened_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .map(|at| at.elapsed())
            .unwrap_or_default();
        match end {
            WatchEnd::Lost(reason) => {
                metrics.watches_lost.fetch_add(1, Ordering::Relaxed);
                if held >= SHORT_SESSION {
                    tracing::info!(monitor = name, "watch lost: {reason}; checking {name} now");
                    if checks.send(monitor).is_err() {
                        return;
                    }
                    backoff = FIRST_BACKOFF;
                } else {
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
            WatchEnd::CouldNotOpen(reason) => {
                tracing::debug!(monitor = name, "watch cannot open: {reason}");
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            WatchEnd::Closed => backoff = FIRST_BACKOFF,
        }
        tokio::time::sleep(backoff).await;
    }
}
