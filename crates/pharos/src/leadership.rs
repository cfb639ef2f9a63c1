//! Several `pharos serve` replicas on one PostgreSQL database: all serve the pages, exactly
//! one (the holder of the `engine` lease) probes, evaluates, opens incidents and delivers
//! notifications. Each replica tries to take or renew the lease every `RENEW`; it lasts
//! `TTL` by the database's clock, so a leader that dies is replaced within `TTL + RENEW`.
//! The store's writes are fenced by the lease's token (a leader that lost it, even one only
//! paused, writes nothing), and deliveries start only while the last renewal is recent
//! enough that the lease cannot have passed on (`DELIVERY_MARGIN`).

use pharos_store::{FenceToken, Store};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

pub(crate) const LEASE: &str = "engine";
const TTL: Duration = Duration::from_secs(10);
const RENEW: Duration = Duration::from_secs(2);
/// Deliveries stop this long before the lease could expire.
const DELIVERY_MARGIN: Duration = Duration::from_secs(3);

/// What this replica does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Leader,
    Follower,
}

/// This replica in the election.
#[derive(Clone)]
pub(crate) struct Leadership {
    pub(crate) replica: String,
    store: Arc<dyn Store>,
    /// When the lease was last taken or renewed by this replica, while it leads.
    renewed: Arc<Mutex<Option<Instant>>>,
}

impl Leadership {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .unwrap_or_else(|_| "pharos".to_owned());
        let nonce: u32 = rand::random();
        Self {
            replica: format!("{host}-{}-{nonce:08x}", std::process::id()),
            store,
            renewed: Arc::default(),
        }
    }

    /// Takes or renews the lease once; the role this replica should have now.
    pub(crate) async fn claim(&self, leading: bool) -> Role {
        match self.store.claim_lease(LEASE, &self.replica, TTL).await {
            Ok(lease) if lease.mine => {
                if !leading {
                    self.store.set_fence(Some(FenceToken {
                        lease: LEASE.to_owned(),
                        holder: self.replica.clone(),
                        token: lease.token,
                    }));
                    tracing::info!(
                        replica = self.replica,
                        token = lease.token,
                        "leading: this replica holds the engine's lease"
                    );
                }
                *self.renewed.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
                Role::Leader
            }
            Ok(lease) => {
                if leading {
                    tracing::warn!(
                        replica = self.replica,
                        leader = lease.holder,
                        "following: the engine's lease passed to {}",
                        lease.holder
                    );
                }
                // The fence stays as it was: any write left over from leading is refused.
                *self.renewed.lock().unwrap_or_else(|p| p.into_inner()) = None;
                Role::Follower
            }
            Err(error) => {
                let renewed = *self.renewed.lock().unwrap_or_else(|p| p.into_inner());
                let lapsed = renewed.is_none_or(|at| at.elapsed() >= TTL);
                if leading && !lapsed {
                    tracing::warn!(%error, "cannot renew the engine's lease; trying again");
                    return Role::Leader;
                }
                if leading {
                    tracing::warn!(%error, "the engine's lease lapsed: following until it can be taken again");
                }
                Role::Follower
            }
        }
    }

    /// Whether deliveries may start: the lease was renewed recently enough that it cannot
    /// have passed to another replica.
    pub(crate) fn may_deliver(&self) -> bool {
        self.renewed
            .lock()
            .map(|renewed| renewed.is_some_and(|at| at.elapsed() < TTL - DELIVERY_MARGIN))
            .unwrap_or(false)
    }

    /// Renews or seeks the lease every `RENEW` and says when the role changes.
    pub(crate) async fn run(
        self,
        mut role: Role,
        changes: mpsc::Sender<Role>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(RENEW) => {}
                _ = shutdown.wait_for(|stopping| *stopping) => break,
            }
            let now = self.claim(role == Role::Leader).await;
            if now != role {
                role = now;
                if changes.send(role).await.is_err() {
                    break;
                }
            }
        }
    }

    /// Gives the lease up at once on a clean stop, so another replica takes over without
    /// waiting for it to expire.
    pub(crate) async fn release(&self) {
        *self.renewed.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if let Err(error) = self.store.release_lease(LEASE, &self.replica).await {
            tracing::warn!(%error, "cannot give up the engine's lease; it expires by itself");
        }
    }
}
