//! Periods left out of uptime: each covered result leaves the day counts once, whether it
//! is still a row or sealed in a block, for every region's series of the monitor, across
//! midnight, overlapping periods, a reopening and pruning.

use crate::contract::Database;
use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use pharos_core::{MonitorId, Outcome, ProbeStatus};
use pharos_store::*;
use std::time::Duration;

fn counts(days: &[DailyCounts], monitor: &str) -> Vec<(u64, u64)> {
    let mut found: Vec<_> = days
        .iter()
        .filter(|day| day.monitor.as_str() == monitor)
        .map(|day| (day.day, (day.counts.total, day.counts.down)))
        .collect();
    found.sort_by_key(|(day, _)| *day);
    found.into_iter().map(|(_, counts)| counts).collect()
}

pub(crate) async fn periods_left_out_of_uptime_count_each_result_once(db: &Database) {
    let store = db.open().await;
    // Two hours of results every 30 s over midnight; down from 23:30 to 00:30.
    let start = Utc.with_ymd_and_hms(2027, 3, 1, 23, 0, 0).unwrap();
    let outage = start + ChronoDuration::minutes(30)..start + ChronoDuration::minutes(90);
    let mut results = Vec::new();
    for series in ["web", "web@eu", "other"] {
        for index in 0..240 {
            let at = start + ChronoDuration::seconds(index * 30);
            results.push(ResultRecord {
                monitor: MonitorId::new(series),
                at,
                outcome: Outcome {
                    status: if outage.contains(&at) {
                        ProbeStatus::Down
                    } else {
                        ProbeStatus::Up
                    },
                    latency: Duration::from_millis(5),
                    phases: vec![],
                    reason: None,
                    detail: None,
                },
            });
        }
    }
    store
        .commit(&Batch {
            results,
            ..Batch::default()
        })
        .await
        .unwrap();
    // Rolled up and partly sealed, as two hours later.
    store
        .roll_up(start + ChronoDuration::hours(3))
        .await
        .unwrap();
    let since = start - ChronoDuration::days(1);
    let before = store.daily_counts(since).await.unwrap();
    assert_eq!(counts(&before, "web"), [(120, 60), (120, 60)]);

    let exclude = |from: i64, to: i64, reason: &str| Batch {
        uptime_exclusions: vec![UptimeExclusion {
            monitors: vec![MonitorId::new("web")],
            start: start + ChronoDuration::minutes(from),
            end: start + ChronoDuration::minutes(to),
            reason: reason.to_owned(),
        }],
        ..Batch::default()
    };
    store
        .commit(&exclude(30, 90, "false-alarm:7"))
        .await
        .unwrap();
    let after = store.daily_counts(since).await.unwrap();
    assert_eq!(counts(&after, "web"), [(60, 0), (60, 0)], "both days");
    assert_eq!(
        counts(&after, "web@eu"),
        [(60, 0), (60, 0)],
        "its region's series too"
    );
    assert_eq!(
        counts(&after, "other"),
        [(120, 60), (120, 60)],
        "only the monitors named"
    );

    // A period overlapping the first takes only what the first left: 00:30 to 00:45.
    store
        .commit(&exclude(45, 105, "maintenance:db"))
        .await
        .unwrap();
    let after = store.daily_counts(since).await.unwrap();
    assert_eq!(counts(&after, "web"), [(60, 0), (30, 0)]);
    assert_eq!(
        store.load_engine_state().await.unwrap().uptime_exclusions,
        2,
        "replicas can tell that uptime changed"
    );

    // Rolling up again, reopening and pruning raw results change nothing.
    store
        .roll_up(start + ChronoDuration::hours(3))
        .await
        .unwrap();
    drop(store);
    let store = db.open().await;
    assert_eq!(
        counts(&store.daily_counts(since).await.unwrap(), "web"),
        [(60, 0), (30, 0)]
    );
    let retention = Retention {
        raw_results: Duration::from_secs(7 * 86_400),
        minute_rollups: Duration::from_secs(14 * 86_400),
        rollups: Duration::from_secs(400 * 86_400),
        messages: Duration::from_secs(30 * 86_400),
    };
    store
        .prune(start + ChronoDuration::days(8), &retention)
        .await
        .unwrap();
    assert_eq!(
        counts(&store.daily_counts(since).await.unwrap(), "web"),
        [(60, 0), (30, 0)],
        "what was left out stays out once the raw results are gone"
    );
}
