//! The store contract: what every backend must do, written once. Each backend's test module
//! runs every test here against a fresh database of its own (see `contract_tests!`).

use chrono::{DateTime, Duration as ChronoDuration, TimeZone, Utc};
use pharos_core::{
    ComponentId, ComponentStatus, Dependent, EventKind, Incident, IncidentPhase, IncidentUpdate,
    MonitorHealth, MonitorId, Outcome, Phase, ProbeStatus, TimelineEntry, TimelineKind,
};
use pharos_store::*;
use std::time::Duration;

pub(crate) use crate::exclusions::periods_left_out_of_uptime_count_each_result_once;

pub(crate) fn at(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap()
}

/// A fresh, empty database of the backend under test; dropping it removes it.
pub(crate) struct Database {
    pub(crate) url: pharos_core::DatabaseUrl,
    pub(crate) _guard: Box<dyn std::any::Any + Send>,
}

impl Database {
    /// Opens (or reopens) the store, as `serve` does.
    pub(crate) async fn open(&self) -> std::sync::Arc<dyn Store> {
        pharos_store::open(&self.url, OpenMode::CreateIfMissing)
            .await
            .unwrap()
    }
}

/// The retention `serve` applies by default.
fn default_retention() -> Retention {
    Retention {
        raw_results: Duration::from_secs(7 * 86_400),
        minute_rollups: Duration::from_secs(14 * 86_400),
        rollups: Duration::from_secs(400 * 86_400),
        messages: Duration::from_secs(30 * 86_400),
    }
}

pub(crate) fn incident(id: i64, component: &str) -> Incident {
    Incident {
        dependents: Vec::new(),
        scope: None,
        id,
        component: ComponentId::new(component),
        title: "Mail: major outage".into(),
        phase: IncidentPhase::Investigating,
        impact: ComponentStatus::MajorOutage,
        worst_impact: ComponentStatus::MajorOutage,
        started_at: at(0),
        detected_at: at(5),
        resolved_at: None,
        updates: vec![IncidentUpdate {
            at: at(5),
            phase: IncidentPhase::Investigating,
            message: "Looking".into(),
            automatic: true,
            expected_by: None,
            next_update_by: None,
            edited_at: None,
        }],
        timeline: vec![
            TimelineEntry {
                at: at(0),
                kind: TimelineKind::FirstFailure,
                detail: "connection refused".into(),
            },
            TimelineEntry {
                at: at(5),
                kind: TimelineKind::Detected,
                detail: "confirmed".into(),
            },
        ],
    }
}

pub(crate) fn message(id: &str, due: DateTime<Utc>) -> OutboxMessage {
    OutboxMessage {
        id: id.into(),
        channel_id: "hook".into(),
        event: EventKind::IncidentOpened,
        payload: "{}".into(),
        created_at: due,
        next_attempt_at: due,
        give_up_at: due + ChronoDuration::hours(24),
        attempts: 0,
        state: MessageState::Pending,
        delivered_at: None,
        last_error: None,
        sequence_key: None,
        chain: None,
    }
}

pub(crate) async fn engine_state_survives_reopening_the_file(db: &Database) {
    let health = MonitorHealth {
        confirmed: ProbeStatus::Down,
        problem_streak: 2,
        ..MonitorHealth::default()
    };
    {
        let store = db.open().await;
        let batch = Batch {
            results: vec![ResultRecord {
                monitor: MonitorId::new("smtp"),
                at: at(0),
                outcome: Outcome::down(
                    Duration::from_millis(3),
                    vec![pharos_core::Phase::new("connect", Duration::from_millis(3))],
                    "connection refused",
                ),
            }],
            health: vec![(MonitorId::new("smtp"), health.clone())],
            component_status: vec![(
                ComponentId::new("mail"),
                ComponentStatus::MajorOutage,
                at(5),
            )],
            new_incidents: vec![incident(1, "mail")],
            outbox: vec![message("msg_1", at(5))],
            ..Batch::default()
        };
        store.commit(&batch).await.unwrap();
    }
    let store = db.open().await;
    let state = store.load_engine_state().await.unwrap();
    assert_eq!(state.monitor_health[&MonitorId::new("smtp")], health);
    assert_eq!(
        state.component_status[&ComponentId::new("mail")],
        (ComponentStatus::MajorOutage, at(5))
    );
    assert_eq!(state.open_incidents, vec![incident(1, "mail")]);
    assert_eq!(store.reserve_incident_ids(4).await.unwrap(), 2..6);
    assert_eq!(store.reserve_incident_ids(4).await.unwrap(), 6..10);
    let results = store
        .recent_results(&MonitorId::new("smtp"), 10)
        .await
        .unwrap();
    assert_eq!(
        results[0].outcome.reason.as_deref(),
        Some("connection refused")
    );
    assert_eq!(
        results[0].outcome.phase("connect"),
        Some(Duration::from_millis(3))
    );
    assert_eq!(store.due_messages(at(5), 10).await.unwrap().len(), 1);
}

