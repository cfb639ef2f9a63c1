//! Incidents from the real mail stack: the probes run against Postfix and Dovecot, their
//! outcomes go through the engine's evaluator (with chosen times, so the test does not wait
//! for intervals), and stopping Dovecot gives one incident for the mail store with mail
//! delivery and POP3 joined, not three.

use crate::mailstack::*;
use chrono::{DateTime, TimeZone, Utc};
use pharos_core::{ComponentId, EventKind};
use pharos_engine::{Evaluator, Topology};
use pharos_probe::Prober;
use pharos_store::{Batch, EngineState};
use std::sync::Arc;

fn config() -> String {
    let component = |id: &str, name: &str, needs: &str| {
        format!("[[components]]\nid = \"{id}\"\nname = \"{name}\"\ndepends_on = [{needs}]\n\n")
    };
    let monitor = |id: &str, component: &str, kind: &str, body: String| {
        format!(
            "[[monitors]]\nid = \"{id}\"\ncomponent = \"{component}\"\ntype = \"{kind}\"\n\
             interval = \"30s\"\n{timeout}{body}\n",
            timeout = if body.contains("timeout =") {
                ""
            } else {
                "timeout = \"3s\"\n"
            }
        )
    };
    let mut source = String::from("[incidents]\nsettle = \"10s\"\n\n");
    source += &component("store", "Mail store", "");
    source += &component("submission", "Mail submission", "");
    source += &component("pop3", "POP3 access", "\"store\"");
    source += &component("delivery", "Mail delivery", "\"store\", \"submission\"");
    source += &monitor("imap", "store", "imap", endpoint(IMAPS, "implicit", true));
    source += &monitor(
        "smtp",
        "submission",
        "smtp",
        format!(
            "{}mail_from = \"probe@example.test\"\nrcpt_to = \"{USER}\"\n",
            endpoint(SMTP_STARTTLS, "starttls", false)
        ),
    );
    source += &monitor("pop3", "pop3", "pop3", endpoint(POP3, "starttls", true));
    source += &monitor(
        "flow-incidents",
        "delivery",
        "mailflow",
        mailflow(SUBMISSION, "starttls", IMAPS, "implicit", "", USER),
    );
    source += "[[channels]]\nid = \"ops\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\n\
               secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n\
               events = [\"incident.opened\", \"incident.updated\", \"incident.resolved\"]\n";
    source
}

fn at(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap()
}

/// Runs every monitor once against the stack and feeds the outcomes in at `second`, in the
/// order given (a real engine sees them in whatever order they end).
async fn round(
    probers: &[Arc<Prober>],
    evaluator: &mut Evaluator,
    second: i64,
    sent: &mut Vec<EventKind>,
) {
    let outcomes = run_all(probers).await;
    let mut batch = Batch::default();
    for (monitor, outcome) in outcomes.into_iter().enumerate() {
        evaluator.observe(monitor, at(second), outcome, &mut batch);
    }
    evaluator.settle(at(second), &mut batch);
    sent.extend(batch.outbox.iter().map(|message| message.event));
}

async fn run_all(probers: &[Arc<Prober>]) -> Vec<pharos_core::Outcome> {
    let handles: Vec<_> = probers
        .iter()
        .cloned()
        .map(|prober| tokio::spawn(async move { prober.run().await }))
        .collect();
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.unwrap());
    }
    outcomes
}

#[tokio::test]
async fn dovecot_stopped_is_one_incident_for_the_mail_store_with_its_dependents_joined() {
    let Some(_stack) = stack().await else { return };
    pharos_probe::install_crypto_provider();
    let config = pharos_config::parse("incidents.toml", &config(), &|_| None)
        .unwrap_or_else(|errors| panic!("{errors}"));
    let topology = Arc::new(Topology::from_config(&config));
    let probers: Vec<Arc<Prober>> = config
        .monitors
        .iter()
        .map(|monitor| Arc::new(Prober::new(monitor).expect("probe set-up")))
        .collect();
    let state = EngineState {
        incident_ids: 1..100,
        ..EngineState::default()
    };
    let mut evaluator = Evaluator::new(topology, state, at(0));
    let mut sent = Vec::new();
    round(&probers, &mut evaluator, 0, &mut sent).await;
    assert!(sent.is_empty(), "the stack starts healthy: {sent:?}");

    mailstack("dovecot-stop");
    let restore = Restore("dovecot-start");
    for second in [5, 10, 15] {
        round(&probers, &mut evaluator, second, &mut sent).await;
    }
    evaluator.settle(at(40), &mut Batch::default());
    let open: Vec<_> = evaluator.open_incidents().cloned().collect();
    assert_eq!(open.len(), 1, "{open:#?}");
    let incident = &open[0];
    assert_eq!(incident.component, ComponentId::new("store"));
    let mut joined: Vec<&str> = incident
        .affected_dependents()
        .map(|dependent| dependent.component.as_str())
        .collect();
    joined.sort_unstable();
    assert_eq!(joined, ["delivery", "pop3"]);
    assert_eq!(
        sent.iter()
            .filter(|event| **event == EventKind::IncidentOpened)
            .count(),
        1,
        "{sent:?}"
    );

    drop(restore);
    for second in [60, 65, 70] {
        round(&probers, &mut evaluator, second, &mut sent).await;
    }
    assert_eq!(evaluator.open_incidents().count(), 0);
    assert_eq!(
        sent.iter()
            .filter(|event| **event == EventKind::IncidentResolved)
            .count(),
        1,
        "{sent:?}"
    );
}

/// Puts Dovecot back even when an assertion fails half-way.
struct Restore(&'static str);

impl Drop for Restore {
    fn drop(&mut self) {
        mailstack(self.0);
    }
}
