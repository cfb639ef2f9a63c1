//! The demo's targets: a webmail-like HTTP service, an SMTP-like TCP service and a DNS name,
//! each with a switch that takes it down (or, for DNS, makes it answer wrongly).

use crate::dns::DnsResponder;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, RecordType};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub const DEMO_NAME: &str = "mail.demo.test";
pub const DEMO_ADDRESS: [u8; 4] = [192, 0, 2, 25];
const WRONG_ADDRESS: [u8; 4] = [198, 51, 100, 66];

/// An HTTP service that answers 200 with a sign-in page, or 503 while down.
pub struct HttpTarget {
    pub address: SocketAddr,
    down: Arc<AtomicBool>,
}

impl HttpTarget {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let down = Arc::new(AtomicBool::new(false));
        let app = Router::new().route("/", get(page)).with_state(down.clone());
        let address = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { address, down })
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

async fn page(State(down): State<Arc<AtomicBool>>) -> (StatusCode, &'static str) {
    if down.load(Ordering::SeqCst) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable: mailbox servers are not responding",
        )
    } else {
        (
            StatusCode::OK,
            "<h1>Demo webmail</h1><p>Sign in to read your mail.</p>",
        )
    }
}

/// A TCP service whose connections `handler` serves; while down its port is closed, so
/// connections are refused as they would be by a crashed daemon.
pub struct TcpTarget {
    pub address: SocketAddr,
    down: watch::Sender<bool>,
}

impl TcpTarget {
    pub async fn start<H, F>(handler: H) -> std::io::Result<Self>
    where
        H: Fn(TcpStream) -> F + Send + Sync + 'static,
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (down, mut watch_down) = watch::channel(false);
        tokio::spawn(async move {
            let mut listener = Some(listener);
            loop {
                match &listener {
                    Some(open) => {
                        tokio::select! {
                            accepted = open.accept() => {
                                if let Ok((stream, _)) = accepted {
                                    tokio::spawn(handler(stream));
                                }
                            }
                            changed = watch_down.changed() => {
                                if changed.is_err() { return; }
                                if *watch_down.borrow() { listener = None; }
                            }
                        }
                    }
                    None => {
                        if watch_down.changed().await.is_err() {
                            return;
                        }
                        if !*watch_down.borrow() {
                            listener = TcpListener::bind(address).await.ok();
                        }
                    }
                }
            }
        });
        Ok(Self { address, down })
    }

    pub fn set_down(&self, down: bool) {
        let _ = self.down.send(down);
    }
}

/// A DNS name served by the demo's responder; while "down" it resolves to the wrong address.
pub struct DnsTarget {
    pub responder: DnsResponder,
}

impl DnsTarget {
    pub async fn start() -> std::io::Result<Self> {
        let responder =
            DnsResponder::start("127.0.0.1:0".parse().expect("a valid address")).await?;
        let target = Self { responder };
        target.set_down(false);
        Ok(target)
    }

    pub fn set_down(&self, down: bool) {
        let [a, b, c, d] = if down { WRONG_ADDRESS } else { DEMO_ADDRESS };
        self.responder
            .set(DEMO_NAME, RecordType::A, vec![RData::A(A::new(a, b, c, d))]);
    }
}

/// An HTTP service seen differently from different places: it answers 200 to everyone
/// except the source addresses it is told to refuse (their connections are closed at once,
/// as a regional network fault would), so probe agents connecting from their own loopback
/// addresses see a problem only in their region.
pub struct RegionalTarget {
    pub address: SocketAddr,
    refused: Arc<std::sync::Mutex<Vec<std::net::IpAddr>>>,
}

impl RegionalTarget {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let refused: Arc<std::sync::Mutex<Vec<std::net::IpAddr>>> = Arc::default();
        let blocked = refused.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, peer)) = listener.accept().await else {
                    continue;
                };
                let refuse = blocked
                    .lock()
                    .map(|refused| refused.contains(&peer.ip()))
                    .unwrap_or(false);
                if refuse {
                    drop(stream);
                    continue;
                }
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut request = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) if request.len() + read > 16 * 1024 => return,
                            Ok(read) => request.extend_from_slice(&chunk[..read]),
                        }
                    }
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"status\":\"ok\"}")
                        .await;
                });
            }
        });
        Ok(Self { address, refused })
    }

    /// Refuses exactly these source addresses from now on.
    pub fn refuse(&self, sources: &[std::net::IpAddr]) {
        if let Ok(mut refused) = self.refused.lock() {
            refused.clear();
            refused.extend_from_slice(sources);
        }
    }
}
