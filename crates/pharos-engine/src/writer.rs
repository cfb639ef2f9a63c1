//! The single writer: commits engine batches to the store in order, merging whatever has
//! queued up into one transaction, and retrying (never dropping) a batch the store refuses.

use pharos_store::{Batch, Store};
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
    while let Some(Job {
        mut batch,
        committed,
    }) = batches.recv().await
    {
        let mut waiting: Vec<oneshot::Sender<()>> = committed.into_iter().collect();
        while let Ok(more) = batches.try_recv() {
            batch.append(more.batch);
            waiting.extend(more.committed);
        }
        let mut wait = Duration::from_millis(200);
        while let Err(error) = store.commit(&batch).await {
            tracing::error!(%error, results = batch.results.len(), "cannot save engine state; retrying in {wait:?}");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(30));
        }
        if batch.changes_status() {
            status_version.send_modify(|version| *version += 1);
        }
        if !batch.results.is_empty() {
            results_version.send_modify(|version| *version += 1);
        }
        if !batch.outbox.is_empty() {
            outbox_wake.notify_one();
        }
        for waiter in waiting {
            let _ = waiter.send(());
        }
    }
}
