//! Copying a SQLite store into PostgreSQL (`pharos db migrate-from`): what the engine, the
//! page and the outbox read back through the `Store` API is the same on both sides; an
//! interrupted copy resumes without copying a row twice; a second copy and a target holding
//! other data are refused.

use crate::contract::{at, incident, message};
use crate::pg_server::fresh_database;
use pharos_core::{
    ComponentId, ComponentStatus, IncidentPhase, IncidentUpdate, MonitorHealth, MonitorId, Outcome,
    Phase, ProbeStatus,
};
use pharos_store::migrate::{sqlite_to_postgres, MigrateError};
use pharos_store::*;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

const MONITORS: [&str; 3] = ["smtp", "imap", "web"];

/// A store with sealed history (three hours of results every 5 s, rolled up and sealed), an
/// open head of more than one copy chunk, an open incident with updates, and notifications
/// in a sequence, one of them attempted.
async fn populated(path: &std::path::Path) -> SqliteStore {
    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    let outcome = |index: i64| {
        let latency = Duration::from_micros(1_000 + (index * 7_919 % 90_000) as u64);
        match index % 17 {
            0 => Outcome::down(latency, vec![], "connection refused"),
            1 => Outcome::degraded(latency, vec![], "slow"),
            _ => Outcome::up(
                latency,
                vec![Phase::new("connect", Duration::from_micros(300))],
            ),
        }
        .with_detail((index % 5 == 0).then(|| format!("detail {index}")))
    };
    let mut results = Vec::new();
    for step in 0..(3 * 720) {
        for (number, monitor) in MONITORS.iter().enumerate() {
            results.push(ResultRecord {
                monitor: MonitorId::new(*monitor),
                at: at(step * 5 + number as i64),
                outcome: outcome(step + number as i64),
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
    store.roll_up(at(3 * 3600 + 20 * 60)).await.unwrap();
    // The open head: more rows than one chunk of the copy.
    let head: Vec<ResultRecord> = (0..2_500)
        .map(|index| ResultRecord {
            monitor: MonitorId::new(MONITORS[index as usize % 3]),
            at: at(3 * 3600 + 30 * 60 + index),
            outcome: outcome(index),
        })
        .collect();
    let health = MonitorHealth {
        confirmed: ProbeStatus::Down,
        problem_streak: 3,
        ..MonitorHealth::default()
    };
    let mut first = message("msg_1", at(3 * 3600));
    first.sequence_key = Some("mail".into());
    let mut second = message("msg_2", at(3 * 3600));
    second.sequence_key = Some("mail".into());
    store
        .commit(&Batch {
            results: head,
            health: vec![(MonitorId::new("smtp"), health)],
            component_status: vec![(
                ComponentId::new("mail"),
                ComponentStatus::MajorOutage,
                at(3 * 3600),
            )],
            new_incidents: vec![incident(1, "mail")],
            new_updates: vec![(
                1,
                IncidentUpdate {
                    at: at(3 * 3600 + 60),
                    phase: IncidentPhase::Identified,
                    message: "A failed disk; replacing it.".into(),
                    automatic: false,
                    expected_by: Some(at(3 * 3600 + 3_600)),
                    next_update_by: Some(at(3 * 3600 + 1_800)),
                    edited_at: None,
                },
            )],
            outbox: vec![first, second, message("msg_3", at(3 * 3600 + 5))],
            ..Batch::default()
        })
        .await
        .unwrap();
    store
        .record_attempt(
            "msg_1",
            DeliveryAttempt {
                at: at(3 * 3600 + 1),
                duration: Duration::from_millis(120),
                status_code: Some(503),
                error: Some("HTTP 503".into()),
            },
            NextStep::RetryAt(at(3 * 3600 + 30)),
        )
        .await
        .unwrap();
    store.reserve_incident_ids(16).await.unwrap();
    store
        .commit(&Batch {
            update_edits: vec![UpdateEdit {
                incident: 1,
                at: at(3 * 3600 + 60),
                message: Some("A failed disk in the mail store; replacing it.".into()),
                edited_at: at(3 * 3600 + 90),
            }],
            postmortems: vec![(
                1,
                Postmortem {
                    text: "## What happened\n\nA disk failed.".into(),
                    updated_at: at(4 * 3600),
                },
            )],
            uptime_exclusions: vec![UptimeExclusion {
                monitors: vec![MonitorId::new("smtp")],
                start: at(0),
                end: at(1_800),
                reason: "maintenance:disk".into(),
            }],
            ..Batch::default()
        })
        .await
        .unwrap();
    store
        .create_user(&UserRecord {
            name: "ada".into(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            role: pharos_core::Role::Editor,
            created_at: at(1),
            password_changed_at: at(2),
        })
        .await
        .unwrap();
    store
        .create_api_token(&ApiTokenRecord {
            id: "tk1".into(),
            user: "ada".into(),
            label: "cli".into(),
            token_hash: "token-hash".into(),
            scopes: vec![pharos_core::Permission::Incidents],
            created_at: at(3),
            last_used_at: None,
            revoked_at: None,
        })
        .await
        .unwrap();
    for action in ["login", "incident.update"] {
        store
            .record_audit(&AuditEntry {
                id: 0,
                at: at(4),
                actor: "user:ada".into(),
                action: action.into(),
                target: None,
                detail: Some("<b>kept as text</b>".into()),
                address: None,
            })
            .await
            .unwrap();
    }
    store
}

/// Everything the engine, the page and the outbox read.
async fn reading(store: &dyn Store) -> String {
    let since = at(0);
    let state = store.load_engine_state().await.unwrap();
    let mut health: Vec<_> = state.monitor_health.into_iter().collect();
    health.sort_by(|left, right| left.0.as_str().cmp(right.0.as_str()));
    let mut statuses: Vec<_> = state.component_status.into_iter().collect();
    statuses.sort_by(|left, right| left.0.as_str().cmp(right.0.as_str()));
    let mut text = format!(
        "health {health:?}\nstatuses {statuses:?}\nopen {:?}\n",
        state.open_incidents
    );
    text.push_str(&format!(
        "incidents {:?}\n",
        store.incidents(IncidentQuery::default()).await.unwrap()
    ));
    for monitor in MONITORS {
        text.push_str(&format!(
            "{monitor} {:?}\n",
            store
                .recent_results(&MonitorId::new(monitor), 3_000)
                .await
                .unwrap()
        ));
    }
    for resolution in [Resolution::Minute, Resolution::Hour, Resolution::Day] {
        let mut rollups = store.rollups(resolution, since).await.unwrap();
        rollups.sort_by(|left, right| {
            (left.monitor.as_str(), left.bucket).cmp(&(right.monitor.as_str(), right.bucket))
        });
        text.push_str(&format!("{resolution:?} {rollups:?}\n"));
    }
    text.push_str(&format!(
        "days {:?}\n",
        store.daily_counts(since).await.unwrap()
    ));
    text.push_str(&format!(
        "messages {:?}\ndue {:?}\n",
        store.recent_messages(100).await.unwrap(),
        store.due_messages(at(3 * 3600 + 3_600), 100).await.unwrap()
    ));
    text.push_str(&format!(
        "postmortems {:?}\n",
        store.postmortems(at(-1)).await.unwrap()
    ));
    text.push_str(&format!(
        "users {:?}\ntokens {:?}\naudit {:?}\n",
        store.users().await.unwrap(),
        store.api_tokens(None).await.unwrap(),
        store.audit_log(100, None).await.unwrap()
    ));
    text
}

#[tokio::test]
async fn a_sqlite_store_copied_into_postgresql_reads_the_same_and_an_interrupted_copy_resumes() {
    let Some(url) = fresh_database("the SQLite to PostgreSQL copy") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = populated(&dir.path().join("old.db")).await;
    let target = PostgresStore::open(&url).await.unwrap();

    // Interrupted half-way through the results' open head.
    let mut seen = Vec::new();
    let interrupted = sqlite_to_postgres(&sqlite, &target, &mut |copy| {
        seen.push(copy.clone());
        if copy.table == "results" && copy.copied > 0 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .await;
    assert!(
        matches!(interrupted, Err(MigrateError::Interrupted)),
        "{interrupted:?}"
    );
    let partial = seen.last().unwrap().clone();
    assert!(partial.copied < partial.total, "{partial:?}");

    // Resumed: every table complete, none copied twice (the counts are checked per table).
    let counts = sqlite_to_postgres(&sqlite, &target, &mut |_| ControlFlow::Continue(()))
        .await
        .unwrap();
    let results = counts.iter().find(|copy| copy.table == "results").unwrap();
    assert_eq!(results.total, 2_500);
    assert_eq!(results.copied, 2_500);
    let blocks = counts
        .iter()
        .find(|copy| copy.table == "result_blocks")
        .unwrap();
    assert!(blocks.total > 0, "history was sealed before the copy");

    let copied: Arc<dyn Store> = Arc::new(PostgresStore::open(&url).await.unwrap());
    let original = reading(&sqlite).await;
    assert_eq!(reading(copied.as_ref()).await, original);
    // Incident ids go on after those reserved in SQLite.
    assert_eq!(
        copied.reserve_incident_ids(4).await.unwrap(),
        sqlite.reserve_incident_ids(4).await.unwrap()
    );
    // New rows get new ids after the copied ones.
    let entry = copied.audit_log(1, None).await.unwrap().remove(0);
    let next = copied
        .record_audit(&AuditEntry {
            id: 0,
            ..entry.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        next,
        entry.id + 1,
        "the audit log goes on after the copied entries"
    );
    copied
        .commit(&Batch {
            new_updates: vec![(
                1,
                IncidentUpdate {
                    at: at(4 * 3600),
                    phase: IncidentPhase::Monitoring,
                    message: "Replaced; watching.".into(),
                    automatic: false,
                    expected_by: None,
                    next_update_by: None,
                    edited_at: None,
                },
            )],
            ..Batch::default()
        })
        .await
        .unwrap();
    assert_eq!(copied.incident(1).await.unwrap().unwrap().updates.len(), 3);

    let again = sqlite_to_postgres(&sqlite, &target, &mut |_| ControlFlow::Continue(())).await;
    assert!(matches!(again, Err(MigrateError::AlreadyDone)), "{again:?}");
}

#[tokio::test]
async fn a_target_that_already_holds_data_is_refused() {
    let Some(url) = fresh_database("the copy into a used database") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path().join("old.db").to_str().unwrap())
        .await
        .unwrap();
    let target = PostgresStore::open(&url).await.unwrap();
    target
        .commit(&Batch {
            new_incidents: vec![incident(7, "web")],
            ..Batch::default()
        })
        .await
        .unwrap();
    let refused = sqlite_to_postgres(&sqlite, &target, &mut |_| ControlFlow::Continue(())).await;
    match refused {
        Err(error @ MigrateError::TargetNotEmpty(_)) => assert_eq!(
            error.to_string(),
            "the target already holds pharos data that did not come from this copy (1 rows in incidents); copy into an empty database"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        target
            .incidents(IncidentQuery::default())
            .await
            .unwrap()
            .len(),
        1,
        "nothing touched"
    );
}