pub(crate) async fn a_second_open_incident_for_one_component_is_refused_and_nothing_of_its_batch_lands(
    db: &Database,
) {
    let store = db.open().await;
    store
        .commit(&Batch {
            new_incidents: vec![incident(1, "mail")],
            ..Batch::default()
        })
        .await
        .unwrap();
    let duplicate = Batch {
        new_incidents: vec![incident(2, "mail")],
        outbox: vec![message("msg_dup", at(6))],
        ..Batch::default()
    };
    assert!(store.commit(&duplicate).await.is_err());
    assert_eq!(
        store
            .incidents(IncidentQuery::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store.due_messages(at(10), 10).await.unwrap().is_empty(),
        "the failed batch's message must not land"
    );
    // One batch that resolves the open one and opens the next (an operator resolved it while
    // the checks still fail; or two steps merged into one commit) lands whole.
    let mut resolved = incident(1, "mail");
    resolved.phase = IncidentPhase::Resolved;
    resolved.resolved_at = Some(at(20));
    let resolved = IncidentChange::from(&resolved);
    let mut next = incident(3, "mail");
    next.title = "Mail: still failing".into();
    let mut retitled = IncidentChange::from(&next);
    retitled.title = "Mail: still failing, retitled".into();
    store
        .commit(&Batch {
            new_incidents: vec![next],
            incident_changes: vec![resolved, retitled],
            ..Batch::default()
        })
        .await
        .unwrap();
    let stored = store.incidents(IncidentQuery::default()).await.unwrap();
    let first = stored.iter().find(|incident| incident.id == 1).unwrap();
    let second = stored.iter().find(|incident| incident.id == 3).unwrap();
    assert_eq!(first.resolved_at, Some(at(20)));
    assert_eq!(second.resolved_at, None);
    assert_eq!(
        second.title, "Mail: still failing, retitled",
        "a change to a new incident lands after it"
    );
}

pub(crate) async fn resolving_records_time_to_recover_and_keeps_history(db: &Database) {
    let store = db.open().await;
    store
        .commit(&Batch {
            new_incidents: vec![incident(1, "mail")],
            ..Batch::default()
        })
        .await
        .unwrap();
    store
        .commit(&Batch {
            incident_changes: vec![IncidentChange {
                id: 1,
                component: ComponentId::new("mail"),
                title: "Mail: major outage".into(),
                phase: IncidentPhase::Resolved,
                impact: ComponentStatus::MajorOutage,
                worst_impact: ComponentStatus::MajorOutage,
                resolved_at: Some(at(65)),
                dependents: Vec::new(),
                scope: None,
            }],
            new_updates: vec![(
                1,
                IncidentUpdate {
                    at: at(65),
                    phase: IncidentPhase::Resolved,
                    message: "Fixed".into(),
                    automatic: true,
                    expected_by: None,
                    next_update_by: None,
                    edited_at: None,
                },
            )],
            new_timeline: vec![(
                1,
                TimelineEntry {
                    at: at(65),
                    kind: TimelineKind::Recovered,
                    detail: "all monitors up".into(),
                },
            )],
            ..Batch::default()
        })
        .await
        .unwrap();
    let resolved = store.incident(1).await.unwrap().unwrap();
    assert_eq!(resolved.time_to_recover(), Some(Duration::from_secs(65)));
    assert_eq!(resolved.updates.len(), 2);
    assert_eq!(
        resolved.timeline.last().unwrap().kind,
        TimelineKind::Recovered
    );
    assert!(store
        .load_engine_state()
        .await
        .unwrap()
        .open_incidents
        .is_empty());
    // A new incident for the same component may open once the first is resolved.
    store
        .commit(&Batch {
            new_incidents: vec![incident(2, "mail")],
            ..Batch::default()
        })
        .await
        .unwrap();
}

pub(crate) async fn outbox_messages_move_through_retry_delivery_and_give_up(db: &Database) {
    let store = db.open().await;
    store
        .commit(&Batch {
            outbox: vec![message("a", at(0)), message("b", at(0))],
            ..Batch::default()
        })
        .await
        .unwrap();
    let failed = DeliveryAttempt {
        at: at(1),
        duration: Duration::from_millis(20),
        status_code: Some(500),
        error: Some("HTTP 500".into()),
    };
    store
        .record_attempt("a", failed.clone(), NextStep::RetryAt(at(30)))
        .await
        .unwrap();
    assert_eq!(
        store
            .due_messages(at(10), 10)
            .await
            .unwrap()
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(0)));
    store
        .record_attempt(
            "b",
            DeliveryAttempt {
                error: None,
                status_code: Some(204),
                ..failed.clone()
            },
            NextStep::Delivered,
        )
        .await
        .unwrap();
    store
        .record_attempt("a", failed.clone(), NextStep::GiveUp)
        .await
        .unwrap();
    assert_eq!(store.next_due_at().await.unwrap(), None);
    let recent = store.recent_messages(10).await.unwrap();
    let a = recent.iter().find(|(m, _)| m.id == "a").unwrap();
    assert_eq!(
        (a.0.state, a.0.attempts, a.1.len()),
        (MessageState::Failed, 2, 2)
    );
    let b = recent.iter().find(|(m, _)| m.id == "b").unwrap();
    assert_eq!(b.0.state, MessageState::Delivered);
}

