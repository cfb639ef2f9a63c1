//! The HTTP server loop: HTTP/1.1 connections with a header-read (and keep-alive idle)
//! timeout, a cap on concurrent connections in total and per client address, and a bounded
//! graceful shutdown. Strangers holding connections open can neither exhaust the file
//! descriptors that probes and the store need nor keep pharos from stopping.

use crate::zero_copy::{MemoryFiles, ZeroCopyStream};
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioTimer;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt as _;

/// How much of the server's resources one client and all clients may hold.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// Connections open at once, in all.
    pub max_connections: usize,
    /// Connections open at once from one client address.
    pub max_per_client: usize,
    /// A request's headers must arrive within this; an idle keep-alive connection is closed
    /// after it too.
    pub header_timeout: Duration,
    /// After shutdown is asked for, open connections get this long to finish.
    pub shutdown_grace: Duration,
    /// Reverse proxies, which speak for many clients: only the total cap applies to them.
    pub trusted_proxies: Vec<pharos_config::IpNet>,
}

impl ServerLimits {
    /// Limits that leave at least half of `descriptors` (the process's open-file limit) to
    /// probes, the store and the outbox.
    pub fn for_descriptors(descriptors: u64) -> Self {
        let share = usize::try_from(descriptors / 2).unwrap_or(usize::MAX);
        let max_connections = share.clamp(16, 10_000);
        Self {
            max_connections,
            max_per_client: (max_connections / 8).clamp(8, 256),
            header_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
            trusted_proxies: Vec::new(),
        }
    }

    /// Exempts these reverse proxies from the per-client cap.
    pub fn with_trusted_proxies(mut self, proxies: Vec<pharos_config::IpNet>) -> Self {
        self.trusted_proxies = proxies;
        self
    }
}

/// Serves `app` on `listener` until `shutdown` flips, then gives open connections
/// `shutdown_grace` to finish before they are dropped.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    files: Arc<MemoryFiles>,
    mut shutdown: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = Arc::new(Mutex::new(HashMap::<IpAddr, usize>::new()));
    let mut refusals = Refusals::default();
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.wait_for(|stopping| *stopping) => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors (or a connection reset before accept): wait for some
                    // to be freed rather than spin.
                    refusals.note(&format!("cannot accept a connection: {error}"));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            refusals.note("connection limit reached; closing new connections");
            continue;
        };
        let per_client_cap = if limits
            .trusted_proxies
            .iter()
            .any(|proxy| proxy.contains(peer.ip()))
        {
            usize::MAX
        } else {
            limits.max_per_client
        };
        let Some(slot) = ClientSlot::take(&per_client, peer.ip(), per_client_cap) else {
            refusals.note(&format!(
                "client {} holds {} connections already; closing its new ones",
                peer.ip(),
                limits.max_per_client
            ));
            continue;
        };
        // Answers go out whole as soon as they are written: without this, the last partial
        // segment of each answer waits for the client's acknowledgement of the previous ones
        // (Nagle), which a client delaying its acknowledgements turns into milliseconds.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY on an accepted connection");
        }
        let service = app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(
                ZeroCopyStream::new(stream, files.clone()),
                TowerToHyperService::new(service),
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!("connections still open after {:?}; closing them", limits.shutdown_grace);
        }
    }
}

/// One connection's place in its client's count, given back when dropped.
struct ClientSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    client: IpAddr,
}

impl ClientSlot {
    fn take(
        counts: &Arc<Mutex<HashMap<IpAddr, usize>>>,
        client: IpAddr,
        limit: usize,
    ) -> Option<Self> {
        let mut map = counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = map.entry(client).or_default();
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(Self {
            counts: counts.clone(),
            client,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = map.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.client);
            }
        }
    }
}

/// Logs refused connections at most every 10 s, with how many were refused meanwhile.
#[derive(Default)]
struct Refusals {
    last_logged: Option<tokio::time::Instant>,
    since: u64,
}

impl Refusals {
    fn note(&mut self, what: &str) {
        self.since += 1;
        if self
            .last_logged
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(10))
        {
            tracing::warn!(refused = self.since, "{what}");
            self.last_logged = Some(tokio::time::Instant::now());
            self.since = 0;
        }
    }
}

/// The process's open-file limit: raised to the hard limit, so that a crowd of clients and
/// thousands of probes have room. Returns the soft limit now in force.
pub fn raise_descriptor_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .map(|(soft, _)| soft)
                .unwrap_or(1024)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_of_the_descriptors_stay_for_probes_and_the_store() {
        let limits = ServerLimits::for_descriptors(1024);
        assert_eq!(limits.max_connections, 512);
        assert_eq!(limits.max_per_client, 64);
    }

    #[test]
    fn a_client_slot_is_given_back_when_dropped() {
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let client = IpAddr::from([192, 0, 2, 1]);
        let first = ClientSlot::take(&counts, client, 2).unwrap();
        let _second = ClientSlot::take(&counts, client, 2).unwrap();
        assert!(ClientSlot::take(&counts, client, 2).is_none());
        drop(first);
        assert!(ClientSlot::take(&counts, client, 2).is_some());
    }
}
