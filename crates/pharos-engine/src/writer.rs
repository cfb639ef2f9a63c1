//! The single writer: commits engine batches to the store in order, merging whatever has
//! queued up into one transaction. A batch the store cannot take right now is retried (never
//! dropped); one it refuses for good is committed job by job, so that only the offending job
//! is set aside, loudly, instead of stalling everything behind it.

use pharos_store::{Batch, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};

/// A batch to commit, and whoever waits for it to be committed.
pub(crate) struct Job {
    pub(crate) batch: Batch,
    pub(crate) committed: Option<oneshot::Sender<()>>,
}

pub(crate) async fn run_writer(
    store: Arc<dyn Store>,
    mut batches: mpsc::Receiver<Job>,
    status_version: watch::Sender<u64>,
    results_version: watch::Sender<u64>,
    outbox_wake: Arc<Notify>,
) {
    while let Some(first) = batches.recv().await {
        let mut jobs = vec![first];
        while let Ok(more) = batches.try_recv() {
            jobs.push(more);
        }
        let committed = commit_jobs(store.as_ref(), jobs).await;
        if committed.iter().any(Batch::changes_status) {
            status_version.send_modify(|version| *version += 1);
        }
        if committed.iter().any(|batch| !batch.results.is_empty()) {
            results_version.send_modify(|version| *version += 1);
        }
        if committed.iter().any(|batch| !batch.outbox.is_empty()) {
            outbox_wake.notify_one();
        }
    }
}

/// Commits the jobs, merged into one transaction when possible; returns what was committed.
async fn commit_jobs(store: &dyn Store, jobs: Vec<Job>) -> Vec<Batch> {
    let mut merged = Batch::default();
    if jobs.len() > 1 {
        for job in &jobs {
            merged.append(job.batch.clone());
        }
    }
    let together = if jobs.len() > 1 {
        Some(commit(store, &merged).await)
    } else {
        None
    };
    let mut committed = Vec::new();
    match together {
        Some(Ok(())) => {
            for job in jobs {
                acknowledge(job.committed);
                committed.push(job.batch);
            }
        }
        _ => {
            for job in jobs {
                match commit(store, &job.batch).await {
                    Ok(()) => {
                        acknowledge(job.committed);
                        committed.push(job.batch);
                    }
                    Err(error) => tracing::error!(
                        %error,
                        results = job.batch.results.len(),
                        incidents = job.batch.new_incidents.len(),
                        notifications = job.batch.outbox.len(),
                        "the store refuses this engine step for good; it is set aside so monitoring goes on"
                    ),
                }
            }
        }
    }
    committed
}

/// Commits one batch, retrying for as long as the failure may pass.
async fn commit(store: &dyn Store, batch: &Batch) -> Result<(), StoreError> {
    let mut wait = Duration::from_millis(200);
    loop {
        match store.commit(batch).await {
            Ok(()) => return Ok(()),
            Err(error) if error.is_permanent() => return Err(error),
            Err(error) => {
                tracing::error!(%error, results = batch.results.len(), "cannot save engine state; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
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
            id,
            component: ComponentId::new("mail"),
            title: "Mail: major outage".into(),
            phase: IncidentPhase::Investigating,
            impact: ComponentStatus::MajorOutage,
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
        let committed = commit_jobs(&store, jobs).await;
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
