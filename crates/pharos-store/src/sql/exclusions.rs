//! Periods left out of uptime (maintenance windows, false alarms): when one is written, the
//! check results it covers (raw rows and sealed blocks alike, every region's series of the
//! monitor) are counted per series and day, leaving out those an earlier period covers
//! already; uptime reads the day roll-ups less those counts.

use super::{Conn, Pool};
use crate::block;
use crate::codec::*;
use crate::{DailyCounts, StoreResult, UptimeExclusion};
use pharos_core::rollup::bucket_start;
use pharos_core::uptime::ResultCounts;
use pharos_core::ProbeStatus;
use std::collections::HashMap;

const DAY_MS: i64 = 86_400_000;

/// The `meta` key counting the periods written.
const WRITTEN: &str = "uptime_exclusions_written";

/// How many periods have been written, ever.
pub(super) async fn written(pool: &Pool) -> StoreResult<u64> {
    let value: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
        .bind(WRITTEN)
        .fetch_optional(pool)
        .await?;
    Ok(value.and_then(|(value,)| value.parse().ok()).unwrap_or(0))
}

/// Writes the periods, in the engine's transaction, and what their results came to.
pub(super) async fn write(tx: &mut Conn, exclusions: &[UptimeExclusion]) -> StoreResult<()> {
    if exclusions.is_empty() {
        return Ok(());
    }
    let before: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
        .bind(WRITTEN)
        .fetch_optional(&mut *tx)
        .await?;
    let count = before
        .and_then(|(value,)| value.parse::<u64>().ok())
        .unwrap_or(0)
        + exclusions.len() as u64;
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(WRITTEN)
    .bind(count.to_string())
    .execute(&mut *tx)
    .await?;
    for exclusion in exclusions {
        let (start, end) = (to_millis(exclusion.start), to_millis(exclusion.end));
        if end <= start {
            continue;
        }
        for monitor in &exclusion.monitors {
            let earlier: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT start_at, end_at FROM uptime_exclusions WHERE monitor_id = $1 AND start_at < $3 AND end_at > $2",
            )
            .bind(monitor.as_str())
            .bind(start)
            .bind(end)
            .fetch_all(&mut *tx)
            .await?;
            let covered = |at: i64| earlier.iter().any(|(from, to)| *from <= at && at < *to);
            let mut counts: HashMap<(String, i64), ResultCounts> = HashMap::new();
            for (series, at, status) in results_in(tx, monitor.as_str(), start, end).await? {
                if covered(at) || status == ProbeStatus::Unknown {
                    continue;
                }
                let day = counts
                    .entry((series, bucket_start(at, DAY_MS)))
                    .or_default();
                day.total += 1;
                match status {
                    ProbeStatus::Down => day.down += 1,
                    ProbeStatus::Degraded => day.degraded += 1,
                    _ => {}
                }
            }
            for ((series, day), counted) in counts {
                sqlx::query(
                    "INSERT INTO uptime_adjustments (monitor_id, day, total, down, degraded) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (monitor_id, day) DO UPDATE SET total = uptime_adjustments.total + excluded.total,
                     down = uptime_adjustments.down + excluded.down, degraded = uptime_adjustments.degraded + excluded.degraded",
                )
                .bind(series)
                .bind(day)
                .bind(counted.total as i64)
                .bind(counted.down as i64)
                .bind(counted.degraded as i64)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "INSERT INTO uptime_exclusions (monitor_id, start_at, end_at, reason) VALUES ($1, $2, $3, $4)",
            )
            .bind(monitor.as_str())
            .bind(start)
            .bind(end)
            .bind(exclusion.reason.as_str())
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// Every result of `monitor` (and its `monitor@region` series) in `[start, end)`: series, time
/// and status.
async fn results_in(
    tx: &mut Conn,
    monitor: &str,
    start: i64,
    end: i64,
) -> StoreResult<Vec<(String, i64, ProbeStatus)>> {
    // `_` and `%` are wildcards to LIKE: the series are checked exactly below.
    let regions = format!("{monitor}@%");
    let ours = |series: &str| series == monitor || series.split('@').next() == Some(monitor);
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT monitor_id, at, status FROM results WHERE (monitor_id = $1 OR monitor_id LIKE $2) AND at >= $3 AND at < $4",
    )
    .bind(monitor)
    .bind(&regions)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *tx)
    .await?;
    let mut found: Vec<(String, i64, ProbeStatus)> = rows
        .into_iter()
        .filter(|(series, _, _)| ours(series))
        .map(|(series, at, status)| (series, at, status_from_code(status)))
        .collect();
    let blocks: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT monitor_id, data FROM result_blocks WHERE (monitor_id = $1 OR monitor_id LIKE $2) AND last_at >= $3 AND first_at < $4",
    )
    .bind(monitor)
    .bind(&regions)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *tx)
    .await?;
    for (series, data) in blocks {
        if !ours(&series) {
            continue;
        }
        let results =
            block::decode_results(&data).map_err(|bad| corrupt("result_blocks", bad.0))?;
        for result in results {
            let at = to_millis(result.at);
            if (start..end).contains(&at) {
                found.push((series.clone(), at, result.outcome.status));
            }
        }
    }
    Ok(found)
}

/// Takes what excluded periods came to off day rows read from the roll-ups.
pub(super) async fn subtract(pool: &Pool, rows: &mut [DailyCounts]) -> StoreResult<()> {
    let Some(first) = rows.iter().map(|row| to_millis(row.day)).min() else {
        return Ok(());
    };
    let adjustments: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT monitor_id, day, total, down, degraded FROM uptime_adjustments WHERE day >= $1",
    )
    .bind(first)
    .fetch_all(pool)
    .await?;
    if adjustments.is_empty() {
        return Ok(());
    }
    let by_day: HashMap<(&str, i64), (i64, i64, i64)> = adjustments
        .iter()
        .map(|(series, day, total, down, degraded)| {
            ((series.as_str(), *day), (*total, *down, *degraded))
        })
        .collect();
    for row in rows.iter_mut() {
        if let Some((total, down, degraded)) =
            by_day.get(&(row.monitor.as_str(), to_millis(row.day)))
        {
            // Results counted for an exclusion may not have rolled up yet: never below zero.
            let less = |count: u64, by: i64| count.saturating_sub(u64::try_from(by).unwrap_or(0));
            row.counts = ResultCounts {
                total: less(row.counts.total, *total),
                down: less(row.counts.down, *down),
                degraded: less(row.counts.degraded, *degraded),
            };
        }
    }
    Ok(())
}

/// Forgets periods whose results are gone and counts of days whose roll-ups are.
pub(super) async fn prune(pool: &Pool, results_before: i64, days_before: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM uptime_exclusions WHERE end_at < $1")
        .bind(results_before)
        .execute(pool)
        .await?;
    sqlx::query("DELETE FROM uptime_adjustments WHERE day < $1")
        .bind(days_before)
        .execute(pool)
        .await?;
    Ok(())
}
