//! The TLS certificate probe against listeners with generated certificates.

use crate::support::{run, tls_server, TestCa, Validity};
use pharos_core::ProbeStatus;

async fn probe(
    ca: &TestCa,
    names: &[&str],
    validity: Validity,
    extra: &str,
) -> pharos_core::Outcome {
    let (chain, key) = ca.leaf(names, validity);
    let address = tls_server(chain, key).await;
    run(
        "tls",
        &format!(
            "host = \"localhost\"\nport = {}\nca_file = \"{}\"\n{extra}",
            address.port(),
            ca.pem_file.display()
        ),
    )
    .await
}

#[tokio::test]
async fn a_valid_certificate_is_up() {
    let ca = TestCa::new();
    let outcome = probe(&ca, &["localhost"], Validity::Valid, "").await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
    assert!(outcome.phase("tls").is_some());
}

#[tokio::test]
async fn an_expired_certificate_is_down_with_its_age() {
    let ca = TestCa::new();
    let outcome = probe(&ca, &["localhost"], Validity::ExpiredDaysAgo(3), "").await;
    assert_eq!(outcome.status, ProbeStatus::Down);
    assert_eq!(
        outcome.reason.as_deref(),
        Some("TLS certificate expired 3 days ago")
    );
}

#[tokio::test]
async fn a_certificate_for_another_host_names_what_it_is_valid_for() {
    let ca = TestCa::new();
    let outcome = probe(&ca, &["mail.example.test"], Validity::Valid, "").await;
    assert_eq!(
        outcome.reason.as_deref(),
        Some("TLS certificate is not valid for localhost (valid for mail.example.test)")
    );
}

#[tokio::test]
async fn a_certificate_close_to_expiry_is_degraded() {
    let ca = TestCa::new();
    let outcome = probe(
        &ca,
        &["localhost"],
        Validity::ExpiresInDays(5),
        "warn_days = 14",
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Degraded, "{outcome:?}");
    assert_eq!(
        outcome.reason.as_deref(),
        Some("TLS certificate expires in 5 days")
    );
}

#[tokio::test]
async fn a_plain_tcp_server_fails_the_handshake_without_panicking() {
    let address = crate::support::raw_server(b"220 not tls at all\r\n").await;
    let outcome = run(
        "tls",
        &format!("host = \"127.0.0.1\"\nport = {}", address.port()),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Down);
    assert!(
        outcome
            .reason
            .as_deref()
            .unwrap()
            .starts_with("TLS handshake failed"),
        "{outcome:?}"
    );
}
