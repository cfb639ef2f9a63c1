//! Shared network steps (resolve, connect) and the plain-words description of their failures.

use crate::clock::PhaseClock;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// A byte stream a probe talks over: plain TCP or TLS.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// Resolves `host:port` and connects to the first address that answers, timing both phases.
pub(crate) async fn resolve_and_connect(
    clock: &mut PhaseClock,
    host: &str,
    port: u16,
) -> Result<TcpStream, String> {
    let addresses = clock
        .time("dns", async {
            match tokio::net::lookup_host((host, port)).await {
                Ok(found) => {
                    let addresses: Vec<SocketAddr> = found.collect();
                    if addresses.is_empty() {
                        Err(not_found(host).await)
                    } else {
                        Ok(addresses)
                    }
                }
                Err(error) => Err(match own_fault(&error) {
                    Some(_) => describe_io_error(&error),
                    None => not_found(host).await,
                }),
            }
        })
        .await?;
    clock
        .time("connect", async {
            let mut last_error = None;
            for address in &addresses {
                match connect(*address).await {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        return Ok(stream);
                    }
                    Err(error) => last_error = Some(error),
                }
            }
            Err(describe_io_error(
                &last_error.unwrap_or_else(|| io::ErrorKind::NotConnected.into()),
            ))
        })
        .await
}

/// The local address every probe of this process connects from, when one is set.
static SOURCE_ADDRESS: std::sync::OnceLock<std::net::IpAddr> = std::sync::OnceLock::new();

/// Makes every probe of this process connect from `address` (a probe agent bound to one
/// address of a multi-homed host, say); set once, before the first probe runs. Returns false
/// if one was set already.
pub fn set_source_address(address: std::net::IpAddr) -> bool {
    SOURCE_ADDRESS.set(address).is_ok()
}

/// Connects to `address`, from the process's source address when one is set (and of the same
/// family).
pub(crate) async fn connect(address: SocketAddr) -> io::Result<TcpStream> {
    match SOURCE_ADDRESS.get() {
        Some(source) if source.is_ipv4() == address.is_ipv4() => {
            let socket = if address.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            socket.bind(SocketAddr::new(*source, 0))?;
            socket.connect(address).await
        }
        _ => TcpStream::connect(address).await,
    }
}

/// Marks a reason as pharos's own fault; `Prober::run` turns such a verdict into `unknown`.
pub(crate) const OWN_FAULT: &str = "pharos could not run this check: ";

/// Whether an error is about pharos's own resources rather than the target: out of file
/// descriptors (EMFILE, ENFILE), buffers (ENOBUFS) or memory (ENOMEM), or without a local
/// address to connect from (EADDRNOTAVAIL). Linux error numbers.
fn own_fault(error: &io::Error) -> Option<&'static str> {
    match error.raw_os_error()? {
        24 => Some("too many open files"),
        23 => Some("too many open files in the system"),
        105 => Some("no buffer space available"),
        12 => Some("out of memory"),
        99 => Some("no local address available"),
        _ => None,
    }
}

/// A name that did not resolve: the target's problem if pharos's resolver answered, pharos's
/// own if none of its nameservers did.
async fn not_found(host: &str) -> String {
    match crate::resolver_health::silent_system_resolver().await {
        Some(servers) => format!("{OWN_FAULT}its DNS resolver does not answer ({servers})"),
        None => format!("host not found: {host}"),
    }
}

pub(crate) fn describe_io_error(error: &io::Error) -> String {
    if let Some(what) = own_fault(error) {
        return format!("{OWN_FAULT}{what}");
    }
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
        io::ErrorKind::TimedOut => "connection timed out".to_owned(),
        io::ErrorKind::ConnectionReset => "connection reset by peer".to_owned(),
        io::ErrorKind::ConnectionAborted => "connection aborted".to_owned(),
        io::ErrorKind::UnexpectedEof => "connection closed by peer".to_owned(),
        io::ErrorKind::HostUnreachable => "host unreachable".to_owned(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".to_owned(),
        _ => error.to_string(),
    }
}

/// A duration in the unit a person would use: "850ms", "2.5s", "10s".
pub(crate) fn describe_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{:.1}s", duration.as_secs_f64())
    }
}

/// A peer's bytes made safe to quote in a reason: printable, short.
pub(crate) fn quote_peer_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut quoted: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    quoted = quoted.trim().to_owned();
    if text.chars().count() > 120 {
        quoted.push('…');
    }
    quoted
}