pub(crate) async fn roll_ups_aggregate_minutes_hours_and_days_and_prune_respects_retention(
    db: &Database,
) {
    let store = db.open().await;
    let start = Utc.with_ymd_and_hms(2027, 3, 1, 10, 0, 0).unwrap();
    let mut results = Vec::new();
    for index in 0..120 {
        let status = if index % 10 == 0 {
            ProbeStatus::Down
        } else {
            ProbeStatus::Up
        };
        results.push(ResultRecord {
            monitor: MonitorId::new("web"),
            at: start + ChronoDuration::seconds(index * 30),
            outcome: Outcome {
                status,
                latency: Duration::from_millis(index as u64 + 1),
                phases: vec![],
                reason: None,
                detail: None,
            },
        });
    }
    store
        .commit(&Batch {
            results,
            ..Batch::default()
        })
        .await
        .unwrap();
    let report = store
        .roll_up(start + ChronoDuration::hours(2))
        .await
        .unwrap();
    assert_eq!(report.minutes_written, 60);

    let days = store
        .daily_counts(start - ChronoDuration::days(1))
        .await
        .unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!((days[0].counts.total, days[0].counts.down), (120, 12));
    let hours = store.rollups(Resolution::Hour, start).await.unwrap();
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].latency_min, Duration::from_millis(1));
    assert_eq!(hours[0].latency_max, Duration::from_millis(120));
    // Re-running is idempotent.
    store
        .roll_up(start + ChronoDuration::hours(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .daily_counts(start - ChronoDuration::days(1))
            .await
            .unwrap()[0]
            .counts
            .total,
        120
    );

    let retention = default_retention();
    let pruned = store
        .prune(start + ChronoDuration::days(8), &retention)
        .await
        .unwrap();
    assert_eq!(pruned.results_deleted, 120);
    assert_eq!(pruned.rollups_deleted, 0);
    assert_eq!(
        store
            .daily_counts(start - ChronoDuration::days(1))
            .await
            .unwrap()
            .len(),
        1,
        "roll-ups outlive raw results"
    );
    let pruned = store
        .prune(start + ChronoDuration::days(401), &retention)
        .await
        .unwrap();
    assert_eq!(pruned.rollups_deleted, 62);
}

/// Before: after a receiver outage, an incident's `resolved` could be delivered before its
/// `updated`; messages sharing a sequence key on one channel now go strictly in order.
pub(crate) async fn messages_of_one_sequence_are_due_only_in_turn(db: &Database) {
    let store = db.open().await;
    let now = at(100);
    let keyed = |id: &str, key: &str, due| OutboxMessage {
        sequence_key: Some(key.to_owned()),
        ..message(id, due)
    };
    // The first message of sequence A failed once and waits for its retry in the future.
    let batch = Batch {
        outbox: vec![
            keyed("a1_updated", "component:a", at(500)),
            keyed("a2_resolved", "component:a", at(50)),
            keyed("b1_opened", "component:b", at(50)),
            message("loose", at(50)),
        ],
        ..Batch::default()
    };
    store.commit(&batch).await.unwrap();
    let due: Vec<String> = store
        .due_messages(now, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|message| message.id)
        .collect();
    assert_eq!(due, ["b1_opened", "loose"], "a2 waits for a1");
    assert_eq!(store.next_due_at().await.unwrap(), Some(at(50)));

    // Once a1 is delivered, a2 is in turn.
    store
        .record_attempt(
            "a1_updated",
            DeliveryAttempt {
                at: now,
                duration: std::time::Duration::from_millis(5),
                status_code: Some(200),
                error: None,
            },
            NextStep::Delivered,
        )
        .await
        .unwrap();
    let due: Vec<String> = store
        .due_messages(now, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|message| message.id)
        .collect();
    assert!(due.contains(&"a2_resolved".to_owned()), "{due:?}");
}

