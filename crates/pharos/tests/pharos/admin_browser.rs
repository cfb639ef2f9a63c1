//! An operator runs an incident from the admin in a real headless Chromium on a phone-sized
//! screen: log in, open an incident by hand, post two updates with an expected recovery
//! time, resolve it, log out. After each step the public page, the Atom feed, both APIs and
//! a webhook receiver show it; text the operator typed stays inert.

use crate::browser::{browser_available, start_browser};
use crate::support::*;
use fantoccini::Locator;
use pharos_demo::WebhookReceiver;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// `pharos user add` on the server's configuration, with the password on standard input.
pub(crate) fn add_user(config: &std::path::Path, name: &str, role: &str) {
    let mut child = Command::new(binary())
        .args([
            "user",
            "add",
            name,
            "--role",
            role,
            "--password-stdin",
            "--config",
        ])
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stdout.is_empty(),
        "a password given is not printed back"
    );
}

/// Waits until the page's main text holds `text` (a form's answer has loaded).
pub(crate) async fn page_with(
    browser: &fantoccini::Client,
    text: &str,
) -> Result<String, fantoccini::error::CmdError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        // While the answer loads, the old page's element goes stale: look again.
        let page = match browser.find(Locator::Css("main")).await {
            Ok(main) => main.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if page.contains(text) {
            return Ok(page);
        }
        if std::time::Instant::now() > deadline {
            return browser.find(Locator::Css("main")).await?.text().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn form_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M").to_string()
}

#[tokio::test]
async fn an_operator_runs_an_incident_from_the_admin_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = TcpTarget::start().await;
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let config = write_config(dir.path(), target.address, &receiver.url());
    // A reader subscribes by email on the page, through the real mail stack.
    let stack = crate::mailstack::stack().await;
    if stack.is_some() {
        crate::subscribers::mail_subscribers(&config);
    }
    let marker = format!("Delays in mail {}", std::process::id());
    let mails_before = crate::subscribers::messages_with(&marker).len();
    let confirmations_before = crate::subscribers::messages_with("Confirm your subscription").len();
    add_user(&config, "ada", "editor");
    let pharos = Pharos::start(&config, dir.path());
    eventually(Duration::from_secs(10), "a first check", || async {
        (pharos.get_json("/api/v1/components").await[0]["status"] == "operational").then_some(())
    })
    .await;
    let (_driver, browser) = start_browser(dir.path()).await;
    let base = format!("http://{}", pharos.address);
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    let in_two_hours = chrono::Utc::now() + chrono::Duration::hours(2);

    let result = async {
        browser.set_window_size(390, 844).await?;
        if stack.is_some() {
            browser.goto(&format!("{base}/")).await?;
            let subscribe = browser.form(Locator::Css("form[action='/subscribe']")).await?;
            subscribe.set_by_name("email", crate::mailstack::USER).await?.submit().await?;
            let answer = page_with(&browser, "Check your inbox").await?;
            assert!(!answer.contains(crate::mailstack::USER), "the address is not shown back: {answer}");
            let confirmation = eventually(Duration::from_secs(20), "the confirmation mail", || async {
                let mut confirmations = crate::subscribers::messages_with("Confirm your subscription");
                (confirmations.len() > confirmations_before).then(|| confirmations.pop()).flatten()
            })
            .await;
            let confirm = crate::subscribers::local_path(&confirmation.1, "https://status.example.test/subscribe/confirm");
            browser.goto(&format!("{base}{confirm}")).await?;
            page_with(&browser, "Subscribed").await?;
        }
        browser.goto(&format!("{base}/admin")).await?;
        assert!(browser.current_url().await?.path().ends_with("/admin/login"), "to the login page");
        let login = browser.form(Locator::Css("form[action='/admin/login']")).await?;
        login.set_by_name("name", "ada").await?.set_by_name("password", PASSWORD).await?.submit().await?;
        let overview = page_with(&browser, "Logged in as").await?;
        assert!(overview.contains("Logged in as ada"), "{overview}");
        let overflow = browser.execute("return document.documentElement.scrollWidth - window.innerWidth", vec![]).await?;
        assert!(overflow.as_i64().unwrap_or(1) <= 0, "the admin fits a phone: {overflow}");

        // Open an incident by hand, with markup and a script in what the operator types.
        browser.find(Locator::LinkText("Open an incident by hand")).await?.click().await?;
        let open = browser.form(Locator::Css("form[action='/admin/incidents']")).await?;
        open.set_by_name("component", "svc").await?
            .set_by_name("title", &format!("{marker} <b>delivery</b>")).await?
            .set_by_name("impact", "partial_outage").await?
            .set_by_name("message", "We are **looking** into delays. <script>window.pwned = 1</script> <img src=x onerror=\"window.pwned = 2\">").await?
            .set_by_name("next_update_by", &form_time(in_an_hour)).await?
            .submit().await?;
        page_with(&browser, "Post an update").await?;
        let overflow = browser.execute("return document.documentElement.scrollWidth - window.innerWidth", vec![]).await?;
        assert!(overflow.as_i64().unwrap_or(1) <= 0, "the incident's admin page fits a phone: {overflow}");
        let url = browser.current_url().await?;
        let id: i64 = url.path().rsplit('/').next().unwrap().parse().unwrap_or_else(|_| panic!("on the incident's admin page: {url}"));

        // Two updates with an expected recovery time, then the resolution.
        for (status, message) in [("identified", "A queue on one relay; draining it."), ("monitoring", "The queue is drained; watching delivery.")] {
            let update = browser.form(Locator::Css(&format!("form[action='/admin/incidents/{id}/updates']"))).await?;
            update.set_by_name("status", status).await?
                .set_by_name("message", message).await?
                .set_by_name("expected_by", &form_time(in_two_hours)).await?
                .submit().await?;
            let admin_page = page_with(&browser, message).await?;
            assert!(admin_page.contains(message), "{admin_page}");
        }
        let resolve = browser.form(Locator::Css(&format!("form[action='/admin/incidents/{id}/resolve']"))).await?;
        resolve.set_by_name("message", "All delayed mail is delivered.").await?.submit().await?;
        page_with(&browser, "Reopen incident").await?;

        // The public incident page: every step, the operator's Markdown rendered safe.
        // The page is re-rendered off the request path: reload until the resolution is on it.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let public = loop {
            browser.goto(&format!("{base}/incidents/{id}")).await?;
            let public = browser.find(Locator::Css("main")).await?.text().await?;
            if public.contains("All delayed mail is delivered.") || std::time::Instant::now() > deadline {
                break public;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        for shown in [&format!("{marker} <b>delivery</b>"), "A queue on one relay", "The queue is drained", "All delayed mail is delivered.", "expected back by"] {
            assert!(public.contains(shown), "{shown:?} on the public page: {public}");
        }
        let bold = browser.find(Locator::Css(".update .md strong")).await?.text().await?;
        assert_eq!(bold, "looking");
        let inert = browser.execute("return [typeof window.pwned, document.scripts.length, document.querySelectorAll('.update img').length]", vec![]).await?;
        assert_eq!(inert, serde_json::json!(["undefined", 0, 0]), "nothing the operator typed runs");

        // Logging out ends the session: the admin asks for a login again.
        browser.goto(&format!("{base}/admin")).await?;
        browser.form(Locator::Css("form[action='/admin/logout']")).await?.submit().await?;
        page_with(&browser, "Log in").await?;
        browser.goto(&format!("{base}/admin/incidents/{id}")).await?;
        assert!(browser.current_url().await?.path().ends_with("/admin/login"));
        Ok::<_, fantoccini::error::CmdError>(id)
    }
    .await;
    let _ = browser.close().await;
    let id = result.expect("browser commands");

    // Both APIs and the feed have the whole story.
    let incident = eventually(
        Duration::from_secs(10),
        "the resolution on the API",
        || async {
            let incident = pharos.get_json(&format!("/api/v1/incidents/{id}")).await;
            (incident["status"] == "resolved").then_some(incident)
        },
    )
    .await;
    let updates = incident["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 4, "{incident}");
    assert!(
        updates
            .iter()
            .filter(|update| update["expected_by"].is_string())
            .count()
            == 2,
        "{incident}"
    );
    assert!(
        updates.iter().all(|update| update["automatic"] == false),
        "{incident}"
    );
    let statuspage = pharos.get_json("/api/v2/incidents.json").await;
    let listed = statuspage["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|listed| listed["name"] == format!("{marker} <b>delivery</b>").as_str())
        .expect("in the Statuspage API")
        .clone();
    assert_eq!(listed["status"], "resolved");
    assert_eq!(
        listed["incident_updates"].as_array().unwrap().len(),
        4,
        "{listed}"
    );
    let (_, feed) = http_get(pharos.address, "/feed.atom", None).await;
    assert!(
        feed.contains(&format!("{marker} &lt;b&gt;delivery&lt;/b&gt;")),
        "{feed}"
    );
    // The channel heard each step, in order.
    let events = eventually(Duration::from_secs(10), "four deliveries", || async {
        let events: Vec<String> = receiver
            .received()
            .into_iter()
            .filter(|received| received.body["data"]["incident"]["id"] == id)
            .map(|received| received.event)
            .collect();
        (events.len() >= 4).then_some(events)
    })
    .await;
    assert_eq!(
        events,
        [
            "incident.opened",
            "incident.updated",
            "incident.updated",
            "incident.resolved"
        ]
    );
    // The subscriber's mailbox has each step too.
    if stack.is_some() {
        let mails = eventually(
            Duration::from_secs(30),
            "four mails to the subscriber",
            || async {
                let mails = crate::subscribers::messages_with(&marker);
                (mails.len() >= mails_before + 4).then_some(mails)
            },
        )
        .await;
        let texts: Vec<&str> = mails[mails_before..]
            .iter()
            .map(|(_, text, _)| text.as_str())
            .collect();
        for said in [
            "We are **looking**",
            "A queue on one relay",
            "The queue is drained",
            "All delayed mail is delivered.",
        ] {
            assert!(
                texts.iter().any(|text| text.contains(said)),
                "{said:?} in {texts:?}"
            );
        }
        assert!(
            mails[mails_before..]
                .iter()
                .all(|(_, _, unsubscribe)| unsubscribe.is_some()),
            "each with its unsubscribe link"
        );
    }
    // And the audit log names the operator for each.
    let audit = pharos.admin_json("/api/v1/admin/audit").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["actor"] == "user:ada")
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "logout",
            "incident.resolve",
            "incident.update",
            "incident.update",
            "incident.open",
            "login"
        ]
    );
}
