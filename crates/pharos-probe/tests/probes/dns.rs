//! The DNS probe against the in-process DNS responder.

use crate::support::run;
use pharos_core::ProbeStatus;
use pharos_demo::rdata::{A, MX, TXT};
use pharos_demo::{DnsResponder, Name, RData, RecordType};
use std::str::FromStr;

async fn responder() -> DnsResponder {
    let dns = DnsResponder::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    dns.set(
        "mail.example.test",
        RecordType::A,
        vec![RData::A(A::new(192, 0, 2, 10))],
    );
    dns.set(
        "example.test",
        RecordType::MX,
        vec![RData::MX(MX::new(
            10,
            Name::from_str("mx1.example.test.").unwrap(),
        ))],
    );
    dns.set(
        "example.test",
        RecordType::TXT,
        vec![RData::TXT(TXT::new(vec!["v=spf1 mx -all".into()]))],
    );
    dns
}

#[tokio::test]
async fn expected_answers_are_up() {
    let dns = responder().await;
    let resolver = dns.address();
    let outcome = run(
        "dns",
        &format!(
            "query = \"mail.example.test\"\nresolver = \"{resolver}\"\nexpect = [\"192.0.2.10\"]"
        ),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
    assert!(outcome.phase("query").is_some());
    let outcome = run("dns", &format!("query = \"example.test\"\nrecord = \"MX\"\nresolver = \"{resolver}\"\nexpect = [\"mx1.example.test\"]")).await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
    let outcome = run("dns", &format!("query = \"example.test\"\nrecord = \"TXT\"\nresolver = \"{resolver}\"\nexpect = \"v=spf1 mx -all\"")).await;
    assert_eq!(outcome.status, ProbeStatus::Up, "{outcome:?}");
}

#[tokio::test]
async fn a_changed_answer_is_down_and_shows_what_came_back() {
    let dns = responder().await;
    dns.set(
        "mail.example.test",
        RecordType::A,
        vec![RData::A(A::new(198, 51, 100, 7))],
    );
    let outcome = run(
        "dns",
        &format!(
            "query = \"mail.example.test\"\nresolver = \"{}\"\nexpect = [\"192.0.2.10\"]",
            dns.address()
        ),
    )
    .await;
    assert_eq!(
        outcome.reason.as_deref(),
        Some("expected A `192.0.2.10` for mail.example.test, got: 198.51.100.7")
    );
}

#[tokio::test]
async fn an_unknown_name_is_nxdomain() {
    let dns = responder().await;
    let outcome = run(
        "dns",
        &format!(
            "query = \"nothing.example.test\"\nresolver = \"{}\"",
            dns.address()
        ),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Down);
    assert_eq!(
        outcome.reason.as_deref(),
        Some("nothing.example.test does not exist (NXDOMAIN)"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_name_without_the_record_type_has_no_records() {
    let dns = responder().await;
    let outcome = run(
        "dns",
        &format!(
            "query = \"mail.example.test\"\nrecord = \"MX\"\nresolver = \"{}\"",
            dns.address()
        ),
    )
    .await;
    assert_eq!(
        outcome.reason.as_deref(),
        Some("no MX records for mail.example.test"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_monitor_timeout() {
    let dns = responder().await;
    dns.set_silent(true);
    let started = std::time::Instant::now();
    let outcome = run(
        "dns",
        &format!(
            "query = \"mail.example.test\"\nresolver = \"{}\"",
            dns.address()
        ),
    )
    .await;
    assert_eq!(outcome.status, ProbeStatus::Down);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{outcome:?}"
    );
}
