//! Roll-ups (per minute from raw results; per hour and day from minutes) and retention.

use super::Pool;
use crate::codec::*;
use crate::{DailyCounts, PruneReport, Resolution, Retention, Rollup, RollupReport, StoreResult};
use chrono::{DateTime, Utc};
use pharos_core::rollup::{bucket_start, summarize, Summary};
use pharos_core::uptime::ResultCounts;
use pharos_core::MonitorId;

const WATERMARK: &str = "rollup_watermark";
/// Minutes already rolled up are recomputed this far back, so results stored late (a probe
/// that started before the minute ended and finished after) are still counted.
const LATE_RESULTS_MS: i64 = 15 * 60_000;
/// Raw results are read in chunks of this many milliseconds, to bound memory after downtime.
const CHUNK_MS: i64 = 60 * 60_000;

/// Rows per multi-row INSERT (10 values each, well under SQLite's limit).
const ROWS_PER_STATEMENT: usize = 200;

/// Makes a roll-up insert replace the row of the same bucket.
const REPLACE_ROLLUP: &str = " ON CONFLICT (resolution, bucket, monitor_id) DO UPDATE SET
    total = excluded.total, down = excluded.down, degraded = excluded.degraded,
    latency_min_us = excluded.latency_min_us, latency_avg_us = excluded.latency_avg_us,
    latency_p95_us = excluded.latency_p95_us, latency_max_us = excluded.latency_max_us";

/// monitor, bucket, total, down, degraded, latency min, avg, p95, max.
type RollupRow = (String, i64, i64, i64, i64, i64, i64, i64, i64);

fn floor(millis: i64, resolution: Resolution) -> i64 {
    bucket_start(millis, resolution.millis())
}

pub(super) async fn roll_up(pool: &Pool, now: DateTime<Utc>) -> StoreResult<RollupReport> {
    let end = floor(to_millis(now), Resolution::Minute);
    let watermark: Option<(String,)> = sqlx::query_as("SELECT value FROM meta WHERE key = $1")
        .bind(WATERMARK)
        .fetch_optional(pool)
        .await?;
    let start = match watermark.and_then(|(value,)| value.parse::<i64>().ok()) {
        Some(mark) => mark - LATE_RESULTS_MS,
        None => {
            let (first,): (Option<i64>,) = sqlx::query_as("SELECT MIN(at) FROM results")
                .fetch_one(pool)
                .await?;
            match first {
                Some(first) => floor(first, Resolution::Minute),
                None => end,
            }
        }
    };
    let mut report = RollupReport::default();
    let mut chunk_start = start;
    while chunk_start < end {
        let chunk_end = (chunk_start + CHUNK_MS).min(end);
        report.minutes_written += roll_up_minutes(pool, chunk_start, chunk_end).await?;
        chunk_start = chunk_end;
    }
    if start < end {
        roll_up_coarser(
            pool,
            Resolution::Minute,
            Resolution::Hour,
            floor(start, Resolution::Hour),
            end,
        )
        .await?;
        roll_up_coarser(
            pool,
            Resolution::Hour,
            Resolution::Day,
            floor(start, Resolution::Day),
            end,
        )
        .await?;
    }
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(WATERMARK)
        .bind(end.to_string())
        .execute(pool)
        .await?;
    // What the next roll-up will not read again can be sealed: raw results and minutes
    // before the hour it starts in, hours before its day.
    let next_start = end - LATE_RESULTS_MS;
    super::sealing::seal_results(pool, next_start).await?;
    super::sealing::seal_rollups(
        pool,
        Resolution::Minute,
        floor(next_start, Resolution::Hour),
    )
    .await?;
    super::sealing::seal_rollups(pool, Resolution::Hour, floor(next_start, Resolution::Day))
        .await?;
    Ok(report)
}

/// Aggregates raw results in `[start, end)` into minute buckets (the maths is core's).
async fn roll_up_minutes(pool: &Pool, start: i64, end: i64) -> StoreResult<u64> {
    let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
        "SELECT monitor_id, at, status, latency_us FROM results WHERE at >= $1 AND at < $2 ORDER BY monitor_id, at",
    )
    .bind(start)
    .bind(end)
    .fetch_all(pool)
    .await?;
    let mut buckets: Vec<(String, i64, Summary)> = Vec::new();
    let mut index = 0;
    while index < rows.len() {
        let monitor = &rows[index].0;
        let bucket = floor(rows[index].1, Resolution::Minute);
        let first = index;
        while index < rows.len()
            && &rows[index].0 == monitor
            && floor(rows[index].1, Resolution::Minute) == bucket
        {
            index += 1;
        }
        let results = rows[first..index]
            .iter()
            .map(|(_, _, status, latency)| (status_from_code(*status), from_micros(*latency)));
        if let Some(summary) = summarize(results) {
            buckets.push((monitor.clone(), bucket, summary));
        }
    }
    let written = buckets.len() as u64;
    write_summaries(pool, Resolution::Minute, &buckets).await?;
    Ok(written)
}

/// Recomputes the `to` buckets in `[start, end)` from the finer `from` buckets, in the database:
/// every minute this re-reads the current hour's minutes (up to 60 rows a monitor), and
/// aggregating them where they lie costs a fraction of carrying each row out. The maths is
/// core's `combine`, written in SQL (counts add up, the average is weighted by count, min of
/// the minimums, the highest p95 and maximum); the store contract holds them equal.
async fn roll_up_coarser(
    pool: &Pool,
    from: Resolution,
    to: Resolution,
    start: i64,
    end: i64,
) -> StoreResult<()> {
    let start = floor(start, to);
    super::transaction::write(pool, async |tx| {
        sqlx::query(super::ROLL_UP_COARSER)
            .bind(to.as_str())
            .bind(to.millis())
            .bind(from.as_str())
            .bind(start)
            .bind(end)
            .execute(&mut *tx)
            .await?;
        Ok(())
    })
    .await
}

