//! Regression tests, each named after the bug it keeps fixed.

use crate::support::*;
use pharos_core::ProbeStatus;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A POP3 server that quotes every command back in its refusal, as some do.
async fn echoing_pop3_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"+OK ready\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let answer = if line.starts_with("USER") || line.starts_with("CAPA") {
                        "+OK\r\n".to_owned()
                    } else {
                        format!("-ERR [AUTH] refused: {line}\r\n")
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    address
}

/// Before: a server echoing `PASS …` put the mail password in the reason, and so on the
/// public page, in the incident timeline and in webhooks.
#[tokio::test]
async fn a_server_echoing_the_password_does_not_put_it_in_the_reason() {
    let address = echoing_pop3_server().await;
    let outcome = run(
        "pop3",
        &format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nallow_plaintext_password = true\n\
             username = \"probe\"\npassword = \"hunter2-mail-password\"",
            address.port()
        ),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Down, "{outcome:?}");
    let reason = outcome.reason.unwrap();
    assert!(reason.contains("refused: PASS [redacted]"), "{reason}");
    assert!(!reason.contains("hunter2"), "{reason}");
}

/// Before: a password over `tls = "none"` was accepted silently.
#[test]
fn a_password_without_tls_is_refused_unless_allowed() {
    let source = "[[components]]\nid = \"c\"\nname = \"C\"\n\n[[monitors]]\nid = \"m\"\ncomponent = \"c\"\n\
                  type = \"imap\"\nhost = \"127.0.0.1\"\nport = 143\ntls = \"none\"\nusername = \"u\"\npassword = \"secret-pass\"\n";
    let errors = pharos_config::parse("p.toml", source, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("would send its password unencrypted"),
        "{errors}"
    );
    let allowed = source.replace(
        "tls = \"none\"",
        "tls = \"none\"\nallow_plaintext_password = true",
    );
    assert!(pharos_config::parse("p.toml", &allowed, &|_| None).is_ok());
}

/// Before: an IMAP server sending literal after literal (3 GB) made one check hold 3.17 GB.
#[tokio::test]
async fn an_imap_server_sending_endless_literals_cannot_fill_memory() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<usize>();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"* OK ready\r\n").await.unwrap();
        let _ = lines.next_line().await;
        let chunk = vec![b'x'; 1024 * 1024];
        let mut sent = 0usize;
        let _ = write.write_all(b"* 1 FETCH (BODY[] {1048576}\r\n").await;
        // Up to 3 GB: a literal, then a line that announces the next one.
        while sent < 3 * 1024 * 1024 * 1024 {
            if write.write_all(&chunk).await.is_err()
                || write.write_all(b" BODY[] {1048576}\r\n").await.is_err()
            {
                break;
            }
            sent += chunk.len();
        }
        let _ = sent_tx.send(sent);
    });
    let outcome = run(
        "imap",
        &format!("host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\ntimeout = \"10s\""),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Down, "{outcome:?}");
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("more than 8 MiB in one response"),
        "{outcome:?}"
    );
    let sent = sent_rx.await.unwrap();
    assert!(
        sent < 64 * 1024 * 1024,
        "the check read {sent} bytes before giving up"
    );
}

/// A self-signed certificate for `names`, as PEM, with the chain and key a server uses.
fn self_signed(
    names: &[&str],
) -> (
    String,
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    let pem = certified.cert.pem();
    let chain = vec![certified.cert.der().clone()];
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    (pem, chain, key)
}