/// History answers the same whether it is still in rows or sealed into compact blocks:
/// the latest results (with phases, reasons and details) and the minute roll-ups of the
/// charts, across the moment an hour is sealed.
pub(crate) async fn history_reads_the_same_once_sealed(db: &Database) {
    let store = db.open().await;
    let start = Utc.with_ymd_and_hms(2027, 1, 1, 10, 0, 0).unwrap();
    let monitors = [MonitorId::new("smtp"), MonitorId::new("imap")];
    let mut results = Vec::new();
    for index in 0..240i64 {
        for (which, monitor) in monitors.iter().enumerate() {
            let at = start + ChronoDuration::milliseconds(index * 30_000 + (index * 7) % 11);
            let phases = vec![
                Phase::new("connect", Duration::from_micros(300 + index as u64)),
                Phase::new("banner", Duration::from_micros(900 + which as u64)),
            ];
            let outcome = if index % 37 == 0 {
                Outcome::down(Duration::from_millis(5), phases, "connection refused")
            } else if index % 53 == 0 {
                Outcome {
                    detail: Some("TLS 1.3, certificate valid for 40 days".into()),
                    ..Outcome::degraded(Duration::from_millis(900), phases, "slow banner")
                }
            } else {
                Outcome::up(Duration::from_micros(1_300 + index as u64 * 3), phases)
            };
            results.push(ResultRecord {
                monitor: monitor.clone(),
                at,
                outcome,
            });
        }
    }
    store
        .commit(&Batch {
            results: results.clone(),
            ..Batch::default()
        })
        .await
        .unwrap();
    // Rolled up to 10:30: nothing can be sealed yet.
    store
        .roll_up(start + ChronoDuration::minutes(30))
        .await
        .unwrap();
    let latest_in_rows = store.recent_results(&monitors[0], 300).await.unwrap();
    let minutes_in_rows = store.rollups(Resolution::Minute, start).await.unwrap();
    assert_eq!(latest_in_rows.len(), 240);
    // Rolled up to 12:30: the hour from 10:00 and the one from 11:00 are sealed.
    store
        .roll_up(start + ChronoDuration::minutes(150))
        .await
        .unwrap();
    let latest = store.recent_results(&monitors[0], 300).await.unwrap();
    let mut expected: Vec<ResultRecord> = results
        .iter()
        .filter(|record| record.monitor == monitors[0])
        .cloned()
        .collect();
    expected.reverse();
    assert_eq!(
        latest, expected,
        "every result, newest first, exactly as written"
    );
    assert_eq!(latest_in_rows, expected);
    assert_eq!(
        store.recent_results(&monitors[1], 5).await.unwrap(),
        results
            .iter()
            .rev()
            .filter(|record| record.monitor == monitors[1])
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
    );
    let minutes = store.rollups(Resolution::Minute, start).await.unwrap();
    assert_eq!(minutes.len(), 240, "two monitors, two hours");
    assert_eq!(
        minutes[..minutes_in_rows.len() / 2],
        minutes_in_rows[..minutes_in_rows.len() / 2]
    );
    let late = store
        .rollups(Resolution::Minute, start + ChronoDuration::minutes(90))
        .await
        .unwrap();
    assert_eq!(late.len(), 60, "a range starting inside a sealed hour");
    assert!(late
        .iter()
        .all(|rollup| rollup.bucket >= start + ChronoDuration::minutes(90)));
    let days = store
        .daily_counts(start - ChronoDuration::days(1))
        .await
        .unwrap();
    assert_eq!(days.iter().map(|day| day.counts.total).sum::<u64>(), 480);

    // Pruning counts what the blocks held.
    let retention = default_retention();
    let pruned = store
        .prune(start + ChronoDuration::days(8), &retention)
        .await
        .unwrap();
    assert_eq!(pruned.results_deleted, 480);
    assert!(store
        .recent_results(&monitors[0], 5)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .rollups(Resolution::Minute, start)
            .await
            .unwrap()
            .len(),
        240
    );
}

/// Declares one test per contract test, each on a fresh database from `$fresh` (which
/// returns `None`, having said why, when the backend is not available here).
#[macro_export]
macro_rules! contract_tests {
    ($fresh:path) => {
        $crate::contract_tests!(@each $fresh; engine_state_survives_reopening_the_file, a_second_open_incident_for_one_component_is_refused_and_nothing_of_its_batch_lands, resolving_records_time_to_recover_and_keeps_history, a_root_cause_found_later_and_its_dependents_survive_a_restart, outbox_messages_move_through_retry_delivery_and_give_up, roll_ups_aggregate_minutes_hours_and_days_and_prune_respects_retention, history_reads_the_same_once_sealed, messages_of_one_sequence_are_due_only_in_turn, coarser_roll_ups_are_cores_combination_of_finer_ones, agents_are_created_revoked_and_their_progress_only_moves_forward, a_replica_that_lost_its_lease_writes_nothing, operators_sessions_tokens_and_the_audit_log, updates_are_corrected_or_deleted_and_postmortems_kept, scheduled_maintenance_is_loaded_until_cancelled, subscribers_are_confirmed_once_and_fanned_out_once, periods_left_out_of_uptime_count_each_result_once);
    };
    (@each $fresh:path; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(db) = $fresh(stringify!($name)).await else {
                    return;
                };
                $crate::contract::$name(&db).await
            }
        )*
    };
}

pub(crate) async fn a_root_cause_found_later_and_its_dependents_survive_a_restart(db: &Database) {
    let scope = pharos_core::regions::Scope {
        reach: pharos_core::regions::Reach::Localized,
        regions: vec!["eu-west".into()],
        of: 3,
    };
    let store = db.open().await;
    store
        .commit(&Batch {
            new_incidents: vec![incident(1, "smtp")],
            ..Batch::default()
        })
        .await
        .unwrap();
    let dependents = vec![
        Dependent {
            component: ComponentId::new("smtp"),
            status: ComponentStatus::MajorOutage,
            joined_at: at(0),
            recovered_at: Some(at(40)),
            split_into: None,
            by_hand: false,
        },
        Dependent {
            component: ComponentId::new("imap"),
            status: ComponentStatus::PartialOutage,
            joined_at: at(12),
            recovered_at: None,
            split_into: Some(2),
            by_hand: false,
        },
    ];
    store
        .commit(&Batch {
            incident_changes: vec![IncidentChange {
                id: 1,
                component: ComponentId::new("network"),
                title: "Network: major outage".into(),
                phase: IncidentPhase::Investigating,
                impact: ComponentStatus::MajorOutage,
                worst_impact: ComponentStatus::MajorOutage,
                resolved_at: None,
                dependents: dependents.clone(),
                scope: Some(scope.clone()),
            }],
            ..Batch::default()
        })
        .await
        .unwrap();
    drop(store);
    let store = db.open().await;
    let open = store.load_engine_state().await.unwrap().open_incidents;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].component, ComponentId::new("network"));
    assert_eq!(open[0].dependents, dependents);
    assert_eq!(open[0].scope, Some(scope));
    // The old root is free to open an incident of its own.
    store
        .commit(&Batch {
            new_incidents: vec![incident(2, "smtp")],
            ..Batch::default()
        })
        .await
        .unwrap();
}

