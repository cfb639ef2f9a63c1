//! Every email probe against the real Postfix + Dovecot, over plain text, STARTTLS and
//! implicit TLS where the protocol has them.

use crate::mailstack::*;
use crate::support::{run, run_as};
use pharos_core::ProbeStatus;

fn assert_up(what: &str, outcome: &pharos_core::Outcome) {
    assert_eq!(outcome.status, ProbeStatus::Up, "{what}: {outcome:?}");
}

#[tokio::test]
async fn smtp_works_plain_with_starttls_and_with_implicit_tls() {
    let Some(_stack) = stack().await else { return };
    let plain = run("smtp", &endpoint(SMTP_PLAIN, "none", false)).await;
    assert_up("plain", &plain);
    assert_eq!(
        plain.detail.as_deref(),
        Some("greeting: mail.example.test ESMTP mailstack")
    );
    for phase in ["connect", "greeting", "ehlo"] {
        assert!(
            plain.phase(phase).is_some(),
            "plain: no {phase} phase: {plain:?}"
        );
    }

    let envelope = format!(
        "{}mail_from = \"probe@example.test\"\nrcpt_to = \"{USER}\"\n",
        endpoint(SMTP_STARTTLS, "starttls", false)
    );
    let starttls = run("smtp", &envelope).await;
    assert_up("starttls with envelope", &starttls);
    for phase in ["tls", "ehlo_tls", "envelope"] {
        assert!(
            starttls.phase(phase).is_some(),
            "starttls: no {phase} phase: {starttls:?}"
        );
    }

    let submission = run("smtp", &endpoint(SUBMISSION, "starttls", true)).await;
    assert_up("submission with AUTH", &submission);
    assert!(submission.phase("auth").is_some());

    let implicit = run("smtp", &endpoint(SMTPS, "implicit", true)).await;
    assert_up("implicit TLS with AUTH", &implicit);
    let order: Vec<&str> = implicit
        .phases
        .iter()
        .map(|phase| phase.name.as_ref())
        .collect();
    let position = |name: &str| {
        order
            .iter()
            .position(|phase| *phase == name)
            .unwrap_or_else(|| panic!("no {name} in {order:?}"))
    };
    assert!(
        position("tls") < position("greeting"),
        "implicit TLS comes before the greeting: {order:?}"
    );
}

#[tokio::test]
async fn imap_works_plain_with_starttls_and_with_implicit_tls() {
    let Some(_stack) = stack().await else { return };
    for (port, tls) in [(IMAP, "none"), (IMAP, "starttls"), (IMAPS, "implicit")] {
        let outcome = run("imap", &endpoint(port, tls, true)).await;
        assert_up(tls, &outcome);
        assert!(
            outcome.detail.as_deref().unwrap().starts_with("INBOX: "),
            "{outcome:?}"
        );
        for phase in ["greeting", "capability", "login", "select", "logout"] {
            assert!(
                outcome.phase(phase).is_some(),
                "{tls}: no {phase} phase: {outcome:?}"
            );
        }
    }
}

#[tokio::test]
async fn pop3_works_plain_with_stls_and_with_implicit_tls() {
    let Some(_stack) = stack().await else { return };
    for (port, tls) in [(POP3, "none"), (POP3, "starttls"), (POP3S, "implicit")] {
        let outcome = run("pop3", &endpoint(port, tls, true)).await;
        assert_up(tls, &outcome);
        assert!(
            outcome.detail.as_deref().unwrap().ends_with(" messages"),
            "{outcome:?}"
        );
        for phase in ["greeting", "login", "stat"] {
            assert!(
                outcome.phase(phase).is_some(),
                "{tls}: no {phase} phase: {outcome:?}"
            );
        }
    }
}

#[tokio::test]
async fn mail_flows_end_to_end_and_leaves_nothing_behind() {
    let Some(_stack) = stack().await else { return };
    let routes = [
        (SUBMISSION, "starttls", IMAPS, "implicit"),
        (SMTPS, "implicit", IMAP, "starttls"),
        (SMTP_PLAIN, "none", IMAP, "none"),
    ];
    for (send_port, send_tls, receive_port, receive_tls) in routes {
        let outcome = run_as(
            "flow-e2e",
            "mailflow",
            &mailflow(send_port, send_tls, receive_port, receive_tls, "", USER),
        )
        .await;
        assert_up(&format!("{send_tls} → {receive_tls}"), &outcome);
        assert!(
            outcome.latency < std::time::Duration::from_secs(2),
            "delivery latency {:?}",
            outcome.latency
        );
        let detail = outcome.detail.as_deref().unwrap();
        assert!(detail.starts_with("delivered in "), "{detail}");
        for phase in [
            "receive_login",
            "cleanup",
            "send_greeting",
            "send_data",
            "delivery",
            "delete",
        ] {
            assert!(
                outcome.phase(phase).is_some(),
                "no {phase} phase: {outcome:?}"
            );
        }
    }
    // Every run deleted its own message: a further run finds nothing of this check to remove.
    let again = run_as(
        "flow-e2e",
        "mailflow",
        &mailflow(SUBMISSION, "starttls", IMAPS, "implicit", "", USER),
    )
    .await;
    assert_up("a further run", &again);
    assert!(
        !again.detail.as_deref().unwrap().contains("removed"),
        "check messages must be deleted: {again:?}"
    );
}
