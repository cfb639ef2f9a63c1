//! Probe runs: each waits for a permit (bounding concurrency), times itself and always
//! reports back, even if the probe panics.

use crate::metrics::SchedulerMetrics;
use chrono::{DateTime, Utc};
use pharos_core::Outcome;
use pharos_probe::Prober;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

/// A run that ended.
pub struct Finished {
    pub monitor: usize,
    /// When the run ended: results, detection and incidents are timed by their verdict.
    pub at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub outcome: Outcome,
}

/// Sends a result even if the probe task panics, so its monitor is always rescheduled.
struct ResultGuard {
    monitor: usize,
    results: mpsc::UnboundedSender<Finished>,
    sent: bool,
}

impl ResultGuard {
    fn send(mut self, started_at: DateTime<Utc>, outcome: Outcome) {
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

/// Starts one run of `monitor`, due at `due`; its result arrives on `results`.
pub fn launch(
    probers: &Arc<Vec<Prober>>,
    monitor: usize,
    due: Instant,
    semaphore: &Arc<Semaphore>,
    metrics: &Arc<SchedulerMetrics>,
    results: &mpsc::UnboundedSender<Finished>,
) {
    let probers = probers.clone();
    let semaphore = semaphore.clone();
    let metrics = metrics.clone();
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
