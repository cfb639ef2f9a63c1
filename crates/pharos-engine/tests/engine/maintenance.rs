//! Maintenance windows: a component inside one is under maintenance and opens no incident
//! however its checks fail; when the window ends, a failure still there opens one; an
//! incident open when a window begins is neither resolved nor changed by it.

use crate::dependencies::Harness;
use pharos_core::{ComponentStatus, EventKind};

/// The harness's times start at 2027-01-15T08:00:00Z.
const CONFIG: &str = r#"
[[components]]
id = "mail"
name = "Mail"

[[monitors]]
id = "smtp"
component = "mail"
type = "tcp"
host = "127.0.0.1"
port = 25

[[components]]
id = "web"
name = "Webmail"

[[monitors]]
id = "webmail"
component = "web"
type = "tcp"
host = "127.0.0.1"
port = 443

[[components]]
id = "website"
name = "Website"

[[monitors]]
id = "website"
component = "website"
type = "tcp"
host = "127.0.0.1"
port = 80

[[maintenance]]
id = "mail-upgrade"
title = "Mail upgrade"
components = ["mail"]
start = "2027-01-15T08:01:00Z"
duration = "2m"

[[maintenance]]
id = "web-patch"
title = "Webmail patch"
components = ["web"]
start = "2027-01-15T08:05:00Z"
duration = "1m"

[[channels]]
id = "ops"
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
events = ["incident.opened", "incident.updated", "incident.resolved", "component.status_changed"]
"#;

#[tokio::test]
async fn a_window_holds_incidents_back_and_one_already_open_waits_for_its_end() {
    let mut harness = Harness::with(CONFIG).await;
    harness.feed(0, &[("smtp", true), ("webmail", true)]).await;
    harness.follow_maintenance(60).await;
    assert_eq!(
        harness.status("mail").await,
        ComponentStatus::UnderMaintenance
    );
    assert_eq!(harness.count(EventKind::ComponentStatusChanged), 1);

    // The upgrade takes SMTP down: recorded, no incident.
    for second in [70, 75, 120] {
        harness.feed(second, &[("smtp", false)]).await;
    }
    assert!(harness.incidents().await.is_empty());
    assert_eq!(
        harness.status("mail").await,
        ComponentStatus::UnderMaintenance
    );

    // The window ends with SMTP still down: now it is an incident.
    harness.follow_maintenance(180).await;
    let incidents = harness.incidents().await;
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0].component.as_str(), "mail");
    assert_eq!(incidents[0].detected_at.timestamp(), 1_800_000_180);
    harness.feed(190, &[("smtp", true)]).await;
    harness.feed(195, &[("smtp", true)]).await;
    assert!(!harness.incidents().await[0].is_open());

    // Webmail fails before its window: an incident; the window begins and ends around it.
    harness.feed(200, &[("webmail", false)]).await;
    harness.feed(205, &[("webmail", false)]).await;
    let open = harness
        .incidents()
        .await
        .into_iter()
        .find(|incident| incident.component.as_str() == "web")
        .expect("an incident for webmail");
    assert!(open.is_open());
    harness.follow_maintenance(300).await;
    assert_eq!(
        harness.status("web").await,
        ComponentStatus::UnderMaintenance
    );
    harness.feed(310, &[("webmail", true)]).await;
    harness.feed(315, &[("webmail", true)]).await;
    let during = harness.incidents().await;
    let web = during
        .iter()
        .find(|incident| incident.id == open.id)
        .unwrap();
    assert!(web.is_open(), "a window does not resolve an incident");
    assert_eq!(web.updates, open.updates, "nor speak for it");
    harness.follow_maintenance(360).await;
    let after = harness.incidents().await;
    let web = after
        .iter()
        .find(|incident| incident.id == open.id)
        .unwrap();
    assert!(
        !web.is_open(),
        "resolved once the window ended, by its checks"
    );
    assert_eq!(harness.status("web").await, ComponentStatus::Operational);
    assert_eq!(harness.count(EventKind::IncidentOpened), 2);
}
