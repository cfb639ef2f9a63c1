//! Every channel against a local service that answers as the real one does: the exact
//! request it sends for an incident's opening, update and resolution (snapshots, secrets
//! redacted), and what it makes of a refusal, a rate limit and a hung connection.

use crate::service::{Reply, Service};
use chrono::{DateTime, TimeZone, Utc};
use pharos_core::{
    ComponentId, ComponentStatus, Event, EventKind, Incident, IncidentNews, IncidentPhase,
    IncidentUpdate, MonitorId, MonitorState, ProbeStatus,
};
use pharos_notify::{build_channel, Channel, Delivery, EventContext};
use pharos_store::{MessageState, OutboxMessage};
use std::sync::Arc;
use std::time::Duration;

/// One kind of channel: its configuration against the local service, the secrets that must
/// never show, and the service's documented answers.
struct Case {
    kind: &'static str,
    /// The channel's own keys; `{base}` is the local service's address.
    keys: &'static str,
    secrets: &'static [&'static str],
    success: fn() -> Reply,
    refusal: fn() -> Reply,
    /// What a reason for the refusal must contain: the service's own words.
    refusal_says: &'static str,
    rate_limited: fn() -> Reply,
    /// The wait the rate limit asks for.
    waits: Duration,
}

fn json_reply(status: u16, body: &str) -> Reply {
    Reply::status(status, body).with_header("content-type", "application/json")
}

