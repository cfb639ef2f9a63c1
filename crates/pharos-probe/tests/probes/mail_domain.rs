//! The mail-domain probe against the in-process DNS server (good and broken SPF, DMARC, MX
//! and MTA-STS records, and a blocklist zone listing one address), an HTTPS server for the
//! MTA-STS policies, and the real Postfix as MX.

use crate::mailstack::{stack, CA, SMTP_STARTTLS};
use crate::support::{run, TestCa, Validity};
use pharos_core::ProbeStatus;
use pharos_demo::rdata::{A, MX, TXT};
use pharos_demo::{DnsResponder, Name, RData, RecordType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::SocketAddr;
use std::str::FromStr;

const POLICY_ADDRESS: [u8; 4] = [127, 7, 7, 7];

fn txt(text: &str) -> Vec<RData> {
    vec![RData::TXT(TXT::new(vec![text.to_owned()]))]
}

fn a(octets: [u8; 4]) -> Vec<RData> {
    vec![RData::A(A::new(octets[0], octets[1], octets[2], octets[3]))]
}

fn mx(records: &[(u16, &str)]) -> Vec<RData> {
    records
        .iter()
        .map(|(preference, host)| {
            RData::MX(MX::new(
                *preference,
                Name::from_str(&format!("{host}.")).unwrap(),
            ))
        })
        .collect()
}

async fn zone() -> DnsResponder {
    let dns = DnsResponder::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    dns.set(
        "example.test",
        RecordType::MX,
        mx(&[(10, "mail.example.test")]),
    );
    dns.set("mail.example.test", RecordType::A, a([127, 0, 0, 1]));
    dns.set("example.test", RecordType::TXT, txt("v=spf1 mx -all"));
    dns.set(
        "_dmarc.example.test",
        RecordType::TXT,
        txt("v=DMARC1; p=reject; rua=mailto:dmarc@example.test"),
    );
    dns.set(
        "_mta-sts.example.test",
        RecordType::TXT,
        txt("v=STSv1; id=20261125"),
    );
    dns.set("mta-sts.example.test", RecordType::A, a(POLICY_ADDRESS));

    dns.set(
        "broken.test",
        RecordType::MX,
        mx(&[(10, "mail.example.test"), (20, "mx2.broken.test")]),
    );
    dns.set("mx2.broken.test", RecordType::A, a([127, 0, 0, 3]));
    dns.set("broken.test", RecordType::TXT, txt("v=spf1 mx +all"));
    dns.set(
        "_mta-sts.broken.test",
        RecordType::TXT,
        txt("v=STSv1; id=1"),
    );
    dns.set("mta-sts.broken.test", RecordType::A, a(POLICY_ADDRESS));

    // The blocklist lists 127.0.0.3 (broken.test's second MX) and nothing else.
    dns.set(
        "3.0.0.127.bl.example.test",
        RecordType::A,
        a([127, 0, 0, 2]),
    );
    dns
}

/// Serves the MTA-STS policy over HTTPS on 127.7.7.7:443; both domains' policies list only
/// mail.example.test. `None` where port 443 cannot be bound (not root).
async fn policy_server(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Option<SocketAddr> {
    let policy = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmax_age: 86400\r\n";
    crate::support::https_server(SocketAddr::from((POLICY_ADDRESS, 443)), chain, key, policy)
        .await
        .ok()
}

#[tokio::test]
async fn a_healthy_and_a_broken_mail_domain_with_every_finding_reported() {
    let Some(_stack) = stack().await else { return };
    let dns = zone().await;
    let ca = TestCa::new();
    let (chain, key) = ca.leaf(
        &["mta-sts.example.test", "mta-sts.broken.test"],
        Validity::Valid,
    );
    if policy_server(chain, key).await.is_none() {
        crate::support::skip(
            crate::mailstack::REQUIRED_VARIABLE,
            "the mail-domain test",
            "binding 127.7.7.7:443 for the MTA-STS policy server needs root",
        );
        return;
    }
    // Trust both the mail stack's CA (the MX) and the test CA (the policy server).
    let dir = tempfile::tempdir().unwrap();
    let trusted = dir.path().join("trusted.pem");
    std::fs::write(
        &trusted,
        [
            std::fs::read(CA).unwrap(),
            std::fs::read(&ca.pem_file).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let monitor = |domain: &str| {
        format!(
            "domain = \"{domain}\"\nresolver = \"{}\"\nmx_port = {SMTP_STARTTLS}\nblocklists = [\"bl.example.test\"]\nca_file = \"{}\"\ntimeout = \"8s\"\n",
            dns.address(),
            trusted.display()
        )
    };

    let good = run("maildomain", &monitor("example.test")).await;
    assert_eq!(good.status, ProbeStatus::Up, "{good:?}");
    assert_eq!(
        good.detail.as_deref().unwrap().lines().collect::<Vec<_>>(),
        [
            "ok: MX mail.example.test (preference 10) resolves to 127.0.0.1",
            "ok: MX mail.example.test (127.0.0.1:2525) accepts connections and STARTTLS",
            "ok: SPF: v=spf1 mx -all",
            "ok: DMARC: policy reject",
            "ok: MTA-STS: policy mode enforce, covers every MX",
            "ok: MX addresses are on none of: bl.example.test",
        ]
    );

    let broken = run("maildomain", &monitor("broken.test")).await;
    assert_eq!(broken.status, ProbeStatus::Down, "{broken:?}");
    let reason = broken.reason.as_deref().unwrap();
    for problem in [
        "MX mx2.broken.test (127.0.0.3:2525): connection refused",
        "SPF: `+all` lets every server on the internet send as this domain",
        "MTA-STS: the policy (mode enforce) does not cover MX mx2.broken.test",
        "127.0.0.3 (MX mx2.broken.test) is listed on bl.example.test (127.0.0.2)",
    ] {
        assert!(reason.contains(problem), "missing {problem:?} in {reason}");
    }
    let detail = broken.detail.as_deref().unwrap();
    assert!(
        detail.contains("warning: DMARC: no record at _dmarc.broken.test"),
        "{detail}"
    );
    assert!(
        detail
            .contains("ok: MX mail.example.test (127.0.0.1:2525) accepts connections and STARTTLS"),
        "{detail}"
    );
}

#[tokio::test]
async fn dns_only_checks_work_without_a_mail_server() {
    let dns = zone().await;
    let monitor = |domain: &str| {
        format!("domain = \"{domain}\"\nresolver = \"{}\"\nmx_port = 0\nmta_sts = false\nblocklists = [\"bl.example.test\"]\n", dns.address())
    };
    let good = run("maildomain", &monitor("example.test")).await;
    assert_eq!(good.status, ProbeStatus::Up, "{good:?}");
    let missing = run("maildomain", &monitor("nowhere.test")).await;
    assert_eq!(missing.status, ProbeStatus::Down);
    assert!(
        missing
            .reason
            .as_deref()
            .unwrap()
            .starts_with("MX: nowhere.test does not exist (NXDOMAIN)"),
        "{missing:?}"
    );
    let broken = run("maildomain", &monitor("broken.test")).await;
    assert_eq!(broken.status, ProbeStatus::Down);
    assert!(
        broken
            .reason
            .as_deref()
            .unwrap()
            .contains("is listed on bl.example.test"),
        "{broken:?}"
    );
}
