//! Test peers: a certificate authority, leaf certificates (valid, expired, wrong host), TLS
//! listeners, and a helper that builds a monitor from a TOML snippet.

use chrono::{Duration as ChronoDuration, Utc};
use pharos_config::Monitor;
use pharos_probe::Prober;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A test that cannot run on this machine: it fails when `variable` is `required` (as
/// `.ci/run` sets it), and otherwise skips with a notice printed past the test harness's
/// output capture (which hides `eprintln!`), so a plain `cargo test` shows it.
pub(crate) fn skip(variable: &str, test: &str, because: &str) {
    use std::io::Write as _;
    if std::env::var(variable).as_deref() == Ok("required") {
        panic!("{variable}=required but {because}");
    }
    let _ = writeln!(std::io::stderr(), "notice: skipping {test}: {because}");
}

/// Builds the one monitor described by `body` (the keys after `type = ...`).
pub(crate) fn monitor(kind: &str, body: &str) -> Monitor {
    let source = format!(
        "[[components]]\nid = \"c\"\nname = \"C\"\n\n[[monitors]]\nid = \"m\"\ncomponent = \"c\"\ntype = \"{kind}\"\ninterval = \"10s\"\n{timeout}{body}\n",
        timeout = if body.contains("timeout =") { "" } else { "timeout = \"2s\"\n" }
    );
    let mut config = pharos_config::parse("test.toml", &source, &|_| None)
        .unwrap_or_else(|errors| panic!("{errors}\n{source}"));
    config.monitors.remove(0)
}

pub(crate) async fn run(kind: &str, body: &str) -> pharos_core::Outcome {
    pharos_probe::install_crypto_provider();
    Prober::new(&monitor(kind, body))
        .expect("probe set-up")
        .run()
        .await
}

/// Like `run`, with a monitor id of its own (mail-flow messages carry it).
pub(crate) async fn run_as(id: &str, kind: &str, body: &str) -> pharos_core::Outcome {
    pharos_probe::install_crypto_provider();
    let mut monitor = monitor(kind, body);
    monitor.id = pharos_core::MonitorId::new(id);
    Prober::new(&monitor).expect("probe set-up").run().await
}

/// A private certificate authority whose PEM is written to a file the probes can trust.
pub(crate) struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    pub(crate) pem_file: PathBuf,
    _dir: tempfile::TempDir,
}

pub(crate) enum Validity {
    Valid,
    ExpiredDaysAgo(i64),
    ExpiresInDays(i64),
}

impl TestCa {
    pub(crate) fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "pharos test CA");
        let key = KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pem_file = dir.path().join("ca.pem");
        std::fs::write(&pem_file, certificate.pem()).unwrap();
        Self {
            issuer: Issuer::new(params, key),
            pem_file,
            _dir: dir,
        }
    }

    pub(crate) fn leaf(
        &self,
        names: &[&str],
        validity: Validity,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let mut params = CertificateParams::new(
            names
                .iter()
                .map(|name| name.to_string())
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let at = |date: chrono::DateTime<Utc>| {
            time::OffsetDateTime::from_unix_timestamp(date.timestamp()).unwrap()
        };
        let now = Utc::now();
        let (not_before, not_after) = match validity {
            Validity::Valid => (
                now - ChronoDuration::days(30),
                now + ChronoDuration::days(365),
            ),
            Validity::ExpiredDaysAgo(days) => (
                now - ChronoDuration::days(400),
                now - ChronoDuration::days(days) - ChronoDuration::hours(1),
            ),
            Validity::ExpiresInDays(days) => (
                now - ChronoDuration::days(30),
                now + ChronoDuration::days(days) + ChronoDuration::hours(1),
            ),
        };
        params.not_before = at(not_before);
        params.not_after = at(not_after);
        let key = KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.issuer).unwrap();
        (
            vec![certificate.der().clone()],
            PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
    }
}

/// A TLS listener on 127.0.0.1 that completes handshakes and answers every HTTP request with
/// `200 secure hello`; returns its address.
pub(crate) async fn tls_server(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> SocketAddr {
    https_server(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        chain,
        key,
        "secure hello",
    )
    .await
    .expect("a TLS listener")
}

/// An HTTPS server on `bind` answering every request with `200` and `body`.
pub(crate) async fn https_server(
    bind: SocketAddr,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    body: &'static str,
) -> std::io::Result<SocketAddr> {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind(bind).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|window| window == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => request.extend_from_slice(&buffer[..read]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Ok(address)
}

/// A port on 127.0.0.1 where nothing listens.
pub(crate) async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// A listener that accepts connections and never says anything.
pub(crate) async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    address
}

/// A listener that answers every connection with the given raw bytes, then closes.
pub(crate) async fn raw_server(answer: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0u8; 1024];
                let _ = tokio::time::timeout(
                    std::time::Duration::from_millis(50),
                    stream.read(&mut buffer),
                )
                .await;
                let _ = stream.write_all(answer).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    address
}

/// Runs `probe` until `again` says the outcome is final (at most 20 times, 250 ms apart):
/// servers pick up configuration changes after a moment.
pub(crate) async fn eventually_outcome<F, Fut>(
    mut probe: F,
    again: impl Fn(&pharos_core::Outcome) -> bool,
) -> pharos_core::Outcome
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = pharos_core::Outcome>,
{
    let mut outcome = probe().await;
    for _ in 0..20 {
        if !again(&outcome) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        outcome = probe().await;
    }
    outcome
}