/// Hours and days are computed from minutes in the database; what they hold is exactly
/// core's `combine` of the minutes (counts add up, the average weighted by count, the lowest
/// minimum, the highest p95 and maximum), whatever the backend's arithmetic.
pub(crate) async fn coarser_roll_ups_are_cores_combination_of_finer_ones(db: &Database) {
    use pharos_core::rollup::{combine, Summary};
    use std::collections::BTreeMap;
    let store = db.open().await;
    let hour = 3_600_000i64;
    let base = 1_800_000_000_000 - 1_800_000_000_000 % hour;
    let mut seed = 42u64;
    let mut next = |below: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % below
    };
    let mut results = Vec::new();
    for monitor in ["a", "b", "c"] {
        for minute in 0..150 {
            if next(5) == 0 {
                continue;
            }
            for _ in 0..1 + next(4) {
                let status = match next(10) {
                    0 => ProbeStatus::Down,
                    1 => ProbeStatus::Degraded,
                    _ => ProbeStatus::Up,
                };
                let at = base + minute * 60_000 + next(59_000) as i64;
                let latency = Duration::from_micros(100 + next(900_000));
                results.push(ResultRecord {
                    monitor: MonitorId::new(monitor),
                    at: Utc.timestamp_millis_opt(at).unwrap(),
                    outcome: match status {
                        ProbeStatus::Up => Outcome::up(latency, vec![]),
                        ProbeStatus::Degraded => Outcome::degraded(latency, vec![], "slow"),
                        _ => Outcome::down(latency, vec![], "refused"),
                    },
                });
            }
        }
    }
    store
        .commit(&Batch {
            results,
            ..Batch::default()
        })
        .await
        .unwrap();
    let start = Utc.timestamp_millis_opt(base).unwrap();
    store
        .roll_up(start + ChronoDuration::hours(4))
        .await
        .unwrap();
    let minutes = store.rollups(Resolution::Minute, start).await.unwrap();
    let hours = store.rollups(Resolution::Hour, start).await.unwrap();
    let summary = |rollup: &Rollup| Summary {
        counts: rollup.counts,
        latency_min: rollup.latency_min,
        latency_avg: rollup.latency_avg,
        latency_p95: rollup.latency_p95,
        latency_max: rollup.latency_max,
    };
    let mut expected: BTreeMap<(String, DateTime<Utc>), Vec<Summary>> = BTreeMap::new();
    for minute in &minutes {
        let hour_start = Utc
            .timestamp_millis_opt(minute.bucket.timestamp_millis() / hour * hour)
            .unwrap();
        expected
            .entry((minute.monitor.as_str().to_owned(), hour_start))
            .or_default()
            .push(summary(minute));
    }
    assert_eq!(hours.len(), expected.len(), "{hours:?}");
    assert_eq!(expected.len(), 9, "three monitors, three hours each");
    for ((monitor, bucket), parts) in &expected {
        let found = hours
            .iter()
            .find(|rollup| rollup.monitor.as_str() == monitor && rollup.bucket == *bucket)
            .unwrap_or_else(|| panic!("no hour {bucket} for {monitor}"));
        assert_eq!(
            summary(found),
            combine(parts).unwrap(),
            "{monitor} at {bucket}"
        );
    }
}

/// An agent's token is kept as given (a hash), a second allowed agent of one name is refused,
/// a revoked one can be replaced, and the stored sequence never goes back.
pub(crate) async fn agents_are_created_revoked_and_their_progress_only_moves_forward(
    db: &Database,
) {
    use pharos_store::{AgentProgress, StoreError};
    let store = db.open().await;
    store.create_agent("paris", "hash-1", at(0)).await.unwrap();
    let refused = store.create_agent("paris", "hash-2", at(1)).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    let progress = |seq| AgentProgress {
        agent: "paris".into(),
        last_seq: seq,
        seen_at: at(seq as i64),
        region: "eu-west".into(),
    };
    for seq in [40, 12] {
        store
            .commit(&Batch {
                agent_progress: vec![progress(seq)],
                ..Batch::default()
            })
            .await
            .unwrap();
    }
    drop(store);
    let store = db.open().await;
    let agents = store.agents().await.unwrap();
    assert_eq!(agents.len(), 1);
    assert_eq!(agents[0].token_hash, "hash-1");
    assert_eq!(
        agents[0].last_seq, 40,
        "a late, older batch does not move it back"
    );
    assert_eq!(agents[0].region.as_deref(), Some("eu-west"));
    assert!(store.revoke_agent("paris", at(50)).await.unwrap());
    assert!(
        !store.revoke_agent("paris", at(51)).await.unwrap(),
        "already revoked"
    );
    assert!(!store.revoke_agent("nobody", at(51)).await.unwrap());
    assert_eq!(store.agents().await.unwrap()[0].revoked_at, Some(at(50)));
    store.create_agent("paris", "hash-3", at(60)).await.unwrap();
    let agents = store.agents().await.unwrap();
    assert_eq!(
        (agents[0].token_hash.as_str(), agents[0].last_seq),
        ("hash-3", 0)
    );
    assert_eq!(agents[0].revoked_at, None);
}

