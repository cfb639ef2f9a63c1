//! Roll-up maths, the same for every store: per-minute summaries of raw results (with an exact
//! p95), and coarser summaries combined from finer ones (where p95 is the highest of the
//! parts: an upper bound). Checks pharos could not run (`unknown`) are left out.

use crate::status::ProbeStatus;
use crate::uptime::ResultCounts;
use std::time::Duration;

/// What a bucket of results came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub counts: ResultCounts,
    pub latency_min: Duration,
    pub latency_avg: Duration,
    pub latency_p95: Duration,
    pub latency_max: Duration,
}

/// The start of the bucket of `size_millis` holding `millis` (both Unix milliseconds).
pub fn bucket_start(millis: i64, size_millis: i64) -> i64 {
    millis - millis.rem_euclid(size_millis.max(1))
}

/// Summarizes raw results; `None` when none of them counts.
pub fn summarize(results: impl IntoIterator<Item = (ProbeStatus, Duration)>) -> Option<Summary> {
    let mut counts = ResultCounts::default();
    let mut latencies = Vec::new();
    for (status, latency) in results {
        match status {
            ProbeStatus::Unknown => continue,
            ProbeStatus::Down => counts.down += 1,
            ProbeStatus::Degraded => counts.degraded += 1,
            ProbeStatus::Up => {}
        }
        counts.total += 1;
        latencies.push(latency);
    }
    if latencies.is_empty() {
        return None;
    }
    latencies.sort_unstable();
    let p95 = latencies[(latencies.len() * 95).div_ceil(100).saturating_sub(1)];
    let sum: Duration = latencies.iter().sum();
    Some(Summary {
        counts,
        latency_min: latencies[0],
        latency_avg: sum / latencies.len() as u32,
        latency_p95: p95,
        latency_max: latencies[latencies.len() - 1],
    })
}

/// Combines finer summaries into a coarser one: counts add up, the average is weighted by
/// count, p95 is the highest part's (an upper bound); `None` for no parts.
pub fn combine(parts: &[Summary]) -> Option<Summary> {
    let mut counts = ResultCounts::default();
    let mut weighted = 0u128;
    for part in parts {
        counts.add(part.counts);
        weighted += part.latency_avg.as_micros() * u128::from(part.counts.total);
    }
    if counts.total == 0 {
        return None;
    }
    let average = weighted / u128::from(counts.total);
    Some(Summary {
        counts,
        latency_min: parts.iter().map(|part| part.latency_min).min()?,
        latency_avg: Duration::from_micros(u64::try_from(average).unwrap_or(u64::MAX)),
        latency_p95: parts.iter().map(|part| part.latency_p95).max()?,
        latency_max: parts.iter().map(|part| part.latency_max).max()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProbeStatus::*;

    fn ms(value: u64) -> Duration {
        Duration::from_millis(value)
    }

    #[test]
    fn a_minute_has_an_exact_p95_and_leaves_unknown_checks_out() {
        let mut results: Vec<(ProbeStatus, Duration)> = (1..=100).map(|n| (Up, ms(n))).collect();
        results[0].0 = Down;
        results[1].0 = Degraded;
        results.push((Unknown, ms(100_000)));
        let summary = summarize(results).unwrap();
        assert_eq!(
            summary.counts,
            ResultCounts {
                total: 100,
                down: 1,
                degraded: 1
            }
        );
        assert_eq!(summary.latency_p95, ms(95));
        assert_eq!(summary.latency_max, ms(100));
        assert_eq!(summary.latency_min, ms(1));
        assert_eq!(summarize([(Unknown, ms(5))]), None);
    }

    #[test]
    fn coarser_summaries_weigh_averages_and_bound_p95() {
        let a = summarize([(Up, ms(10)), (Up, ms(20))]).unwrap();
        let b = summarize([(Down, ms(40))]).unwrap();
        let both = combine(&[a, b]).unwrap();
        assert_eq!(
            both.counts,
            ResultCounts {
                total: 3,
                down: 1,
                degraded: 0
            }
        );
        assert_eq!(
            both.latency_avg,
            Duration::from_micros(23_333),
            "to the microsecond"
        );
        assert_eq!(both.latency_p95, ms(40));
        assert_eq!(combine(&[]), None);
        assert_eq!(bucket_start(125_000, 60_000), 120_000);
        assert_eq!(bucket_start(-1, 60_000), -60_000);
    }
}
