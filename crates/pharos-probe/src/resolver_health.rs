//! Whether pharos's own DNS resolver answers at all. A name lookup that fails because none of
//! the system's nameservers answers is pharos's problem (its network, its resolver), not the
//! target's: such a check is `unknown`. A nameserver that answers anything, even "no such
//! name", is working, and the failure is the target's.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::time::Instant;

const RESOLV_CONF: &str = "/etc/resolv.conf";
/// How long one nameserver has to answer the check.
const ANSWER_WITHIN: Duration = Duration::from_millis(700);
/// A verdict is reused this long, so that many failing lookups make one check.
const REUSE_FOR: Duration = Duration::from_secs(5);

static LAST: Mutex<Option<(Instant, Option<String>)>> = Mutex::new(None);

/// `Some(the nameservers)` when none of the system's nameservers answers; `None` when one
/// does, or when there is nothing to judge by.
pub(crate) async fn silent_system_resolver() -> Option<String> {
    if let Ok(last) = LAST.lock() {
        if let Some((at, verdict)) = last.as_ref() {
            if at.elapsed() < REUSE_FOR {
                return verdict.clone();
            }
        }
    }
    let servers = nameservers(&std::fs::read_to_string(RESOLV_CONF).unwrap_or_default());
    let verdict = if servers.is_empty() {
        None
    } else {
        let mut answered = false;
        for server in &servers {
            if answers(*server).await {
                answered = true;
                break;
            }
        }
        (!answered).then(|| {
            servers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        })
    };
    if let Ok(mut last) = LAST.lock() {
        *last = Some((Instant::now(), verdict.clone()));
    }
    verdict
}

/// The first three `nameserver` lines of a resolv.conf.
fn nameservers(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .filter_map(|line| line.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().split('%').next()?.parse().ok())
        .take(3)
        .collect()
}

/// Whether `server` answers a query for the root's name servers, with anything at all.
async fn answers(server: IpAddr) -> bool {
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let Ok(socket) = UdpSocket::bind(bind).await else {
        return false;
    };
    if socket.connect((server, 53)).await.is_err() {
        return false;
    }
    let id: u16 = rand::random();
    let [high, low] = id.to_be_bytes();
    // Header (id, recursion desired, one question), then ". IN NS".
    let query = [high, low, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1];
    if socket.send(&query).await.is_err() {
        return false;
    }
    let mut buffer = [0u8; 512];
    let deadline = Instant::now() + ANSWER_WITHIN;
    loop {
        match tokio::time::timeout_at(deadline, socket.recv(&mut buffer)).await {
            Ok(Ok(length)) if length >= 2 && buffer[..2] == [high, low] => return true,
            Ok(Ok(_)) => continue,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_are_read_from_resolv_conf() {
        let conf = "# comment\nsearch example.test\nnameserver 10.0.0.53\nnameserver fe80::1%eth0\noptions ndots:1\nnameserver 1.1.1.1\nnameserver 9.9.9.9\n";
        let servers: Vec<String> = nameservers(conf).iter().map(ToString::to_string).collect();
        assert_eq!(servers, ["10.0.0.53", "fe80::1", "1.1.1.1"]);
    }
}
