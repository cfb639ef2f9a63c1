//! The single writer: commits engine batches to the store in order, merging what arrives
//! within 50 ms of the first into one transaction (one fsync), and acknowledging each only
//! once that transaction is committed. A batch the store cannot take right now is retried (never
//! dropped); one it refuses for good is committed job by job, so that only the offending job
//! is set aside, loudly, instead of stalling everything behind it.

use crate::live::{LiveState, StoreFault};
use chrono::Utc;
use pharos_store::{Batch, Store, StoreError};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::time::Instant;

/// A batch to commit, and whoever waits for it to be committed.
pub(crate) struct Job {
    pub(crate) batch: Batch,
    pub(crate) committed: Option<oneshot::Sender<()>>,
}

/// What the writer shares with the rest of the engine.
pub(crate) struct WriterContext {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) live: Arc<RwLock<LiveState>>,
    pub(crate) status_version: watch::Sender<u64>,
    pub(crate) results_version: watch::Sender<u64>,
    pub(crate) outbox_wake: Arc<Notify>,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// After shutdown is asked for, a store that refuses writes is retried this long at most;
/// what is still unsaved then was never acknowledged and is given up.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The longest wait between two tries of a refused write, so that monitoring resumes
/// within seconds of the store accepting writes again.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(2);

/// After the first job of a commit arrives, the writer waits this long for more, so that a
/// steady stream of results costs one transaction (one fsync) per interval, not per result.
const LINGER: Duration = Duration::from_millis(50);
/// The most jobs merged into one commit.
const MAX_JOBS: usize = 1024;