/// Two replicas on one database: one holds the lease and writes under it; once another
/// takes it over (released, or expired), every write of the first is refused whole, and the
/// new holder's token is higher.
pub(crate) async fn a_replica_that_lost_its_lease_writes_nothing(db: &Database) {
    let first = db.open().await;
    let second = db.open().await;
    let ttl = Duration::from_secs(30);
    let lease = first.claim_lease("engine", "first", ttl).await.unwrap();
    assert!(lease.mine);
    let taken = second.claim_lease("engine", "second", ttl).await.unwrap();
    assert!(!taken.mine, "held by the first: {taken:?}");
    assert_eq!(taken.holder, "first");
    first.set_fence(Some(FenceToken {
        lease: "engine".into(),
        holder: "first".into(),
        token: lease.token,
    }));
    let batch = |second: i64| Batch {
        results: vec![ResultRecord {
            monitor: MonitorId::new("smtp"),
            at: at(second),
            outcome: Outcome::up(Duration::from_millis(3), Vec::new()),
        }],
        ..Batch::default()
    };
    first.commit(&batch(1)).await.expect("the holder writes");
    assert!(
        first
            .claim_lease("engine", "first", ttl)
            .await
            .unwrap()
            .mine,
        "renewed"
    );

    first.release_lease("engine", "first").await.unwrap();
    let taken = second.claim_lease("engine", "second", ttl).await.unwrap();
    assert!(taken.mine);
    assert!(taken.token > lease.token, "{taken:?} after {lease:?}");
    let refused = first.commit(&batch(2)).await;
    assert!(matches!(refused, Err(StoreError::Fenced(_))), "{refused:?}");
    assert!(first.reserve_incident_ids(4).await.is_err());
    assert!(matches!(
        first.roll_up(at(3600)).await,
        Err(StoreError::Fenced(_))
    ));
    let stored = second
        .recent_results(&MonitorId::new("smtp"), 10)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "nothing of the fenced write landed");
    second.set_fence(Some(FenceToken {
        lease: "engine".into(),
        holder: "second".into(),
        token: taken.token,
    }));
    second
        .commit(&batch(4))
        .await
        .expect("the new holder writes");
    assert!(
        !first
            .claim_lease("engine", "first", ttl)
            .await
            .unwrap()
            .mine
    );
    let current = first.current_lease("engine").await.unwrap().unwrap();
    assert_eq!(
        (current.holder.as_str(), current.token),
        ("second", taken.token)
    );

    // A lease nobody renews expires by the database's clock and passes on.
    let short = Duration::from_millis(300);
    assert!(
        first
            .claim_lease("other", "first", short)
            .await
            .unwrap()
            .mine
    );
    assert!(
        !second
            .claim_lease("other", "second", short)
            .await
            .unwrap()
            .mine
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = second.claim_lease("other", "second", short).await.unwrap();
    assert!(after.mine && after.token == 2, "{after:?}");
}

