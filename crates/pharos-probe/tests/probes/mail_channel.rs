//! The email notification channel against the real Postfix + Dovecot (here, beside the other
//! email tests, which own the mail stack): an incident's messages arrive through submission
//! with STARTTLS and AUTH, thread together, and read as plain text; a wrong password is a
//! refusal that gives up at once.

use crate::mailstack::*;
use chrono::Utc;
use pharos_core::{
    ComponentId, ComponentStatus, Event, Incident, IncidentNews, IncidentPhase, IncidentUpdate,
};
use pharos_notify::{build_channel, Channel, Delivery, EventContext};
use pharos_store::{MessageState, OutboxMessage};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAILDIR: &str = "/tmp/pharos-mailstack/vmail/example.test/test/Maildir";

fn channel(password: &str) -> Arc<dyn Channel> {
    let source = format!(
        "[[channels]]\nid = \"ops-email\"\ntype = \"email\"\nhost = \"127.0.0.1\"\nport = {SUBMISSION}\n\
         tls = \"starttls\"\nusername = \"{USER}\"\npassword = \"{password}\"\nfrom = \"pharos <{USER}>\"\n\
         to = [\"{USER}\"]\nca_file = \"{CA}\"\ntimeout = \"5s\"\n"
    );
    let config = pharos_config::parse("email.toml", &source, &|_| None)
        .unwrap_or_else(|errors| panic!("{errors}"));
    assert!(!format!("{:?}", config.channels).contains(password));
    build_channel(&config.channels[0])
}

fn events(token: &str) -> Vec<Event> {
    let now = Utc::now();
    let opened = Incident {
        dependents: Vec::new(),
        scope: None,
        id: 41,
        component: ComponentId::new("mail"),
        title: format!("Mail {token}: major outage"),
        phase: IncidentPhase::Investigating,
        impact: ComponentStatus::MajorOutage,
        worst_impact: ComponentStatus::MajorOutage,
        started_at: now,
        detected_at: now,
        resolved_at: None,
        updates: vec![IncidentUpdate {
            at: now,
            phase: IncidentPhase::Investigating,
            message: "Sending mail fails; we are looking into it.".into(),
            automatic: true,
            expected_by: None,
            next_update_by: None,
            edited_at: None,
        }],
        timeline: vec![],
    };
    let mut updated = opened.clone();
    updated.phase = IncidentPhase::Identified;
    updated.updates.push(IncidentUpdate {
        at: now,
        phase: IncidentPhase::Identified,
        message: "A relay <rejects> mail. Expected back by 14:00 UTC.".into(),
        automatic: false,
        expected_by: None,
        next_update_by: None,
        edited_at: None,
    });
    let news = |incident| IncidentNews {
        dependent_names: Vec::new(),
        root_cause: None,
        incident,
        component_name: "Mail".into(),
        monitors: vec![],
    };
    vec![
        Event::IncidentOpened(news(opened)),
        Event::IncidentUpdated(news(updated)),
    ]
}

fn message(channel: &dyn Channel, event: &Event, id: &str) -> OutboxMessage {
    let now = Utc::now();
    OutboxMessage {
        id: id.to_owned(),
        channel_id: "ops-email".into(),
        event: event.kind(),
        payload: channel.render(event, &EventContext::default(), now),
        created_at: now,
        next_attempt_at: now,
        give_up_at: now,
        attempts: 0,
        state: MessageState::Pending,
        delivered_at: None,
        last_error: None,
        sequence_key: None,
        chain: None,
    }
}

/// The delivered messages holding `token`, raw, oldest first; removed from the mailbox.
fn take_delivered(token: &str, expected: usize) -> Vec<Vec<u8>> {
    let started = Instant::now();
    loop {
        let mut found: Vec<(std::path::PathBuf, Vec<u8>)> = ["new", "cur"]
            .iter()
            .filter_map(|folder| std::fs::read_dir(Path::new(MAILDIR).join(folder)).ok())
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let bytes = std::fs::read(entry.path()).ok()?;
                String::from_utf8_lossy(&bytes)
                    .contains(token)
                    .then(|| (entry.path(), bytes))
            })
            .collect();
        if found.len() >= expected || started.elapsed() > Duration::from_secs(15) {
            found.sort_by_key(|(path, _)| {
                std::fs::metadata(path)
                    .and_then(|meta| meta.modified())
                    .ok()
            });
            for (path, _) in &found {
                let _ = std::fs::remove_file(path);
            }
            return found.into_iter().map(|(_, bytes)| bytes).collect();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn the_email_channel_delivers_threads_and_reads_as_plain_text() {
    let Some(_stack) = stack().await else { return };
    let token = format!("t{}", Utc::now().timestamp_micros());
    let channel = channel(PASSWORD);
    for (number, event) in events(&token).iter().enumerate() {
        let delivery = channel
            .deliver(&message(
                channel.as_ref(),
                event,
                &format!("msg_{token}_{number}"),
            ))
            .await;
        assert!(
            matches!(
                delivery,
                Delivery::Delivered {
                    status_code: Some(250)
                }
            ),
            "{delivery:?}"
        );
    }
    let delivered = take_delivered(&token, 2);
    assert_eq!(delivered.len(), 2, "both messages arrive");
    let parser = mail_parser::MessageParser::default();
    let opened = parser.parse(&delivered[0]).unwrap();
    let updated = parser.parse(&delivered[1]).unwrap();
    let subject = format!("[pharos] Mail {token}: major outage");
    assert_eq!(opened.subject(), Some(subject.as_str()));
    assert_eq!(
        updated.subject(),
        Some(subject.as_str()),
        "one subject per incident"
    );
    assert_eq!(opened.message_id(), Some("pharos-incident-41@example.test"));
    assert_eq!(
        updated.in_reply_to().as_text(),
        Some("pharos-incident-41@example.test"),
        "the update answers the opening"
    );
    assert_eq!(
        updated.references().as_text(),
        Some("pharos-incident-41@example.test")
    );
    let text = updated.body_text(0).unwrap();
    assert!(text.contains("Identified"), "{text}");
    assert!(
        text.contains("A relay <rejects> mail. Expected back by 14:00 UTC."),
        "plain text, not escaped HTML: {text}"
    );
    let html = updated.body_html(0).unwrap();
    assert!(html.contains("A relay &lt;rejects&gt; mail."), "{html}");
}

#[tokio::test]
async fn a_wrong_password_is_a_refusal_that_gives_up_at_once() {
    let Some(_stack) = stack().await else { return };
    let channel = channel("not-the-password");
    let event = &events("refused")[0];
    let delivery = channel
        .deliver(&message(channel.as_ref(), event, "msg_refused"))
        .await;
    let Delivery::GiveUp {
        reason,
        status_code,
    } = &delivery
    else {
        panic!("{delivery:?}")
    };
    assert_eq!(*status_code, Some(535), "{reason}");
    assert!(!reason.contains("not-the-password"), "{reason}");
}
