//! Storage footprint at steady state: simulates the whole retention period (410 days, so
//! that the 400-day hour and day roll-ups are full) for a few monitors at a 30 s interval,
//! day by day as `serve` would: results committed as they come (three phase timings each,
//! scheduler jitter, varying latency, 1% failures with a reason), rolled up (which seals
//! what can no longer change into compact blocks) and pruned with the default retention.
//! Then it measures the pages the database really uses, per monitor.
//!
//! Run: `cargo bench -p pharos-store --bench storage`
//! Options (environment): PHAROS_BENCH_MONITORS (4), PHAROS_BENCH_DAYS (410),
//! PHAROS_BENCH_KEEP (a path to copy the database to, for a closer look),
//! PHAROS_BENCH_BACKEND (`sqlite`, or `postgres` on a throwaway server the bench starts).

#[path = "../tests/store/pg_server.rs"]
mod pg_server;

use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use pharos_core::{MonitorId, Outcome, Phase};
use pharos_store::{Batch, PostgresStore, ResultRecord, Retention, SqliteStore, Store};
use std::time::{Duration, Instant};

/// Where the bench writes: a SQLite file or a PostgreSQL database.
enum Target {
    Sqlite(String),
    Postgres(String),
}

impl Target {
    /// Bytes the database uses for pharos's tables.
    async fn used_bytes(&self) -> u64 {
        match self {
            Target::Sqlite(path) => used_bytes(path).await,
            Target::Postgres(url) => {
                use sqlx::Connection;
                let mut connection = sqlx::PgConnection::connect(url)
                    .await
                    .expect("a connection");
                // What autovacuum would have done by now: dead rows' space made reusable.
                sqlx::query("VACUUM")
                    .execute(&mut connection)
                    .await
                    .expect("vacuum");
                let (bytes,): (i64,) = sqlx::query_as(
                    "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT)
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE n.nspname = 'public' AND c.relkind = 'r'",
                )
                .fetch_one(&mut connection)
                .await
                .expect("sizes");
                bytes as u64
            }
        }
    }
}

const INTERVAL_SECONDS: i64 = 30;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator: the same history on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Bytes in pages the database uses (free pages left out: SQLite reuses them).
async fn used_bytes(path: &str) -> u64 {
    use sqlx::Connection;
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .expect("a connection");
    let query = |pragma: &'static str| sqlx::query_as::<_, (i64,)>(pragma);
    let (pages,) = query("PRAGMA page_count")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let (free,) = query("PRAGMA freelist_count")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    let (size,) = query("PRAGMA page_size")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    ((pages - free) * size) as u64
}

/// On PostgreSQL: each table's size with its indexes and TOAST, per monitor.
async fn table_sizes(url: &str, monitors: usize) {
    use sqlx::Connection;
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .expect("a connection");
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT c.relname, CAST(pg_total_relation_size(c.oid) AS BIGINT),
                CAST(pg_relation_size(c.oid) AS BIGINT)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC",
    )
    .fetch_all(&mut connection)
    .await
    .expect("sizes");
    for (table, total, heap) in rows {
        eprintln!(
            "{table}: {} KiB per monitor ({} KiB of it the table itself)",
            total / monitors as i64 / 1024,
            heap / monitors as i64 / 1024
        );
    }
}

/// What each kind of history holds per monitor: rows, blocks and their bytes.
async fn breakdown(path: &str, monitors: usize) {
    use sqlx::Connection;
    let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite://{path}"))
        .await
        .expect("a connection");
    let queries = [
        ("raw results, open rows", "SELECT COUNT(*), 0, 0 FROM results"),
        ("raw results, sealed blocks", "SELECT COUNT(*), COALESCE(SUM(count), 0), COALESCE(SUM(LENGTH(data)), 0) FROM result_blocks"),
        ("minute roll-ups, open rows", "SELECT COUNT(*), 0, 0 FROM rollups WHERE resolution = 'minute'"),
        ("minute roll-ups, sealed blocks", "SELECT COUNT(*), COALESCE(SUM(count), 0), COALESCE(SUM(LENGTH(data)), 0) FROM minute_blocks"),
        ("hour roll-ups, open rows", "SELECT COUNT(*), 0, 0 FROM rollups WHERE resolution = 'hour'"),
        ("hour roll-ups, sealed blocks", "SELECT COUNT(*), COALESCE(SUM(count), 0), COALESCE(SUM(LENGTH(data)), 0) FROM hour_blocks"),
        ("day roll-ups, rows", "SELECT COUNT(*), 0, 0 FROM rollups WHERE resolution = 'day'"),
    ];
    for (what, query) in queries {
        let (rows, entries, bytes): (i64, i64, i64) = sqlx::query_as(query)
            .fetch_one(&mut connection)
            .await
            .expect("a count");
        let per = monitors as i64;
        if entries > 0 {
            eprintln!(
                "{what}: {} blocks of {} entries per monitor, {} KiB of block data ({:.1} B an entry)",
                rows / per,
                entries / per,
                bytes / per / 1024,
                bytes as f64 / entries as f64
            );
        } else {
            eprintln!("{what}: {} per monitor", rows / per);
        }
    }
}

