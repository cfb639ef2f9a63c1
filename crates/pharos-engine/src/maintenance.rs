//! Background upkeep: roll raw results up every minute and prune by retention every hour.

use chrono::Utc;
use pharos_store::{Retention, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const ROLLUP_EVERY: Duration = Duration::from_secs(60);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub(crate) async fn run_maintenance(
    store: Arc<dyn Store>,
    retention: Retention,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut rollup = tokio::time::interval(ROLLUP_EVERY);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    rollup.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = rollup.tick() => {
                if let Err(error) = store.roll_up(Utc::now()).await {
                    tracing::error!(%error, "roll-up failed; will retry");
                }
            }
            _ = prune.tick() => {
                match store.prune(Utc::now(), &retention).await {
                    Ok(report) => tracing::debug!(?report, "pruned old data"),
                    Err(error) => tracing::error!(%error, "pruning failed; will retry"),
                }
            }
        }
    }
}