const CASES: &[Case] = &[
    Case {
        kind: "slack",
        keys: "url = \"{base}/services/T0001/B0001/Xslacksecret0001\"",
        secrets: &["Xslacksecret0001"],
        success: || Reply::status(200, "ok"),
        refusal: || Reply::status(400, "invalid_blocks"),
        refusal_says: "invalid_blocks",
        rate_limited: || Reply::status(429, "rate_limited").with_header("retry-after", "30"),
        waits: Duration::from_secs(30),
    },
    Case {
        kind: "discord",
        keys: "url = \"{base}/api/webhooks/1234567890/discordsecrettoken\"",
        secrets: &["discordsecrettoken"],
        success: || json_reply(200, r#"{"id":"1","type":0,"content":""}"#),
        refusal: || json_reply(400, r#"{"message":"Invalid Form Body","code":50035}"#),
        refusal_says: "Invalid Form Body",
        rate_limited: || {
            json_reply(429, r#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#)
        },
        waits: Duration::from_millis(1500),
    },
    Case {
        kind: "teams",
        keys: "url = \"{base}/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=teamssignature\"",
        secrets: &["teamssignature"],
        success: || Reply::status(202, ""),
        refusal: || {
            json_reply(400, r#"{"error":{"code":"InvalidRequestContent","message":"The input body for trigger 'manual' of type 'Request' must be of type JSON"}}"#)
        },
        refusal_says: "InvalidRequestContent",
        rate_limited: || Reply::status(429, "").with_header("retry-after", "12"),
        waits: Duration::from_secs(12),
    },
    Case {
        kind: "google_chat",
        keys: "url = \"{base}/v1/spaces/AAAA/messages?key=chatkey&token=chattokensecret\"",
        secrets: &["chattokensecret"],
        success: || json_reply(200, r#"{"name":"spaces/AAAA/messages/1"}"#),
        refusal: || {
            json_reply(400, r#"{"error":{"code":400,"message":"Invalid JSON payload received.","status":"INVALID_ARGUMENT"}}"#)
        },
        refusal_says: "Invalid JSON payload received.",
        rate_limited: || {
            json_reply(429, r#"{"error":{"code":429,"message":"Resource has been exhausted","status":"RESOURCE_EXHAUSTED"}}"#)
                .with_header("retry-after", "5")
        },
        waits: Duration::from_secs(5),
    },
    Case {
        kind: "mattermost",
        keys: "url = \"{base}/hooks/mattermostsecret\"",
        secrets: &["mattermostsecret"],
        success: || Reply::status(200, "ok"),
        refusal: || {
            json_reply(400, r#"{"id":"web.incoming_webhook.text.app_error","message":"No text specified","status_code":400}"#)
        },
        refusal_says: "No text specified",
        rate_limited: || Reply::status(429, "").with_header("retry-after", "3"),
        waits: Duration::from_secs(3),
    },
    Case {
        kind: "matrix",
        keys: "homeserver = \"{base}\"\nroom_id = \"!ops:example.org\"\naccess_token = \"syt_matrixsecret\"",
        secrets: &["syt_matrixsecret"],
        success: || json_reply(200, r#"{"event_id":"$143273582443PhrSn:example.org"}"#),
        refusal: || json_reply(403, r#"{"errcode":"M_FORBIDDEN","error":"User @pharos:example.org not in room"}"#),
        refusal_says: "not in room",
        rate_limited: || {
            json_reply(429, r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":2000}"#)
        },
        waits: Duration::from_secs(2),
    },
    Case {
        kind: "ntfy",
        keys: "server = \"{base}/\"\ntopic = \"mail-alerts\"\ntoken = \"tk_ntfysecret\"",
        secrets: &["tk_ntfysecret"],
        success: || json_reply(200, r#"{"id":"sPs71M8A2T","time":1643935928,"event":"message","topic":"mail-alerts"}"#),
        refusal: || json_reply(403, r#"{"code":40301,"http":403,"error":"forbidden"}"#),
        refusal_says: "forbidden",
        rate_limited: || {
            json_reply(429, r#"{"code":42901,"http":429,"error":"limit reached: too many requests"}"#)
                .with_header("retry-after", "10")
        },
        waits: Duration::from_secs(10),
    },
    Case {
        kind: "gotify",
        keys: "server = \"{base}/\"\ntoken = \"Agotifysecret\"",
        secrets: &["Agotifysecret"],
        success: || json_reply(200, r#"{"id":25,"appid":5,"message":"ok","title":"t","priority":8}"#),
        refusal: || {
            json_reply(401, r#"{"error":"Unauthorized","errorCode":401,"errorDescription":"you need to provide a valid access token or user credentials to access this api"}"#)
        },
        refusal_says: "valid access token",
        rate_limited: || Reply::status(429, "").with_header("retry-after", "4"),
        waits: Duration::from_secs(4),
    },
    Case {
        kind: "telegram",
        keys: "api_url = \"{base}/\"\nbot_token = \"123456:telegramsecret\"\nchat_id = \"-1001234567890\"",
        secrets: &["123456:telegramsecret"],
        success: || json_reply(200, r#"{"ok":true,"result":{"message_id":1}}"#),
        refusal: || json_reply(400, r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#),
        refusal_says: "chat not found",
        rate_limited: || {
            json_reply(429, r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#)
        },
        waits: Duration::from_secs(7),
    },
    Case {
        kind: "pushover",
        keys: "api_url = \"{base}/\"\ntoken = \"pushoverapptoken\"\nuser = \"pushoveruserkey\"",
        secrets: &["pushoverapptoken", "pushoveruserkey"],
        success: || json_reply(200, r#"{"status":1,"request":"647d2300-702c-4b38-8b2f-d56326ae460b"}"#),
        refusal: || {
            json_reply(400, r#"{"user":"invalid","errors":["user identifier is invalid"],"status":0,"request":"5042853c-402d-4a18-abcb-168734a801de"}"#)
        },
        refusal_says: "user identifier is invalid",
        rate_limited: || json_reply(429, r#"{"status":0,"errors":["application is over its monthly message limit"]}"#),
        waits: Duration::ZERO,
    },
    Case {
        kind: "pagerduty",
        keys: "api_url = \"{base}/\"\nrouting_key = \"pagerdutyroutingkey000000000000\"",
        secrets: &["pagerdutyroutingkey000000000000"],
        success: || json_reply(202, r#"{"status":"success","message":"Event processed","dedup_key":"pharos-incident-12"}"#),
        refusal: || {
            json_reply(400, r#"{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}"#)
        },
        refusal_says: "Event object is invalid",
        rate_limited: || Reply::status(429, "").with_header("retry-after", "20"),
        waits: Duration::from_secs(20),
    },
    Case {
        kind: "opsgenie",
        keys: "api_url = \"{base}/\"\napi_key = \"opsgenieapikeysecret\"",
        secrets: &["opsgenieapikeysecret"],
        success: || json_reply(202, r#"{"result":"Request will be processed","took":0.302,"requestId":"43a29c5c-3dbf-4fa4-9c26-f4f71023e120"}"#),
        refusal: || {
            json_reply(422, r#"{"message":"Request body is not processable. Please check the errors.","errors":{"message":"Message can not be empty."},"took":0.01}"#)
        },
        refusal_says: "not processable",
        rate_limited: || {
            json_reply(429, r#"{"message":"You are making too many requests!","took":0.0}"#).with_header("retry-after", "8")
        },
        waits: Duration::from_secs(8),
    },
    Case {
        kind: "sms",
        keys: "api_url = \"{base}/\"\naccount_sid = \"AC0123456789abcdef0123456789abcdef\"\nauth_token = \"twilioauthtoken\"\nfrom = \"+15005550006\"\nto = \"+14155550100\"",
        secrets: &["twilioauthtoken"],
        success: || json_reply(201, r#"{"sid":"SM1","status":"queued"}"#),
        refusal: || {
            json_reply(400, r#"{"code":21211,"message":"The 'To' number +14155550100 is not a valid phone number.","more_info":"https://www.twilio.com/docs/errors/21211","status":400}"#)
        },
        refusal_says: "not a valid phone number",
        rate_limited: || {
            json_reply(429, r#"{"code":20429,"message":"Too Many Requests","status":429}"#).with_header("retry-after", "1")
        },
        waits: Duration::from_secs(1),
    },
];

fn at(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + second, 0).unwrap()
}

fn channel(case: &Case, base: &str) -> Arc<dyn Channel> {
    let source = format!(
        "[[components]]\nid = \"mail\"\nname = \"Mail\"\n\
         [[channels]]\nid = \"out\"\ntype = \"{}\"\ntimeout = \"300ms\"\n{}\n",
        case.kind,
        case.keys.replace("{base}", base)
    );
    let config = pharos_config::parse("c.toml", &source, &|_| None)
        .unwrap_or_else(|errors| panic!("{}: {errors}", case.kind));
    let debug = format!("{:?}", config.channels);
    for secret in case.secrets {
        assert!(
            !debug.contains(secret),
            "{}: Debug shows a secret: {debug}",
            case.kind
        );
    }
    build_channel(&config.channels[0])
}

/// An incident about Mail with a hostile title, as it opens, gets an update and resolves.
fn incident_events() -> Vec<Event> {
    let monitors = vec![
        MonitorState {
            id: MonitorId::new("smtp"),
            name: "Submission".into(),
            status: ProbeStatus::Down,
            reason: Some("connection refused".into()),
            region: "local".into(),
        },
        MonitorState {
            id: MonitorId::new("imap"),
            name: "Mailbox".into(),
            status: ProbeStatus::Up,
            reason: None,
            region: "local".into(),
        },
    ];
    let opened = Incident {
        dependents: Vec::new(),
        scope: None,
        id: 12,
        component: ComponentId::new("mail"),
        title: "Mail <b>&</b> *submission*: major outage".into(),
        phase: IncidentPhase::Investigating,
        impact: ComponentStatus::MajorOutage,
        worst_impact: ComponentStatus::MajorOutage,
        started_at: at(0),
        detected_at: at(7),
        resolved_at: None,
        updates: vec![IncidentUpdate {
            at: at(7),
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
    updated.impact = ComponentStatus::PartialOutage;
    updated.updates.push(IncidentUpdate {
        at: at(600),
        phase: IncidentPhase::Identified,
        message: "A relay <rejects> mail & we are replacing it. Expected back by 14:00 UTC.".into(),
        automatic: false,
        expected_by: None,
        next_update_by: None,
        edited_at: None,
    });
    let mut resolved = updated.clone();
    resolved.phase = IncidentPhase::Resolved;
    resolved.impact = ComponentStatus::Operational;
    resolved.resolved_at = Some(at(1800));
    resolved.updates.push(IncidentUpdate {
        at: at(1800),
        phase: IncidentPhase::Resolved,
        message: "Mail is sent again.".into(),
        automatic: true,
        expected_by: None,
        next_update_by: None,
        edited_at: None,
    });
    let news = |incident: Incident, monitors: Vec<MonitorState>| IncidentNews {
        dependent_names: Vec::new(),
        root_cause: None,
        incident,
        component_name: "Mail".into(),
        monitors,
    };
    let mut recovered = monitors.clone();
    recovered[0].status = ProbeStatus::Up;
    recovered[0].reason = None;
    vec![
        Event::IncidentOpened(news(opened, monitors.clone())),
        Event::IncidentUpdated(news(updated, monitors)),
        Event::IncidentResolved(news(resolved, recovered)),
    ]
}

fn message(channel: &dyn Channel, event: &Event, number: usize) -> OutboxMessage {
    let context = EventContext {
        public_url: Some("https://status.example.test/".parse().unwrap()),
    };
    let created = at(number as i64 * 600);
    OutboxMessage {
        id: format!("msg_{number:04}"),
        channel_id: "out".into(),
        event: event.kind(),
        payload: channel.render(event, &context, created),
        created_at: created,
        next_attempt_at: created,
        give_up_at: created + chrono::Duration::days(1),
        attempts: 0,
        state: MessageState::Pending,
        delivered_at: None,
        last_error: None,
        sequence_key: Some("component:mail".into()),
        chain: None,
    }
}

/// A request as a snapshot: method, path, the headers that matter (credentials redacted),
/// and the body (JSON pretty-printed).
fn describe(seen: &crate::service::Seen, secrets: &[&str], event: EventKind) -> String {
    let redact = |text: &str| {
        secrets.iter().fold(text.to_owned(), |text, secret| {
            text.replace(secret, "[redacted]")
        })
    };
    let mut text = format!(
        "== {}\n{} {}\n",
        event.as_str(),
        seen.method,
        redact(&seen.path_and_query)
    );
    for name in ["content-type", "authorization", "x-gotify-key"] {
        if let Some(value) = seen.headers.get(name) {
            let value = value.to_str().unwrap();
            let shown = if name == "content-type" {
                value.to_owned()
            } else {
                "[redacted]".to_owned()
            };
            text.push_str(&format!("{name}: {shown}\n"));
        }
    }
    let body = String::from_utf8_lossy(&seen.body);
    let form = seen
        .headers
        .get("content-type")
        .is_some_and(|value| value == "application/x-www-form-urlencoded");
    let body = match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(json) => serde_json::to_string_pretty(&json).unwrap(),
        // A form, one field a line, decoded.
        Err(_) if form => url::form_urlencoded::parse(body.as_bytes())
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(_) => body.into_owned(),
    };
    text.push_str(&redact(&body));
    text.push('\n');
    text
}

#[tokio::test]
async fn each_channel_sends_what_its_service_documents() {
    for case in CASES {
        let service = Service::start((case.success)()).await;
        let channel = channel(case, &service.url());
        let mut snapshot = String::new();
        for (number, event) in incident_events().iter().enumerate() {
            let message = message(channel.as_ref(), event, number + 1);
            for secret in case.secrets {
                assert!(
                    !message.payload.contains(secret),
                    "{}: a stored message holds a secret",
                    case.kind
                );
            }
            let delivery = channel.deliver(&message).await;
            assert!(
                matches!(delivery, Delivery::Delivered { .. }),
                "{}: {delivery:?}",
                case.kind
            );
        }
        let seen = service.seen();
        assert_eq!(seen.len(), 3, "{}: one request per message", case.kind);
        for (request, kind) in seen.iter().zip([
            EventKind::IncidentOpened,
            EventKind::IncidentUpdated,
            EventKind::IncidentResolved,
        ]) {
            snapshot.push_str(&describe(request, case.secrets, kind));
        }
        expect_test::expect_file![format!("snapshots/{}.txt", case.kind)].assert_eq(&snapshot);
    }
}

#[tokio::test]
async fn a_refusal_gives_up_at_once_with_the_services_words() {
    for case in CASES {
        let service = Service::start((case.refusal)()).await;
        let channel = channel(case, &service.url());
        let event = &incident_events()[0];
        let delivery = channel.deliver(&message(channel.as_ref(), event, 1)).await;
        let Delivery::GiveUp {
            reason,
            status_code,
        } = &delivery
        else {
            panic!("{}: {delivery:?}", case.kind)
        };
        assert!(status_code.is_some_and(|code| (400..500).contains(&code)));
        assert!(
            reason.contains(case.refusal_says),
            "{}: {reason}",
            case.kind
        );
        for secret in case.secrets {
            assert!(!reason.contains(secret), "{}: {reason}", case.kind);
        }
    }
}

#[tokio::test]
async fn a_rate_limit_is_retried_no_sooner_than_the_service_asks() {
    for case in CASES {
        let service = Service::start((case.rate_limited)()).await;
        let channel = channel(case, &service.url());
        let event = &incident_events()[0];
        let delivery = channel.deliver(&message(channel.as_ref(), event, 1)).await;
        let Delivery::Retry {
            status_code,
            retry_after,
            ..
        } = &delivery
        else {
            panic!("{}: {delivery:?}", case.kind)
        };
        assert_eq!(*status_code, Some(429), "{}", case.kind);
        let expected = (case.waits > Duration::ZERO).then_some(case.waits);
        assert_eq!(*retry_after, expected, "{}", case.kind);
    }
}

#[tokio::test]
async fn a_hung_service_is_retried_after_the_channels_timeout() {
    for case in CASES {
        let service = Service::start(Reply::Hang).await;
        let channel = channel(case, &service.url());
        let event = &incident_events()[0];
        let started = std::time::Instant::now();
        let delivery = channel.deliver(&message(channel.as_ref(), event, 1)).await;
        assert!(started.elapsed() < Duration::from_secs(2), "{}", case.kind);
        assert_eq!(
            delivery,
            Delivery::Retry {
                status_code: None,
                reason: "no answer within 300ms".into(),
                retry_after: None,
            },
            "{}",
            case.kind
        );
    }
}

/// A webhook with a template posts the receiver's own shape, filled in and escaped, unsigned
/// when it has no secret.
#[tokio::test]
async fn a_webhook_template_posts_the_receivers_own_shape() {
    let service = Service::start(Reply::status(200, "ok")).await;
    let source = format!(
        "[[channels]]\nid = \"rocket\"\ntype = \"webhook\"\nurl = \"{}/hooks/abc\"\n\
         template = '{{\"text\": \"*{{{{state}}}}*: {{{{title}}}} — {{{{message}}}} {{{{link}}}}\", \"color\": \"{{{{colour}}}}\"}}'\n",
        service.url()
    );
    let config = pharos_config::parse("t.toml", &source, &|_| None)
        .unwrap_or_else(|errors| panic!("{errors}"));
    let channel = build_channel(&config.channels[0]);
    let event = &incident_events()[1];
    let delivery = channel.deliver(&message(channel.as_ref(), event, 1)).await;
    assert!(
        matches!(delivery, Delivery::Delivered { .. }),
        "{delivery:?}"
    );
    let seen = &service.seen()[0];
    assert!(
        seen.headers.get("webhook-signature").is_none(),
        "no secret, no signature"
    );
    assert_eq!(seen.headers["content-type"], "application/json");
    expect_test::expect![[r##"
        {
          "color": "#dd6b20",
          "text": "*Identified*: Mail <b>&</b> *submission*: major outage — A relay <rejects> mail & we are replacing it. Expected back by 14:00 UTC. https://status.example.test/incidents/12"
        }"##]]
    .assert_eq(
        &serde_json::to_string_pretty(&serde_json::from_slice::<serde_json::Value>(&seen.body).unwrap())
            .unwrap(),
    );

    let unknown = format!(
        "[[channels]]\nid = \"x\"\ntype = \"webhook\"\nurl = \"{}/\"\ntemplate = '{{\"text\": \"{{{{titel}}}}\"}}'\n",
        service.url()
    );
    let errors = pharos_config::parse("t.toml", &unknown, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("unknown placeholders {{titel}}"),
        "{errors}"
    );
    let broken = format!(
        "[[channels]]\nid = \"x\"\ntype = \"webhook\"\nurl = \"{}/\"\ntemplate = '{{\"text\": {{{{title}}}}}}'\n",
        service.url()
    );
    let errors = pharos_config::parse("t.toml", &broken, &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("is not valid JSON once filled in"),
        "{errors}"
    );
}
