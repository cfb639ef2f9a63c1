//! The TCP probe against real listeners.

use crate::support::{closed_port, raw_server, run, silent_server};
use pharos_core::ProbeStatus;

#[tokio::test]
async fn a_listening_port_is_up_with_phase_timings() {
    let address = raw_server(b"220 mail.test ESMTP ready\r\n").await;
    let outcome = run(
        "tcp",
        &format!(
            "host = \"127.0.0.1\"\nport = {}\nexpect = \"220\"",
            address.port()
        ),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
    assert!(
        outcome.phase("connect").is_some() && outcome.phase("banner").is_some(),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_closed_port_is_down_with_connect_refused() {
    let port = closed_port().await;
    let outcome = run("tcp", &format!("host = \"127.0.0.1\"\nport = {port}")).await;
    assert_eq!(outcome.status, ProbeStatus::Down);
    assert_eq!(outcome.reason.as_deref(), Some("connection refused"));
}

#[tokio::test]
async fn a_wrong_banner_is_quoted_in_the_reason() {
    let address = raw_server(b"554 no service\r\n").await;
    let outcome = run(
        "tcp",
        &format!(
            "host = \"127.0.0.1\"\nport = {}\nexpect = \"220\"",
            address.port()
        ),
    )
    .await;
    assert_eq!(
        outcome.reason.as_deref(),
        Some("expected `220` in the answer, got `554 no service`")
    );
}

#[tokio::test]
async fn a_silent_server_times_out_in_the_banner_phase() {
    let address = silent_server().await;
    let started = std::time::Instant::now();
    let outcome = run(
        "tcp",
        &format!(
            "host = \"127.0.0.1\"\nport = {}\nexpect = \"220\"",
            address.port()
        ),
    )
    .await;
    assert_eq!(
        outcome.reason.as_deref(),
        Some("timed out after 2s during banner")
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "the probe must end by its timeout"
    );
}

#[tokio::test]
async fn send_then_expect_an_echoed_answer() {
    let address = raw_server(b"+PONG\r\n").await;
    let outcome = run(
        "tcp",
        &format!(
            "host = \"127.0.0.1\"\nport = {}\nsend = \"PING\\r\\n\"\nexpect = \"PONG\"",
            address.port()
        ),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
}
