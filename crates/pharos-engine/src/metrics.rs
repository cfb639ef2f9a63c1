//! Scheduler measurements: probes run, slots skipped, how late probes start, watch
//! connections.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Lateness is counted in 1 ms buckets up to this many, plus one overflow bucket.
const BUCKETS: usize = 2_000;

pub struct SchedulerMetrics {
    pub probes_started: AtomicU64,
    pub probes_finished: AtomicU64,
    /// Slots skipped because the previous run of the same monitor was still going.
    pub slots_skipped: AtomicU64,
    /// Watch connections held open now.
    pub watches_open: AtomicU64,
    /// Watch connections lost (each asks for a check at once).
    pub watches_lost: AtomicU64,
    lateness: Box<[AtomicU64]>,
}

impl Default for SchedulerMetrics {
    fn default() -> Self {
        Self {
            probes_started: AtomicU64::new(0),
            probes_finished: AtomicU64::new(0),
            slots_skipped: AtomicU64::new(0),
            watches_open: AtomicU64::new(0),
            watches_lost: AtomicU64::new(0),
            lateness: (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl SchedulerMetrics {
    pub(crate) fn record_lateness(&self, lateness: Duration) {
        let bucket = (lateness.as_millis() as usize).min(BUCKETS);
        self.lateness[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// The lateness below which `quantile` (0..1) of probe starts fell, to the millisecond;
    /// `None` before any probe started.
    pub fn lateness_quantile(&self, quantile: f64) -> Option<Duration> {
        let counts: Vec<u64> = self
            .lateness
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let target = ((total as f64) * quantile).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, count) in counts.iter().enumerate() {
            seen += count;
            if seen >= target {
                return Some(Duration::from_millis(bucket as u64 + 1));
            }
        }
        Some(Duration::from_millis(BUCKETS as u64 + 1))
    }

    pub fn reset_lateness(&self) {
        for bucket in self.lateness.iter() {
            bucket.store(0, Ordering::Relaxed);
        }
    }
}
