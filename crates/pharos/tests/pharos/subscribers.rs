//! Subscribers end to end. By email, through the real Postfix + Dovecot: a reader signs up
//! on the page, confirms with the link mailed to them, hears of an incident's opening, update
//! and resolution (each message with a signed one-click unsubscribe link and RFC 8058's
//! headers), unsubscribes with one POST and hears nothing more. By webhook, through the admin
//! API: a signed delivery per step for a subscriber of the component, none for one of
//! another. Addresses never come back on a page.

use crate::mailstack;
use crate::support::*;
use pharos_demo::WebhookReceiver;
use std::path::{Path, PathBuf};
use std::time::Duration;

const MAILDIR: &str = "/tmp/pharos-mailstack/vmail/example.test/test/Maildir";

/// Every message in the test mailbox whose subject contains `marker`, parsed.
pub(crate) fn messages_with(marker: &str) -> Vec<(String, String, Option<String>)> {
    let mut found = Vec::new();
    // Roughly oldest first, whichever folder: Maildir names start with the delivery second.
    let mut paths: Vec<PathBuf> = ["new", "cur"]
        .iter()
        .filter_map(|folder| std::fs::read_dir(Path::new(MAILDIR).join(folder)).ok())
        .flat_map(|entries| entries.flatten().map(|entry| entry.path()))
        .collect();
    paths.sort_by_key(|path| path.file_name().map(|name| name.to_owned()));
    for path in paths {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Some(message) = mail_parser::MessageParser::default().parse(&bytes) else {
            continue;
        };
        let subject = message.subject().unwrap_or_default().to_owned();
        if subject.contains(marker) {
            let text = message
                .body_text(0)
                .map(|text| text.into_owned())
                .unwrap_or_default();
            let unsubscribe = message
                .header_raw("List-Unsubscribe")
                .map(|value| value.trim().to_owned());
            let one_click = message
                .header_raw("List-Unsubscribe-Post")
                .map(str::trim)
                .map(str::to_owned);
            found.push((
                subject,
                text,
                unsubscribe.map(|link| format!("{link}|{}", one_click.unwrap_or_default())),
            ));
        }
    }
    found
}

/// The path and query of a link to the page's public address in `text`.
pub(crate) fn local_path(text: &str, starts: &str) -> String {
    let start = text
        .find(starts)
        .unwrap_or_else(|| panic!("{starts} in {text}"));
    let link: String = text[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '"')
        .collect();
    link.trim_start_matches("https://status.example.test")
        .to_owned()
}

/// Adds to a test configuration an email channel on the mail stack and `[subscribers]`
/// mailing through it.
pub(crate) fn mail_subscribers(config: &Path) {
    let text = std::fs::read_to_string(config).unwrap();
    std::fs::write(
        config,
        format!(
            "{text}\n[[channels]]\nid = \"mail\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\n\
             username = \"{user}\"\npassword = \"{password}\"\nfrom = \"Status <{user}>\"\nto = [\"{user}\"]\n\
             ca_file = \"{ca}\"\nevents = [\"pharos.degraded\"]\n\n[subscribers]\nemail_channel = \"mail\"\n",
            mailstack::SUBMISSION,
            user = mailstack::USER,
            password = mailstack::PASSWORD,
            ca = mailstack::CA,
        ),
    )
    .unwrap();
}