pub(crate) async fn run_writer(mut context: WriterContext, mut batches: mpsc::Receiver<Job>) {
    while let Some(first) = batches.recv().await {
        let mut jobs = vec![first];
        let deadline = Instant::now() + LINGER;
        while jobs.len() < MAX_JOBS {
            tokio::select! {
                more = batches.recv() => match more {
                    Some(more) => jobs.push(more),
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        let committed = match commit_jobs(&mut context, jobs).await {
            Ok(committed) => committed,
            Err(GaveUp { jobs }) => {
                let mut lost = jobs.len();
                while batches.try_recv().is_ok() {
                    lost += 1;
                }
                tracing::error!(
                    lost,
                    "stopping while the store refuses writes: {lost} engine steps were never saved nor acknowledged"
                );
                return;
            }
        };
        let today = chrono::Utc::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map(|midnight| midnight.and_utc());
        if committed.iter().any(|batch| {
            batch
                .uptime_exclusions
                .iter()
                .any(|exclusion| today.is_some_and(|today| exclusion.start < today))
        }) {
            if let Ok(mut live) = context.live.write() {
                live.past_uptime_changes += 1;
            }
        }
        if committed.iter().any(Batch::changes_status) {
            context.status_version.send_modify(|version| *version += 1);
        }
        if committed.iter().any(|batch| !batch.results.is_empty()) {
            context.results_version.send_modify(|version| *version += 1);
        }
        if committed.iter().any(|batch| !batch.outbox.is_empty()) {
            context.outbox_wake.notify_one();
        }
    }
}

/// The writer stopped retrying because pharos is shutting down.
struct GaveUp {
    jobs: Vec<Job>,
}

/// Commits the jobs, merged into one transaction when possible; returns what was committed.
async fn commit_jobs(context: &mut WriterContext, jobs: Vec<Job>) -> Result<Vec<Batch>, GaveUp> {
    if jobs.len() > 1 {
        let mut merged = Batch::default();
        for job in &jobs {
            merged.append(job.batch.clone());
        }
        match commit(context, &merged).await {
            Ok(()) => {
                return Ok(jobs
                    .into_iter()
                    .map(|job| {
                        acknowledge(job.committed);
                        job.batch
                    })
                    .collect())
            }
            Err(Failure::Stopping) => return Err(GaveUp { jobs }),
            Err(Failure::Refused(_)) => {}
        }
    }
    let mut committed = Vec::new();
    let mut jobs = jobs.into_iter();
    while let Some(job) = jobs.next() {
        match commit(context, &job.batch).await {
            Ok(()) => {
                acknowledge(job.committed);
                committed.push(job.batch);
            }
            Err(Failure::Stopping) => {
                return Err(GaveUp {
                    jobs: std::iter::once(job).chain(jobs).collect(),
                })
            }
            Err(Failure::Refused(error @ pharos_store::StoreError::Fenced(_))) => tracing::warn!(
                %error,
                results = job.batch.results.len(),
                "this replica no longer leads: its engine step is dropped (the leader does this work)"
            ),
            Err(Failure::Refused(error)) => tracing::error!(
                %error,
                results = job.batch.results.len(),
                incidents = job.batch.new_incidents.len(),
                notifications = job.batch.outbox.len(),
                "the store refuses this engine step for good; it is set aside so monitoring goes on"
            ),
        }
    }
    Ok(committed)
}

enum Failure {
    /// The store refuses this batch for good.
    Refused(StoreError),
    /// Shutdown came while the store refused writes.
    Stopping,
}

/// Commits one batch, retrying for as long as the failure may pass (or, once shutdown is
/// asked for, for a short grace). While it fails, the live view says the store refuses
/// writes, so the page can say its data is stale and `/healthz` can say why.
async fn commit(context: &mut WriterContext, batch: &Batch) -> Result<(), Failure> {
    let mut wait = Duration::from_millis(200);
    let mut deadline: Option<Instant> = None;
    loop {
        match context.store.commit(batch).await {
            Ok(()) => {
                set_fault(context, None);
                return Ok(());
            }
            Err(error) if error.is_permanent() => return Err(Failure::Refused(error)),
            Err(error) => {
                tracing::error!(%error, results = batch.results.len(), "cannot save engine state; retrying in {wait:?}");
                set_fault(context, Some(error.to_string()));
            }
        }
        if *context.shutdown.borrow() {
            let deadline = *deadline.get_or_insert_with(|| Instant::now() + SHUTDOWN_GRACE);
            if Instant::now() >= deadline {
                return Err(Failure::Stopping);
            }
            tokio::time::sleep(wait.min(deadline - Instant::now())).await;
        } else {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = context.shutdown.changed() => {}
            }
        }
        wait = (wait * 2).min(MAX_RETRY_WAIT);
    }
}

/// Records whether the store refuses writes, and tells the renderer when that changes.
fn set_fault(context: &WriterContext, reason: Option<String>) {
    let Ok(mut live) = context.live.write() else {
        return;
    };
    let changed = match (&live.store_fault, reason) {
        (None, None) => false,
        (Some(_), None) => {
            tracing::info!("the store accepts writes again; monitoring resumes");
            live.store_fault = None;
            true
        }
        (None, Some(reason)) => {
            live.store_fault = Some(StoreFault {
                since: Utc::now(),
                reason,
            });
            true
        }
        (Some(fault), Some(reason)) => {
            let changed = fault.reason != reason;
            if let Some(fault) = live.store_fault.as_mut() {
                fault.reason = reason;
            }
            changed
        }
    };
    drop(live);
    if changed {
        context.status_version.send_modify(|version| *version += 1);
    }
}

fn acknowledge(waiter: Option<oneshot::Sender<()>>) {
    if let Some(waiter) = waiter {
        let _ = waiter.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use pharos_core::{ComponentId, ComponentStatus, Incident, IncidentPhase, MonitorId, Outcome};
    use pharos_store::{IncidentQuery, ResultRecord, SqliteStore};

    fn incident(id: i64) -> Incident {
        let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        Incident {
            dependents: Vec::new(),
            scope: None,
            id,
            component: ComponentId::new("mail"),
            title: "Mail: major outage".into(),
            phase: IncidentPhase::Investigating,
            impact: ComponentStatus::MajorOutage,
            worst_impact: ComponentStatus::MajorOutage,
            started_at: at,
            detected_at: at,
            resolved_at: None,
            updates: vec![],
            timeline: vec![],
        }
    }

    #[tokio::test]
    async fn a_job_the_store_refuses_for_good_is_set_aside_and_the_others_are_saved() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("w.db").to_str().unwrap())
            .await
            .unwrap();
        store
            .commit(&Batch {
                new_incidents: vec![incident(1)],
                ..Batch::default()
            })
            .await
            .unwrap();

        let result = ResultRecord {
            monitor: MonitorId::new("smtp"),
            at: Utc.timestamp_opt(1_800_000_100, 0).unwrap(),
            outcome: Outcome::up(Duration::from_millis(3), vec![]),
        };
        let (good_done, good_committed) = oneshot::channel();
        let (bad_done, bad_committed) = oneshot::channel();
        let jobs = vec![
            Job {
                batch: Batch {
                    results: vec![result],
                    ..Batch::default()
                },
                committed: Some(good_done),
            },
            // A second open incident for the same component breaks the schema's rule.
            Job {
                batch: Batch {
                    new_incidents: vec![incident(2)],
                    ..Batch::default()
                },
                committed: Some(bad_done),
            },
        ];
        let (status_version, _) = watch::channel(0);
        let (results_version, _) = watch::channel(0);
        let (_stop, shutdown) = watch::channel(false);
        let mut context = WriterContext {
            store: Arc::new(store.clone()),
            live: Arc::default(),
            status_version,
            results_version,
            outbox_wake: Arc::default(),
            shutdown,
        };
        let committed = commit_jobs(&mut context, jobs).await.ok().unwrap();
        assert_eq!(committed.len(), 1);
        assert!(good_committed.await.is_ok(), "the good job is acknowledged");
        assert!(bad_committed.await.is_err(), "the refused job is not");
        assert_eq!(
            store
                .recent_results(&MonitorId::new("smtp"), 5)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store
                .incidents(IncidentQuery::default())
                .await
                .unwrap()
                .len(),
            1
        );
    }
}
