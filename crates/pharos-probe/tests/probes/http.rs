//! The HTTP(S) probe against a real axum server, raw misbehaving servers and TLS listeners.

use crate::support::{closed_port, raw_server, run, tls_server, TestCa, Validity};
use axum::http::StatusCode;
use axum::response::Redirect;
use axum::routing::{get, post};
use axum::Router;
use pharos_core::ProbeStatus;
use std::net::SocketAddr;
use std::time::Duration;

async fn web_server() -> SocketAddr {
    let app = Router::new()
        .route("/ok", get(|| async { "Welcome to webmail, version 42" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "maintenance") }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route("/moved", get(|| async { Redirect::temporary("/ok") }))
        .route("/loop", get(|| async { Redirect::temporary("/loop") }))
        .route("/echo", post(|body: String| async move { body }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

#[tokio::test]
async fn a_healthy_page_is_up_with_every_phase_timed() {
    let address = web_server().await;
    let outcome = run("http", &format!("url = \"http://{address}/ok\"\nbody_contains = \"webmail\"\nbody_regex = \"version \\\\d+\"")).await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
    for phase in ["dns", "connect", "first_byte", "body"] {
        assert!(
            outcome.phase(phase).is_some(),
            "missing phase {phase}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn an_unexpected_status_names_both_statuses() {
    let address = web_server().await;
    let outcome = run(
        "http",
        &format!("url = \"http://{address}/fail\"\naccept_status = [200]"),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Down);
    assert_eq!(outcome.reason.as_deref(), Some("expected 200, got 503"));
}

#[tokio::test]
async fn missing_body_text_and_pattern_are_reported() {
    let address = web_server().await;
    let outcome = run(
        "http",
        &format!("url = \"http://{address}/ok\"\nbody_contains = \"Sign in\""),
    )
    .await;
    assert_eq!(
        outcome.reason.as_deref(),
        Some("body does not contain `Sign in`")
    );
    let outcome = run(
        "http",
        &format!("url = \"http://{address}/ok\"\nbody_regex = \"^Sign\""),
    )
    .await;
    assert_eq!(
        outcome.reason.as_deref(),
        Some("body does not match /^Sign/")
    );
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let address = web_server().await;
    let outcome = run(
        "http",
        &format!("url = \"http://{address}/moved\"\nbody_contains = \"webmail\""),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
    let outcome = run(
        "http",
        &format!("url = \"http://{address}/moved\"\nfollow_redirects = false"),
    )
    .await;
    assert_eq!(outcome.reason.as_deref(), Some("expected 2xx, got 307"));
    let outcome = run(
        "http",
        &format!("url = \"http://{address}/loop\"\nmax_redirects = 3"),
    )
    .await;
    assert_eq!(outcome.reason.as_deref(), Some("expected 2xx, got 307"));
}

#[tokio::test]
async fn a_post_sends_its_body() {
    let address = web_server().await;
    let outcome = run("http", &format!("url = \"http://{address}/echo\"\nmethod = \"POST\"\nbody = \"ping-123\"\nbody_contains = \"ping-123\"")).await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
}

#[tokio::test]
async fn a_hanging_server_ends_by_the_timeout_in_the_first_byte_phase() {
    let address = web_server().await;
    let started = std::time::Instant::now();
    let outcome = run("http", &format!("url = \"http://{address}/slow\"")).await;
    assert_eq!(
        outcome.reason.as_deref(),
        Some("timed out after 2s during first_byte")
    );
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn slow_answers_are_degraded_above_the_threshold() {
    let address = web_server().await;
    let outcome = run(
        "http",
        &format!("url = \"http://{address}/ok\"\ndegraded_above = \"1ns\""),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Degraded);
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap()
            .starts_with("slow: took "),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn refused_connections_are_down() {
    let port = closed_port().await;
    let outcome = run("http", &format!("url = \"http://127.0.0.1:{port}/\"")).await;
    assert_eq!(outcome.reason.as_deref(), Some("connection refused"));
}

#[tokio::test]
async fn malformed_answers_never_panic_and_are_down() {
    let answers: [&'static [u8]; 6] = [
        b"",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort",
        b"HTTP/1.1 999999 WHAT\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"\x00\xff\xfe\x16\x03\x01binary",
    ];
    for answer in answers {
        let address = raw_server(answer).await;
        let outcome = run("http", &format!("url = \"http://{address}/\"")).await;
        assert_eq!(
            outcome.status,
            ProbeStatus::Down,
            "{answer:?} gave {outcome:?}"
        );
        assert!(outcome.reason.is_some());
    }
}

#[tokio::test]
async fn https_with_a_trusted_certificate_is_up_with_a_tls_phase() {
    let ca = TestCa::new();
    let (chain, key) = ca.leaf(&["localhost"], Validity::Valid);
    let address = tls_server(chain, key).await;
    let outcome = run(
        "http",
        &format!(
            "url = \"https://localhost:{}/\"\nca_file = \"{}\"\nbody_contains = \"secure\"",
            address.port(),
            ca.pem_file.display()
        ),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
    assert!(outcome.phase("tls").is_some());
}

#[tokio::test]
async fn https_with_an_expired_certificate_says_how_long_ago() {
    let ca = TestCa::new();
    let (chain, key) = ca.leaf(&["localhost"], Validity::ExpiredDaysAgo(3));
    let address = tls_server(chain, key).await;
    let outcome = run(
        "http",
        &format!(
            "url = \"https://localhost:{}/\"\nca_file = \"{}\"",
            address.port(),
            ca.pem_file.display()
        ),
    )
    .await;
    assert_eq!(
        outcome.reason.as_deref(),
        Some("TLS certificate expired 3 days ago"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn https_to_an_untrusted_certificate_is_down_unless_verification_is_off() {
    let ca = TestCa::new();
    let (chain, key) = ca.leaf(&["localhost"], Validity::Valid);
    let address = tls_server(chain, key).await;
    let outcome = run(
        "http",
        &format!("url = \"https://localhost:{}/\"", address.port()),
    )
    .await;
    assert_eq!(
        outcome.reason.as_deref(),
        Some("TLS certificate issued by an unknown authority (self-signed or incomplete chain)")
    );
    let outcome = run(
        "http",
        &format!(
            "url = \"https://localhost:{}/\"\nverify_tls = false",
            address.port()
        ),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
}

#[tokio::test]
async fn random_answers_never_panic_and_always_end_within_the_timeout() {
    use rand::{Rng, RngCore, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    // Random bytes, some behind the start of a valid answer of each protocol.
    let prefixes: [&[u8]; 8] = [
        b"",
        b"HTTP/1.1 200 OK\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
        b"\x16\x03\x03",
        b"220 ",
        b"220-mail\r\n250",
        b"* OK ",
        b"+OK ",
    ];
    for round in 0..16 {
        let mut answer = prefixes[round % prefixes.len()].to_vec();
        let mut noise = vec![0u8; rng.random_range(0..600)];
        rng.fill_bytes(&mut noise);
        answer.extend_from_slice(&noise);
        let answer: &'static [u8] = Box::leak(answer.into_boxed_slice());
        let address = raw_server(answer).await;
        let port = address.port();
        let login = "username = \"u\"\npassword = \"p\"\nallow_plaintext_password = true";
        for (kind, body) in [
            ("http", format!("url = \"http://{address}/\"\nbody_contains = \"x\"")),
            ("http", format!("url = \"https://localhost:{port}/\"")),
            ("tls", format!("host = \"127.0.0.1\"\nport = {port}")),
            ("tcp", format!("host = \"127.0.0.1\"\nport = {port}\nexpect = \"pharos-expected-banner\"")),
            ("smtp", format!("host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nmail_from = \"a@b.test\"\nrcpt_to = \"c@d.test\"")),
            ("smtp", format!("host = \"127.0.0.1\"\nport = {port}\ntls = \"starttls\"")),
            ("imap", format!("host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n{login}")),
            ("pop3", format!("host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n{login}")),
        ] {
            let started = std::time::Instant::now();
            let outcome = run(kind, &body).await;
            assert!(started.elapsed() < Duration::from_secs(3), "{kind} round {round} overran its timeout");
            assert_ne!(outcome.status, ProbeStatus::Up, "{kind} round {round}: random bytes are not a good answer: {outcome:?}");
            assert!(outcome.reason.is_some());
        }
    }
}
