//! Storage footprint: writes one day of results for 100 monitors at a 30 s interval (TCP-like
//! phases, 1% failures with a reason), rolls them up, and reports bytes per monitor-month for
//! raw results and for roll-ups, measured from the database file.
//!
//! Run: `cargo bench -p pharos-store --bench storage`

use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use pharos_core::{MonitorId, Outcome, Phase};
use pharos_store::{Batch, ResultRecord, SqliteStore, Store};
use std::path::Path;
use std::time::Duration;

const MONITORS: usize = 100;
const INTERVAL_SECONDS: i64 = 30;
const DAYS: i64 = 1;

fn file_bytes(path: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", path.display())).ok())
        .map(|metadata| metadata.len())
        .sum()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("storage.db");
        let store = SqliteStore::open(path.to_str().unwrap())
            .await
            .expect("a store");
        let empty = file_bytes(&path);
        let start = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let runs = DAYS * 86_400 / INTERVAL_SECONDS;
        for run in 0..runs {
            let at = start + ChronoDuration::seconds(run * INTERVAL_SECONDS);
            let results = (0..MONITORS)
                .map(|monitor| {
                    let phases = vec![
                        Phase::new("dns", Duration::from_micros(40 + monitor as u64)),
                        Phase::new("connect", Duration::from_micros(300 + (run as u64 % 97))),
                        Phase::new("banner", Duration::from_micros(900 + (run as u64 % 13))),
                    ];
                    let outcome = if (run as usize + monitor).is_multiple_of(100) {
                        Outcome::down(Duration::from_millis(3), phases, "connection refused")
                    } else {
                        Outcome::up(Duration::from_micros(1_300 + (run as u64 % 200)), phases)
                    };
                    ResultRecord {
                        monitor: MonitorId::new(format!("monitor-{monitor:04}")),
                        at,
                        outcome,
                    }
                })
                .collect();
            store
                .commit(&Batch {
                    results,
                    ..Batch::default()
                })
                .await
                .expect("a commit");
        }
        let raw = file_bytes(&path) - empty;
        store
            .roll_up(start + ChronoDuration::days(DAYS))
            .await
            .expect("a roll-up");
        let with_rollups = file_bytes(&path) - empty;
        let rollups = with_rollups - raw;
        let month_factor = 30.0 / DAYS as f64 / MONITORS as f64;
        let per_result = raw as f64 / (runs as f64 * MONITORS as f64);
        println!(
            "{MONITORS} monitors, {DAYS} day at a {INTERVAL_SECONDS} s interval: {} results",
            runs * MONITORS as i64
        );
        println!("| what | per result | per monitor-month |");
        println!("|---|---|---|");
        println!(
            "| raw results (with indexes) | {per_result:.0} B | {:.1} MiB |",
            raw as f64 * month_factor / 1_048_576.0
        );
        println!(
            "| roll-ups (minute + hour + day) | – | {:.2} MiB |",
            rollups as f64 * month_factor / 1_048_576.0
        );
    });
}