/// Users, their sessions and tokens: a session ends on logout, expiry, a password change and
/// the user's removal; a revoked token is no longer found; the audit log keeps every entry,
/// newest first, paged by id.
pub(crate) async fn operators_sessions_tokens_and_the_audit_log(db: &Database) {
    use pharos_core::{Permission, Role};
    let store = db.open().await;
    let user = |name: &str, role| UserRecord {
        name: name.into(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt${name}"),
        role,
        created_at: at(0),
        password_changed_at: at(0),
    };
    store.create_user(&user("ada", Role::Admin)).await.unwrap();
    store.create_user(&user("bob", Role::Editor)).await.unwrap();
    let again = store.create_user(&user("ada", Role::Viewer)).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let names: Vec<_> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|user| (user.name, user.role))
        .collect();
    assert_eq!(
        names,
        vec![("ada".into(), Role::Admin), ("bob".into(), Role::Editor)]
    );

    let session = |hash: &str, owner: &str, from: i64| SessionRecord {
        token_hash: hash.into(),
        user: owner.into(),
        csrf: format!("csrf-{hash}"),
        created_at: at(from),
        expires_at: at(from + 3_600),
        address: Some("192.0.2.7".into()),
    };
    store
        .create_session(&session("s1", "ada", 10))
        .await
        .unwrap();
    store
        .create_session(&session("s2", "ada", 20))
        .await
        .unwrap();
    store
        .create_session(&session("s3", "bob", 30))
        .await
        .unwrap();
    let (found, owner) = store.session("s1", at(100)).await.unwrap().unwrap();
    assert_eq!((found.csrf.as_str(), owner.role), ("csrf-s1", Role::Admin));
    assert!(
        store.session("s1", at(10 + 3_600)).await.unwrap().is_none(),
        "expired"
    );
    assert!(store.delete_session("s1").await.unwrap());
    assert!(store.session("s1", at(100)).await.unwrap().is_none());
    assert!(store
        .update_user("ada", "new-hash", Role::Admin, at(200))
        .await
        .unwrap());
    assert!(
        store.session("s2", at(201)).await.unwrap().is_none(),
        "a changed password ends every session"
    );
    let ada = store.user("ada").await.unwrap().unwrap();
    assert_eq!(
        (ada.password_hash.as_str(), ada.password_changed_at),
        ("new-hash", at(200))
    );
    assert!(store.session("s3", at(201)).await.unwrap().is_some());

    let token = ApiTokenRecord {
        id: "tk1".into(),
        user: "bob".into(),
        label: "cli".into(),
        token_hash: "token-hash-1".into(),
        scopes: vec![Permission::Read, Permission::Incidents],
        created_at: at(300),
        last_used_at: None,
        revoked_at: None,
    };
    store.create_api_token(&token).await.unwrap();
    let (used, owner) = store
        .use_api_token("token-hash-1", at(400))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (used.scopes.clone(), owner.name.as_str()),
        (token.scopes.clone(), "bob")
    );
    let listed = store.api_tokens(Some("bob")).await.unwrap();
    assert_eq!(listed[0].last_used_at, Some(at(400)), "its use is recorded");
    assert!(store.api_tokens(Some("ada")).await.unwrap().is_empty());
    assert!(
        !store
            .revoke_api_token("tk1", Some("ada"), at(500))
            .await
            .unwrap(),
        "not ada's to revoke"
    );
    assert!(store.revoke_api_token("tk1", None, at(500)).await.unwrap());
    assert!(store
        .use_api_token("token-hash-1", at(501))
        .await
        .unwrap()
        .is_none());

    store
        .create_api_token(&ApiTokenRecord {
            id: "tk2".into(),
            token_hash: "token-hash-2".into(),
            ..token.clone()
        })
        .await
        .unwrap();
    assert!(store.remove_user("bob").await.unwrap());
    assert!(!store.remove_user("bob").await.unwrap());
    assert!(store.session("s3", at(600)).await.unwrap().is_none());
    assert!(store
        .use_api_token("token-hash-2", at(600))
        .await
        .unwrap()
        .is_none());
    assert!(store.api_tokens(None).await.unwrap().is_empty());

    for (second, action) in [(1, "login"), (2, "incident.update"), (3, "logout")] {
        store
            .record_audit(&AuditEntry {
                id: 0,
                at: at(second),
                actor: "user:ada".into(),
                action: action.into(),
                target: Some("incident 4".into()),
                detail: None,
                address: Some("192.0.2.7".into()),
            })
            .await
            .unwrap();
    }
    drop(store);
    let store = db.open().await;
    let newest = store.audit_log(2, None).await.unwrap();
    let actions: Vec<_> = newest.iter().map(|entry| entry.action.as_str()).collect();
    assert_eq!(actions, ["logout", "incident.update"]);
    let older = store.audit_log(10, Some(newest[1].id)).await.unwrap();
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].action, "login");
}

/// An operator's correction rewrites an update's words (marked edited), a deletion removes
/// it, and a postmortem is kept with the incident and found by its start.
pub(crate) async fn updates_are_corrected_or_deleted_and_postmortems_kept(db: &Database) {
    let store = db.open().await;
    let mut open = incident(1, "mail");
    open.updates.push(IncidentUpdate {
        at: at(60),
        phase: IncidentPhase::Identified,
        message: "A failed dsik.".into(),
        automatic: false,
        expected_by: None,
        next_update_by: Some(at(600)),
        edited_at: None,
    });
    open.updates.push(IncidentUpdate {
        at: at(70),
        phase: IncidentPhase::Identified,
        message: "Posted twice by mistake.".into(),
        automatic: false,
        expected_by: None,
        next_update_by: None,
        edited_at: None,
    });
    store
        .commit(&Batch {
            new_incidents: vec![open],
            ..Batch::default()
        })
        .await
        .unwrap();
    store
        .commit(&Batch {
            update_edits: vec![
                UpdateEdit {
                    incident: 1,
                    at: at(60),
                    message: Some("A failed disk.".into()),
                    edited_at: at(80),
                },
                UpdateEdit {
                    incident: 1,
                    at: at(70),
                    message: None,
                    edited_at: at(80),
                },
            ],
            postmortems: vec![(
                1,
                Postmortem {
                    text: "A disk failed; we now watch SMART counters.".into(),
                    updated_at: at(90),
                },
            )],
            ..Batch::default()
        })
        .await
        .unwrap();
    let read = store.incident(1).await.unwrap().unwrap();
    assert_eq!(read.updates.len(), 2, "{:?}", read.updates);
    let edited = &read.updates[1];
    assert_eq!(
        (
            edited.message.as_str(),
            edited.edited_at,
            edited.next_update_by
        ),
        ("A failed disk.", Some(at(80)), Some(at(600)))
    );
    assert_eq!(read.updates[0].edited_at, None);
    let postmortems = store.postmortems(at(0)).await.unwrap();
    assert_eq!(postmortems[&1].updated_at, at(90));
    assert!(
        store.postmortems(at(1)).await.unwrap().is_empty(),
        "by the incident's start"
    );
}