fn main() {
    let monitors = setting("PHAROS_BENCH_MONITORS", 4) as usize;
    let days = setting("PHAROS_BENCH_DAYS", 410) as i64;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("storage.db");
        let path = path.to_str().unwrap().to_owned();
        let postgres = std::env::var("PHAROS_BENCH_BACKEND").as_deref() == Ok("postgres");
        let (target, store): (Target, Box<dyn Store>) = if postgres {
            let url = pg_server::fresh_database("the storage bench")
                .expect("PostgreSQL is installed (see the notice)");
            let store = PostgresStore::open(&url).await.expect("a store");
            (Target::Postgres(url), Box::new(store))
        } else {
            let store = SqliteStore::open(&path).await.expect("a store");
            (Target::Sqlite(path.clone()), Box::new(store))
        };
        let empty = target.used_bytes().await;
        let retention = Retention {
            raw_results: Duration::from_secs(7 * 86_400),
            minute_rollups: Duration::from_secs(14 * 86_400),
            rollups: Duration::from_secs(400 * 86_400),
            messages: Duration::from_secs(30 * 86_400),
        };
        let ids: Vec<MonitorId> = (0..monitors)
            .map(|monitor| MonitorId::new(format!("monitor-{monitor:04}")))
            .collect();
        let mut random = Lcg(42);
        let start = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let runs_per_hour = 3600 / INTERVAL_SECONDS;
        let began = Instant::now();
        let mut results_written = 0u64;
        for day in 0..days {
            for hour in 0..24 {
                let mut results = Vec::with_capacity(monitors * runs_per_hour as usize);
                for run in 0..runs_per_hour {
                    let due = start
                        + ChronoDuration::days(day)
                        + ChronoDuration::hours(hour)
                        + ChronoDuration::seconds(run * INTERVAL_SECONDS);
                    for monitor in &ids {
                        let at = due + ChronoDuration::milliseconds(random.next(20) as i64);
                        let dns = 40 + random.next(400);
                        let connect = 300 + random.next(3_000);
                        let banner = 900 + random.next(9_000);
                        let phases = vec![
                            Phase::new("dns", Duration::from_micros(dns)),
                            Phase::new("connect", Duration::from_micros(connect)),
                            Phase::new("banner", Duration::from_micros(banner)),
                        ];
                        let latency = Duration::from_micros(dns + connect + banner + 50);
                        let outcome = if random.next(100) == 0 {
                            Outcome::down(latency, phases, "connection refused")
                        } else {
                            Outcome::up(latency, phases)
                        };
                        results.push(ResultRecord {
                            monitor: monitor.clone(),
                            at,
                            outcome,
                        });
                    }
                }
                results_written += results.len() as u64;
                store
                    .commit(&Batch {
                        results,
                        ..Batch::default()
                    })
                    .await
                    .expect("a commit");
            }
            let day_end = start + ChronoDuration::days(day + 1);
            store.roll_up(day_end).await.expect("a roll-up");
            store.prune(day_end, &retention).await.expect("pruning");
            if let Target::Postgres(url) = &target {
                // What autovacuum does many times a day on a live server (here a day passes
                // in a fraction of a second, too fast for it): dead rows' space made
                // reusable.
                use sqlx::Connection;
                let mut connection = sqlx::PgConnection::connect(url).await.expect("a connection");
                sqlx::query("VACUUM")
                    .execute(&mut connection)
                    .await
                    .expect("vacuum");
            }
            if (day + 1) % 50 == 0 {
                eprintln!(
                    "day {}: {:.2} MiB per monitor ({:.0?})",
                    day + 1,
                    (target.used_bytes().await - empty) as f64 / monitors as f64 / 1_048_576.0,
                    began.elapsed()
                );
            }
        }
        match &target {
            Target::Sqlite(_) => breakdown(&path, monitors).await,
            Target::Postgres(url) => table_sizes(url, monitors).await,
        }
        let used = target.used_bytes().await - empty;
        let per_monitor = used as f64 / monitors as f64 / 1_048_576.0;
        eprintln!(
            "{monitors} monitors, {days} days at a {INTERVAL_SECONDS} s interval, {results_written} results, default retention, in {:.0?}",
            began.elapsed()
        );
        let backend = if postgres { "PostgreSQL" } else { "SQLite" };
        println!("steady state per monitor ({backend}): {per_monitor:.2} MiB");
        if let (Ok(keep), false) = (std::env::var("PHAROS_BENCH_KEEP"), postgres) {
            drop(store);
            std::fs::copy(&path, &keep).expect("a copy of the database");
            eprintln!("database kept at {keep}");
        }
    });
}