#[tokio::test]
async fn readers_subscribe_confirm_hear_each_step_and_leave_with_one_click() {
    let Some(_stack) = mailstack::stack().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let target = TcpTarget::start().await;
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let config = write_config(dir.path(), target.address, &receiver.url());
    let marker = format!("Outage {}", std::process::id());
    mail_subscribers(&config);
    let pharos = Pharos::start(&config, dir.path());

    // A webhook subscriber of the component, and one of nothing that fails here.
    let hook_port = free_port();
    let (status, body) = http_post(
        pharos.address,
        "/api/v1/admin/subscribers",
        Some(ADMIN_TOKEN),
        &format!(
            r#"{{"url": "http://127.0.0.1:{hook_port}/hooks/pharos", "components": ["svc"]}}"#
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let created: serde_json::Value = serde_json::from_str(&body).unwrap();
    let hook_secret = created["secret"].as_str().unwrap().to_owned();
    let hook = WebhookReceiver::start(
        format!("127.0.0.1:{hook_port}").parse().unwrap(),
        &hook_secret,
    )
    .await
    .unwrap();

    // Sign up on the page: the answer never shows the address.
    let earlier = messages_with("Confirm your subscription").len();
    let (_, page) = pharos.get("/").await;
    assert!(
        page.contains("action=\"/subscribe\""),
        "the form is on the page"
    );
    let (status, answer) = http_form(
        pharos.address,
        "/subscribe",
        &format!(
            "email={}&component=svc",
            mailstack::USER.replace('@', "%40")
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        !answer.contains(mailstack::USER) && answer.contains("Check your inbox"),
        "{answer}"
    );
    let confirmation = eventually(Duration::from_secs(20), "the confirmation mail", || async {
        let mut confirmations = messages_with("Confirm your subscription");
        (confirmations.len() > earlier)
            .then(|| confirmations.pop())
            .flatten()
    })
    .await;
    let confirm = local_path(
        &confirmation.1,
        "https://status.example.test/subscribe/confirm",
    );
    // Nothing is sent before the address is confirmed.
    let opened = run_cli(
        &pharos,
        &[
            "incident",
            "open",
            "--component",
            "svc",
            "--title",
            &marker,
            "--impact",
            "partial_outage",
            "--message",
            "Looking.",
            "--json",
        ],
    );
    let id = opened["id"].as_i64().unwrap().to_string();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(messages_with(&marker).is_empty(), "not confirmed yet");
    let (status, confirmed) = pharos.get(&confirm).await;
    assert_eq!(status, 200, "{confirmed}");
    assert!(confirmed.contains("Subscribed"));
    assert_eq!(
        pharos.get(&confirm).await.0,
        404,
        "a confirmation link works once"
    );

    run_cli(
        &pharos,
        &[
            "incident",
            "update",
            &id,
            "--status",
            "identified",
            "--message",
            "A relay.",
            "--json",
        ],
    );
    run_cli(
        &pharos,
        &["incident", "resolve", &id, "--message", "Fixed.", "--json"],
    );
    let mails = eventually(
        Duration::from_secs(30),
        "the update and the resolution by mail",
        || async {
            let mails = messages_with(&marker);
            (mails.len() >= 2).then_some(mails)
        },
    )
    .await;
    assert_eq!(
        mails.len(),
        2,
        "the opening went out before the confirmation: {mails:?}"
    );
    assert!(mails.iter().any(|(_, text, _)| text.contains("A relay.")));
    assert!(mails.iter().any(|(_, text, _)| text.contains("Fixed.")));
    let (_, _, headers) = &mails[0];
    let headers = headers.clone().expect("List-Unsubscribe");
    let (link, one_click) = headers.split_once('|').unwrap();
    assert_eq!(one_click, "List-Unsubscribe=One-Click");
    let unsubscribe = local_path(link, "https://status.example.test/unsubscribe");

    // The webhook subscriber heard all three, signed with its own secret.
    let events = eventually(
        Duration::from_secs(10),
        "three webhook deliveries",
        || async {
            let events: Vec<String> = hook
                .received()
                .into_iter()
                .map(|received| received.event)
                .collect();
            (events.len() >= 3).then_some(events)
        },
    )
    .await;
    assert_eq!(
        events,
        ["incident.opened", "incident.updated", "incident.resolved"]
    );
    assert_eq!(hook.rejected(), 0);
    // Maintenance on the component is announced to it ahead of time.
    let scheduled = run_cli(
        &pharos,
        &[
            "maintenance",
            "schedule",
            "--title",
            "Relay swap",
            "--component",
            "svc",
            "--start",
            "2h",
            "--duration",
            "30m",
            "--json",
        ],
    );
    assert!(scheduled["id"].is_string());
    let notice = eventually(
        Duration::from_secs(10),
        "the maintenance notice",
        || async {
            hook.received()
                .into_iter()
                .find(|received| received.event == "maintenance.scheduled")
        },
    )
    .await;
    assert_eq!(notice.body["data"]["maintenance"]["title"], "Relay swap");

    // One click leaves; a forged link does not; nothing more arrives.
    let (status, _) = http_form(pharos.address, &unsubscribe, "List-Unsubscribe=One-Click").await;
    assert_eq!(status, 200);
    let forged = unsubscribe.replace("t=", "t=00");
    assert_eq!(http_form(pharos.address, &forged, "").await.0, 404);
    let second = run_cli(
        &pharos,
        &[
            "incident",
            "open",
            "--component",
            "svc",
            "--title",
            &format!("{marker} again"),
            "--impact",
            "partial_outage",
            "--message",
            "Again.",
            "--json",
        ],
    );
    assert!(second["id"].is_i64());
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        messages_with(&format!("{marker} again")).is_empty(),
        "unsubscribed"
    );
    // Sign-ups are limited per client address: the sixth within the hour is refused.
    let mut answers = Vec::new();
    for index in 0..5 {
        let (status, _) = http_form(
            pharos.address,
            "/subscribe",
            &format!("email=nobody{index}%40example.test"),
        )
        .await;
        answers.push(status);
    }
    assert_eq!(answers.last(), Some(&429), "{answers:?}");
    assert!(
        answers[..4].iter().all(|status| *status != 429),
        "{answers:?}"
    );
    let listed = pharos.admin_json("/api/v1/admin/subscribers").await;
    let kinds: Vec<&str> = listed["subscribers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|subscriber| subscriber["confirmed"] == true)
        .map(|subscriber| subscriber["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["webhook"],
        "only the webhook is left confirmed: {listed}"
    );
}

fn run_cli(pharos: &Pharos, args: &[&str]) -> serde_json::Value {
    let output = std::process::Command::new(binary())
        .args(args)
        .args(["--server", &format!("http://{}/", pharos.address)])
        .env("PHAROS_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