/// Writes (or replaces) summaries of one resolution, all in one transaction.
async fn write_summaries(
    pool: &Pool,
    resolution: Resolution,
    buckets: &[(String, i64, Summary)],
) -> StoreResult<()> {
    if buckets.is_empty() {
        return Ok(());
    }
    super::transaction::write(pool, async |tx| {
        for chunk in buckets.chunks(ROWS_PER_STATEMENT) {
            let mut insert = sqlx::QueryBuilder::<super::Db>::new(
                "INSERT INTO rollups (monitor_id, resolution, bucket, total, down, degraded, latency_min_us, latency_avg_us, latency_p95_us, latency_max_us) ",
            );
            insert.push_values(chunk, |mut row, (monitor, bucket, summary)| {
                row.push_bind(monitor.as_str())
                    .push_bind(resolution.as_str())
                    .push_bind(*bucket)
                    .push_bind(summary.counts.total as i64)
                    .push_bind(summary.counts.down as i64)
                    .push_bind(summary.counts.degraded as i64)
                    .push_bind(micros(summary.latency_min))
                    .push_bind(micros(summary.latency_avg))
                    .push_bind(micros(summary.latency_p95))
                    .push_bind(micros(summary.latency_max));
            });
            insert.push(REPLACE_ROLLUP);
            insert.build().execute(&mut *tx).await?;
        }
        Ok(())
    })
    .await
}

pub(super) async fn daily_counts(
    pool: &Pool,
    from: DateTime<Utc>,
) -> StoreResult<Vec<DailyCounts>> {
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT monitor_id, bucket, total, down, degraded FROM rollups WHERE resolution = 'day' AND bucket >= $1 ORDER BY bucket",
    )
    .bind(floor(to_millis(from), Resolution::Day))
    .fetch_all(pool)
    .await?;
    let mut days: Vec<DailyCounts> = rows
        .into_iter()
        .map(|(monitor, day, total, down, degraded)| DailyCounts {
            monitor: MonitorId::new(monitor),
            day: from_millis(day),
            counts: ResultCounts {
                total: total as u64,
                down: down as u64,
                degraded: degraded as u64,
            },
        })
        .collect();
    super::exclusions::subtract(pool, &mut days).await?;
    Ok(days)
}

pub(super) async fn list(
    pool: &Pool,
    resolution: Resolution,
    from: DateTime<Utc>,
) -> StoreResult<Vec<Rollup>> {
    let rows: Vec<RollupRow> = sqlx::query_as(
        "SELECT monitor_id, bucket, total, down, degraded, latency_min_us, latency_avg_us, latency_p95_us, latency_max_us
         FROM rollups WHERE resolution = $1 AND bucket >= $2 ORDER BY monitor_id, bucket",
    )
    .bind(resolution.as_str())
    .bind(to_millis(from))
    .fetch_all(pool)
    .await?;
    let mut rollups: Vec<Rollup> =
        super::sealing::sealed_rollups(pool, resolution, to_millis(from)).await?;
    let sealed = rollups.len();
    rollups.extend(rows.iter().map(|row| {
        let monitor = MonitorId::new(row.0.clone());
        super::sealing::rollup_of(&monitor, row)
    }));
    if sealed > 0 {
        rollups.sort_by(|left, right| {
            (left.monitor.as_str(), left.bucket).cmp(&(right.monitor.as_str(), right.bucket))
        });
    }
    Ok(rollups)
}

pub(super) async fn prune(
    pool: &Pool,
    now: DateTime<Utc>,
    retention: &Retention,
) -> StoreResult<PruneReport> {
    let now = to_millis(now);
    let before = |keep: std::time::Duration| {
        now.saturating_sub(i64::try_from(keep.as_millis()).unwrap_or(i64::MAX))
    };
    let results_deleted = sqlx::query("DELETE FROM results WHERE at < $1")
        .bind(before(retention.raw_results))
        .execute(pool)
        .await?
        .rows_affected();
    let minutes = sqlx::query("DELETE FROM rollups WHERE resolution = 'minute' AND bucket < $1")
        .bind(before(retention.minute_rollups))
        .execute(pool)
        .await?
        .rows_affected();
    let coarse =
        sqlx::query("DELETE FROM rollups WHERE resolution IN ('hour', 'day') AND bucket < $1")
            .bind(before(retention.rollups))
            .execute(pool)
            .await?
            .rows_affected();
    let (sealed_results, sealed_rollups) = super::sealing::prune(
        pool,
        before(retention.raw_results),
        before(retention.minute_rollups),
        before(retention.rollups),
    )
    .await?;
    super::exclusions::prune(
        pool,
        before(retention.raw_results),
        before(retention.rollups),
    )
    .await?;
    let finished_before = before(retention.messages);
    let messages_deleted = super::transaction::write(pool, async |tx| {
    sqlx::query("DELETE FROM delivery_attempts WHERE message_id IN (SELECT id FROM outbox WHERE state != 'pending' AND created_at < $1)")
        .bind(finished_before)
        .execute(&mut *tx)
        .await?;
    let messages_deleted =
        sqlx::query("DELETE FROM outbox WHERE state != 'pending' AND created_at < $1")
            .bind(finished_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        Ok(messages_deleted)
    })
    .await?;
    let sign_ups_forgotten = super::subscribers::forget_unconfirmed(pool, from_millis(now)).await?;
    Ok(PruneReport {
        results_deleted: results_deleted + sealed_results,
        rollups_deleted: minutes + coarse + sealed_rollups,
        messages_deleted,
        sign_ups_forgotten,
    })
}