/// Maintenance scheduled at run time is part of the engine's state until cancelled.
pub(crate) async fn scheduled_maintenance_is_loaded_until_cancelled(db: &Database) {
    use pharos_core::maintenance::MaintenanceWindow;
    let store = db.open().await;
    let window = |id: &str, hours: i64| MaintenanceWindow {
        id: id.into(),
        title: format!("Work {id}"),
        components: vec![ComponentId::new("mail"), ComponentId::new("dns")],
        start: at(hours * 3_600),
        length: ChronoDuration::minutes(30),
        every: (hours == 2).then(|| ChronoDuration::days(7)),
        message: Some("Brief pauses.".into()),
    };
    store
        .commit(&Batch {
            maintenance: vec![
                MaintenanceChange::Scheduled {
                    window: window("patching", 2),
                    by: "ada".into(),
                    at: at(0),
                },
                MaintenanceChange::Scheduled {
                    window: window("move", 1),
                    by: "ada".into(),
                    at: at(0),
                },
            ],
            ..Batch::default()
        })
        .await
        .unwrap();
    store
        .commit(&Batch {
            maintenance: vec![MaintenanceChange::Cancelled {
                id: "move".into(),
                at: at(10),
            }],
            ..Batch::default()
        })
        .await
        .unwrap();
    drop(store);
    let state = db.open().await.load_engine_state().await.unwrap();
    assert_eq!(state.maintenance, vec![window("patching", 2)]);
}

/// A subscriber is saved once per kind and address (a second sign-up updates the first),
/// confirmed once by its token, and removed; the fan-out adds each message once; a server key
/// is made once and kept.
pub(crate) async fn subscribers_are_confirmed_once_and_fanned_out_once(db: &Database) {
    let store = db.open().await;
    let subscriber = |id: &str, components: &[&str], hash: &str| SubscriberRecord {
        id: id.into(),
        kind: SubscriberKind::Email,
        address: "ada@example.com".into(),
        components: components.iter().map(|id| ComponentId::new(*id)).collect(),
        secret: None,
        confirm_hash: Some(hash.into()),
        created_at: at(0),
        confirmed_at: None,
        signed_up_from: Some("192.0.2.1".into()),
    };
    let first = store
        .save_subscriber(&subscriber("s-1", &["mail"], "h1"))
        .await
        .unwrap();
    assert_eq!(first.id, "s-1");
    let again = store
        .save_subscriber(&subscriber("s-2", &["mail", "dns"], "h2"))
        .await
        .unwrap();
    assert_eq!(again.id, "s-1", "one subscriber per address");
    assert_eq!(again.components.len(), 2);
    assert!(
        !again.follows(&[ComponentId::new("mail")]),
        "not before confirming"
    );
    assert!(
        store
            .confirm_subscriber("h1", at(5))
            .await
            .unwrap()
            .is_none(),
        "the newer token replaced it"
    );
    let confirmed = store
        .confirm_subscriber("h2", at(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(confirmed.confirmed_at, Some(at(10)));
    assert!(
        store
            .confirm_subscriber("h2", at(11))
            .await
            .unwrap()
            .is_none(),
        "once"
    );
    let stored = store.subscriber("s-1").await.unwrap().unwrap();
    assert!(stored.follows(&[ComponentId::new("dns")]));
    assert!(!stored.follows(&[ComponentId::new("web")]));

    let message = crate::contract::message("msg_9.s-1", at(20));
    store.fan_out(std::slice::from_ref(&message)).await.unwrap();
    store.fan_out(&[message]).await.unwrap();
    assert_eq!(
        store.due_messages(at(3_600), 100).await.unwrap().len(),
        1,
        "added once"
    );

    // A link works for two days; a sign-up never confirmed is forgotten then.
    let late = |id: &str, address: &str, hash: &str, created: i64| SubscriberRecord {
        address: address.into(),
        created_at: at(created),
        ..subscriber(id, &["mail"], hash)
    };
    store
        .save_subscriber(&late("s-3", "late@example.com", "h3", 0))
        .await
        .unwrap();
    store
        .save_subscriber(&late("s-4", "renewed@example.com", "h4", 0))
        .await
        .unwrap();
    let two_days = CONFIRMATION_WORKS_FOR.num_seconds();
    // Signing up again sends a new link, which works for two days from then.
    store
        .save_subscriber(&late("s-5", "renewed@example.com", "h5", two_days - 60))
        .await
        .unwrap();
    assert!(
        store
            .confirm_subscriber("h3", at(two_days + 1))
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    let pruned = store
        .prune(at(two_days + 1), &default_retention())
        .await
        .unwrap();
    assert_eq!(pruned.sign_ups_forgotten, 1);
    assert!(store.subscriber("s-3").await.unwrap().is_none());
    assert!(
        store.subscriber("s-1").await.unwrap().is_some(),
        "a confirmed subscriber stays"
    );
    let renewed = store
        .confirm_subscriber("h5", at(two_days + 10))
        .await
        .unwrap()
        .expect("the newer link works");
    assert_eq!(renewed.id, "s-4");
    store.remove_subscriber("s-4").await.unwrap();

    let key = store.server_key("unsubscribe").await.unwrap();
    assert_eq!(key.len(), 64);
    drop(store);
    let store = db.open().await;
    assert_eq!(store.server_key("unsubscribe").await.unwrap(), key, "kept");
    assert_ne!(store.server_key("other").await.unwrap(), key);
    assert!(store.remove_subscriber("s-1").await.unwrap());
    assert!(!store.remove_subscriber("s-1").await.unwrap());
    assert!(store.subscribers().await.unwrap().is_empty());
}
