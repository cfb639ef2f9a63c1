//! Fault scenarios on the real mail stack: each checks the probes that must fail, with the
//! right reason, and the ones that must keep passing.

use crate::mailstack::*;
use crate::support::{run, run_as, TestCa, Validity};
use pharos_core::{Outcome, ProbeStatus};

fn assert_status(what: &str, outcome: &Outcome, status: ProbeStatus) {
    assert_eq!(outcome.status, status, "{what}: {outcome:?}");
}

fn reason(outcome: &Outcome) -> &str {
    outcome.reason.as_deref().unwrap_or("")
}

/// Puts the stack back as it was even when an assertion fails half-way.
struct Restore(&'static str);

impl Drop for Restore {
    fn drop(&mut self) {
        mailstack(self.0);
    }
}

#[tokio::test]
async fn dovecot_stopped_takes_mailbox_access_and_mail_flow_down_but_not_smtp() {
    let Some(_stack) = stack().await else { return };
    mailstack("dovecot-stop");
    let _restore = Restore("dovecot-start");

    let imap = run("imap", &endpoint(IMAPS, "implicit", true)).await;
    assert_status("imap", &imap, ProbeStatus::Down);
    assert_eq!(reason(&imap), "connection refused");
    let pop3 = run("pop3", &endpoint(POP3, "starttls", true)).await;
    assert_status("pop3", &pop3, ProbeStatus::Down);
    assert_eq!(reason(&pop3), "connection refused");
    let flow = run_as(
        "flow-dovecot",
        "mailflow",
        &mailflow(SUBMISSION, "starttls", IMAPS, "implicit", "", USER),
    )
    .await;
    assert_status("mailflow", &flow, ProbeStatus::Down);
    assert_eq!(reason(&flow), "mailbox: connection refused");

    let smtp = run(
        "smtp",
        &format!(
            "{}mail_from = \"probe@example.test\"\nrcpt_to = \"{USER}\"\n",
            endpoint(SMTP_STARTTLS, "starttls", false)
        ),
    )
    .await;
    assert_status("smtp still accepts", &smtp, ProbeStatus::Up);
}

#[tokio::test]
async fn deferred_delivery_is_caught_only_by_the_mail_flow_check_which_cleans_up_after() {
    let Some(_stack) = stack().await else { return };
    mailstack("defer-on");
    let restore = Restore("defer-off");

    let flow = run_as(
        "flow-deferred",
        "mailflow",
        &mailflow(SUBMISSION, "starttls", IMAPS, "implicit", "", USER),
    )
    .await;
    assert_status("mailflow", &flow, ProbeStatus::Down);
    assert!(
        reason(&flow).starts_with(
            "message not delivered within 4s (accepted by the SMTP server: 250 2.0.0 Ok: queued as"
        ),
        "{flow:?}"
    );
    for (kind, body) in [
        (
            "smtp",
            format!(
                "{}mail_from = \"probe@example.test\"\nrcpt_to = \"{USER}\"\n",
                endpoint(SUBMISSION, "starttls", true)
            ),
        ),
        ("imap", endpoint(IMAPS, "implicit", true)),
        ("pop3", endpoint(POP3S, "implicit", true)),
    ] {
        assert_status(kind, &run(kind, &body).await, ProbeStatus::Up);
    }

    // Release the queue: the late message arrives, and a later run of the same check removes
    // it. Postfix may take a few seconds to retry, so keep looking (and nudging) for a while.
    drop(restore);
    let deferred = mailflow(SUBMISSION, "starttls", IMAPS, "implicit", "", USER);
    let mut removed = None;
    for attempt in 0..60 {
        let flow = run_as("flow-deferred", "mailflow", &deferred).await;
        assert_status(
            "mailflow after the queue is released",
            &flow,
            ProbeStatus::Up,
        );
        if flow
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("removed 1 message(s) left by an earlier run")
        {
            removed = Some(flow);
            break;
        }
        if attempt % 8 == 7 {
            mailstack("flush");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(
        removed.is_some(),
        "the held message arrived and a later run removed it"
    );
    let after = run_as("flow-deferred", "mailflow", &deferred).await;
    assert!(
        !after.detail.as_deref().unwrap_or("").contains("removed"),
        "nothing is left behind: {after:?}"
    );
}

#[tokio::test]
async fn an_expired_certificate_fails_every_tls_probe_and_spares_plain_text() {
    let Some(_stack) = stack().await else { return };
    let ca = TestCa::new();
    let (chain, key) = ca.leaf(
        &["localhost", "127.0.0.1", "mail.example.test"],
        Validity::ExpiredDaysAgo(3),
    );
    let tls = std::path::Path::new(ROOT).join("tls");
    let (original_cert, original_key) = (
        std::fs::read(tls.join("cert.pem")).unwrap(),
        std::fs::read(tls.join("key.pem")).unwrap(),
    );
    std::fs::write(tls.join("cert.pem"), pem("CERTIFICATE", chain[0].as_ref())).unwrap();
    std::fs::write(tls.join("key.pem"), pem("PRIVATE KEY", key.secret_der())).unwrap();
    mailstack("reload");
    struct RestoreCertificate(std::path::PathBuf, Vec<u8>, Vec<u8>);
    impl Drop for RestoreCertificate {
        fn drop(&mut self) {
            std::fs::write(self.0.join("cert.pem"), &self.1).unwrap();
            std::fs::write(self.0.join("key.pem"), &self.2).unwrap();
            mailstack("reload");
        }
    }
    let _restore = RestoreCertificate(tls, original_cert, original_key);

    let ca_file = ca.pem_file.display().to_string();
    let with_ca = |body: String| body.replace(CA, &ca_file);
    for (kind, body) in [
        (
            "smtp starttls",
            with_ca(endpoint(SMTP_STARTTLS, "starttls", false)),
        ),
        ("smtp implicit", with_ca(endpoint(SMTPS, "implicit", true))),
        ("imap starttls", with_ca(endpoint(IMAP, "starttls", true))),
        ("imap implicit", with_ca(endpoint(IMAPS, "implicit", true))),
        ("pop3 stls", with_ca(endpoint(POP3, "starttls", true))),
    ] {
        let outcome = crate::support::eventually_outcome(
            || run(kind.split(' ').next().unwrap(), &body),
            |outcome| outcome.status == ProbeStatus::Up,
        )
        .await;
        assert_status(kind, &outcome, ProbeStatus::Down);
        assert_eq!(
            reason(&outcome),
            "TLS certificate expired 3 days ago",
            "{kind}"
        );
    }
    assert_status(
        "plain smtp",
        &run("smtp", &endpoint(SMTP_PLAIN, "none", false)).await,
        ProbeStatus::Up,
    );
    assert_status(
        "plain imap",
        &run("imap", &endpoint(IMAP, "none", true)).await,
        ProbeStatus::Up,
    );
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_failure_everywhere() {
    let Some(_stack) = stack().await else { return };
    // A wrong password takes Dovecot 2 s to refuse: allow for it.
    let wrong = |body: String| {
        let body = body.replace(PASSWORD, "not-the-password");
        if body.contains("timeout =") {
            body
        } else {
            format!("timeout = \"8s\"\n{body}")
        }
    };
    let smtp = run("smtp", &wrong(endpoint(SUBMISSION, "starttls", true))).await;
    assert_status("smtp", &smtp, ProbeStatus::Down);
    assert!(
        reason(&smtp).starts_with("authentication failed: 535 5.7.8"),
        "{smtp:?}"
    );
    let imap = run("imap", &wrong(endpoint(IMAPS, "implicit", true))).await;
    assert_status("imap", &imap, ProbeStatus::Down);
    assert!(
        reason(&imap).starts_with("authentication failed: NO [AUTHENTICATIONFAILED]"),
        "{imap:?}"
    );
    let pop3 = run("pop3", &wrong(endpoint(POP3S, "implicit", true))).await;
    assert_status("pop3", &pop3, ProbeStatus::Down);
    assert!(
        reason(&pop3).starts_with("authentication failed: -ERR"),
        "{pop3:?}"
    );
    let flow = run_as(
        "flow-password",
        "mailflow",
        &wrong(mailflow(
            SUBMISSION, "starttls", IMAPS, "implicit", "", USER,
        )),
    )
    .await;
    assert!(
        reason(&flow).starts_with("mailbox: authentication failed"),
        "{flow:?}"
    );

    assert_status(
        "the right password",
        &run("imap", &endpoint(IMAPS, "implicit", true)).await,
        ProbeStatus::Up,
    );
}

#[tokio::test]
async fn a_recipient_that_does_not_exist_is_rejected() {
    let Some(_stack) = stack().await else { return };
    let envelope = |to: &str| {
        format!(
            "{}mail_from = \"probe@example.test\"\nrcpt_to = \"{to}\"\n",
            endpoint(SMTP_STARTTLS, "starttls", false)
        )
    };
    let smtp = run("smtp", &envelope("nobody@example.test")).await;
    assert_status("smtp", &smtp, ProbeStatus::Down);
    assert!(
        reason(&smtp).starts_with("recipient rejected: 550 5.1.1"),
        "{smtp:?}"
    );
    assert_status(
        "an existing recipient",
        &run("smtp", &envelope(USER)).await,
        ProbeStatus::Up,
    );
    let flow = run_as(
        "flow-recipient",
        "mailflow",
        &mailflow(
            SUBMISSION,
            "starttls",
            IMAPS,
            "implicit",
            "",
            "nobody@example.test",
        ),
    )
    .await;
    assert!(
        reason(&flow).starts_with("sending: recipient rejected: 550 5.1.1"),
        "{flow:?}"
    );
}