/// Before: a `ca_file` holding exactly the server's own self-signed certificate (as many
/// self-hosted mail servers run) was refused as "a CA certificate used as the server's own",
/// where curl, Python and blackbox accept it.
#[tokio::test]
async fn a_ca_file_holding_the_servers_own_self_signed_certificate_is_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let (pem, chain, key) = self_signed(&["localhost"]);
    let own = dir.path().join("own.pem");
    std::fs::write(&own, pem).unwrap();
    let address = tls_server(chain, key).await;
    let probe = |ca: &std::path::Path| {
        format!(
            "host = \"localhost\"\nport = {}\nca_file = \"{}\"",
            address.port(),
            ca.display()
        )
    };
    let outcome = run("tls", &probe(&own)).await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");

    // Another self-signed certificate is still no proof of this server.
    let (other_pem, _, _) = self_signed(&["localhost"]);
    let other = dir.path().join("other.pem");
    std::fs::write(&other, other_pem).unwrap();
    let outcome = run("tls", &probe(&other)).await;
    assert_eq!(outcome.status, ProbeStatus::Down, "{outcome:?}");

    // The exact certificate must still name the server.
    let (wrong_pem, wrong_chain, wrong_key) = self_signed(&["mail.example.test"]);
    let wrong = dir.path().join("wrong.pem");
    std::fs::write(&wrong, wrong_pem).unwrap();
    let wrong_address = tls_server(wrong_chain, wrong_key).await;
    let outcome = run(
        "tls",
        &format!(
            "host = \"localhost\"\nport = {}\nca_file = \"{}\"",
            wrong_address.port(),
            wrong.display()
        ),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Down, "{outcome:?}");
}

/// A server that answers whether it saw an `Authorization` header, and redirects
/// `/elsewhere` to `target` and `/here` to its own `/seen`.
async fn header_server(target: Option<std::net::SocketAddr>) -> std::net::SocketAddr {
    use axum::http::HeaderMap;
    use axum::response::Redirect;
    use axum::routing::get;
    let elsewhere = target.map(|target| format!("http://{target}/seen"));
    let app = axum::Router::new()
        .route(
            "/seen",
            get(|headers: HeaderMap| async move {
                if headers.contains_key("authorization") {
                    "token seen"
                } else {
                    "no token"
                }
            }),
        )
        .route("/here", get(|| async { Redirect::temporary("/seen") }))
        .route(
            "/elsewhere",
            get(move || {
                let elsewhere = elsewhere.clone().unwrap_or_default();
                async move { Redirect::temporary(&elsewhere) }
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// Before: a probe's configured headers (a bearer token, say) were sent on to wherever a
/// redirect pointed, another origin included.
#[tokio::test]
async fn probe_headers_are_not_forwarded_to_another_origin() {
    let other = header_server(None).await;
    let first = header_server(Some(other)).await;
    let probe = |path: &str, expect: &str| {
        format!(
            "url = \"http://{first}{path}\"\nheaders = {{ Authorization = \"Bearer probe-secret-token\" }}\nbody_contains = \"{expect}\""
        )
    };
    let same = run("http", &probe("/here", "token seen")).await;
    assert_eq!(
        same.status,
        ProbeStatus::Up,
        "the same origin gets the header: {same:?}"
    );
    let cross = run("http", &probe("/elsewhere", "no token")).await;
    assert_eq!(
        cross.status,
        ProbeStatus::Up,
        "another origin does not: {cross:?}"
    );
}

/// The base64 SHA-256 of a certificate's public key, as `pin_sha256` takes it.
fn pin_of(pem: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let der = rustls_pemfile::certs(&mut pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let (_, certificate) = x509_parser::parse_x509_certificate(der.as_ref()).unwrap();
    let spki = certificate.public_key().raw;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(spki))
}

/// The other way to trust a self-hosted server's own certificate: pin its public key
/// (`pin_sha256`, as curl's `--pinnedpubkey`); with a pin, no other key is trusted.
#[tokio::test]
async fn a_pinned_public_key_is_trusted_and_no_other_is() {
    let (pem, chain, key) = self_signed(&["mail.internal.test"]);
    let address = tls_server(chain, key).await;
    let probe = |pin: &str| {
        format!(
            "host = \"127.0.0.1\"\nport = {}\nserver_name = \"localhost\"\npin_sha256 = \"sha256//{pin}\"",
            address.port()
        )
    };
    let outcome = run("tls", &probe(&pin_of(&pem))).await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
    let (other_pem, _, _) = self_signed(&["mail.internal.test"]);
    let outcome = run("tls", &probe(&pin_of(&other_pem))).await;
    assert_eq!(outcome.status, ProbeStatus::Down, "{outcome:?}");
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("pin_sha256"),
        "{outcome:?}"
    );
}
