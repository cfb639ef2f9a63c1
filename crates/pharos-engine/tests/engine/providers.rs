//! The provider's own word beside our probes: an incident opened by our checks says what the
//! provider reports (above all when it says all is well), and the provider admitting the
//! problem later is an update of that incident, once, also across a restart.

use crate::dependencies::{affected, down, up, Harness};
use pharos_core::{ComponentId, EventKind, Outcome};
use std::time::Duration;

/// Webmail needs Exchange Online, whose status is Microsoft's word; Mail is our own SMTP check
/// with Google's word beside it.
const CONFIG: &str = r#"
[incidents]
correlation_window = "60s"
settle = "30s"

[[components]]
id = "exchange"
name = "Microsoft 365 — Exchange Online"

[[monitors]]
id = "exchange-health"
component = "exchange"
type = "provider"
provider = "microsoft365"
tenant_id = "tenant-1"
client_id = "client-9"
client_secret = "s3cret-value"
service = "Exchange Online"

[[components]]
id = "webmail"
name = "Webmail"
depends_on = ["exchange"]

[[monitors]]
id = "webmail"
component = "webmail"
type = "http"
url = "http://127.0.0.1/"

[[components]]
id = "mail"
name = "Mail"

[[monitors]]
id = "smtp"
component = "mail"
type = "tcp"
host = "127.0.0.1"
port = 25

[[monitors]]
id = "gmail-status"
component = "mail"
type = "provider"
provider = "google_workspace"
products = ["Gmail"]

[[components]]
id = "website"
name = "Website"

[[monitors]]
id = "website"
component = "website"
type = "http"
url = "http://127.0.0.1:8080/"

[[channels]]
id = "ops"
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
events = ["incident.opened", "incident.updated", "incident.resolved"]
"#;

const EXCHANGE_FINE: &str = "Microsoft reports Exchange Online as operational";
const EXCHANGE_ADMITS: &str =
    "Microsoft reports EX123456: Users may be unable to access email via Outlook.";

/// A provider check's outcome as the probe gives it: the word in the detail, and in the
/// reason when it is not up.
fn word(up_or_down: Outcome, text: &str) -> Outcome {
    let reason = up_or_down
        .reason
        .as_ref()
        .map(|_| format!("{text} (major outage)"));
    Outcome {
        reason,
        ..up_or_down
    }
    .with_detail(Some(text.to_owned()))
}

fn unread() -> Outcome {
    Outcome::unknown(Duration::ZERO, vec![], "HTTP 429: slow down")
}

#[tokio::test]
async fn our_checks_failing_while_the_provider_says_all_is_well_is_said_and_its_admission_joins() {
    let mut harness = Harness::with(CONFIG).await;
    harness
        .feed_outcomes(
            0,
            &[
                ("exchange-health", word(up(), EXCHANGE_FINE)),
                ("webmail", up()),
            ],
        )
        .await;
    let rechecks = harness.feed_outcomes(10, &[("webmail", down())]).await;
    assert_eq!(
        rechecks,
        [harness.monitor("exchange-health")],
        "the provider is asked at once"
    );
    harness
        .feed_outcomes(11, &[("exchange-health", word(up(), EXCHANGE_FINE))])
        .await;
    harness.feed_outcomes(15, &[("webmail", down())]).await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let first = &incidents[0].updates[0].message;
    assert!(
        first.ends_with(
            " Microsoft reports Exchange Online as operational, but our own checks fail."
        ),
        "{first}"
    );

    // An unreadable feed says nothing.
    harness
        .feed_outcomes(20, &[("exchange-health", unread())])
        .await;
    assert_eq!(harness.count(EventKind::IncidentUpdated), 0);

    // Microsoft admits it: Exchange Online is the root cause, and its words are an update of
    // the one incident.
    harness
        .feed_outcomes(40, &[("exchange-health", word(down(), EXCHANGE_ADMITS))])
        .await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let incident = &incidents[0];
    assert_eq!(incident.component, ComponentId::new("exchange"));
    assert_eq!(affected(incident), ["webmail"]);
    assert_eq!(
        incident.updates.last().unwrap().message,
        "Webmail is affected because Microsoft 365 — Exchange Online is down. \
         Microsoft reports EX123456: Users may be unable to access email via Outlook."
    );
    assert_eq!(harness.count(EventKind::IncidentOpened), 1);
    assert_eq!(
        harness.count(EventKind::IncidentUpdated),
        1,
        "one update says both"
    );

    // Microsoft resolves it and Webmail answers again: one resolution.
    harness
        .feed_outcomes(
            60,
            &[
                ("exchange-health", word(up(), EXCHANGE_FINE)),
                ("webmail", up()),
            ],
        )
        .await;
    harness.feed_outcomes(70, &[("webmail", up())]).await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert!(!incidents[0].is_open(), "{incidents:#?}");
    assert_eq!(harness.count(EventKind::IncidentResolved), 1);
}

#[tokio::test]
async fn a_provider_beside_our_probes_adds_its_word_once_also_across_a_restart() {
    let gmail_fine = "Google reports Gmail as operational";
    let gmail_admits = "Google reports a8sFJmJYq2xCxbwznEpK: Gmail users are experiencing delays";
    let mut harness = Harness::with(CONFIG).await;
    harness
        .feed_outcomes(
            0,
            &[("smtp", up()), ("gmail-status", word(up(), gmail_fine))],
        )
        .await;
    let rechecks = harness.feed_outcomes(10, &[("smtp", down())]).await;
    assert_eq!(rechecks, [harness.monitor("gmail-status")]);
    harness
        .feed_outcomes(11, &[("gmail-status", word(up(), gmail_fine))])
        .await;
    harness.feed_outcomes(15, &[("smtp", down())]).await;
    let incident = &harness.incidents().await[0];
    assert!(
        incident.updates[0]
            .message
            .ends_with(" Google reports Gmail as operational, but our own checks fail."),
        "{incident:#?}"
    );

    // Google admits it while our check still fails: one update, not one per reading.
    for second in [30, 40] {
        harness
            .feed_outcomes(
                second,
                &[
                    ("smtp", down()),
                    ("gmail-status", word(down(), gmail_admits)),
                ],
            )
            .await;
    }
    assert_eq!(harness.count(EventKind::IncidentUpdated), 1);
    let incident = &harness.incidents().await[0];
    assert_eq!(
        incident.updates.last().unwrap().message,
        format!("{gmail_admits}.")
    );

    // After a restart the same word is not news.
    let mut harness = harness.restart(50).await;
    harness
        .feed_outcomes(
            60,
            &[
                ("smtp", down()),
                ("gmail-status", word(down(), gmail_admits)),
            ],
        )
        .await;
    assert_eq!(harness.count(EventKind::IncidentUpdated), 1);
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].updates.len(), 2, "{incidents:#?}");
}
