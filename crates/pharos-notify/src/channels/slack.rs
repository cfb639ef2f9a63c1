//! Slack, through an incoming webhook, as Block Kit: a header, the facts as fields, the
//! latest word, the failing checks and a button to the incident.
//! Format: https://api.slack.com/messaging/webhooks and https://api.slack.com/reference/block-kit/blocks
//! (mrkdwn escapes only `&`, `<` and `>`: https://api.slack.com/reference/surfaces/formatting#escaping).

use super::http_request::{self, Outgoing};
use super::summary::{truncate, Summary};
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pharos_config::ChatWebhook;
use pharos_core::Event;
use pharos_store::OutboxMessage;
use serde_json::{json, Value};

pub(crate) struct Slack {
    service: Service,
    hook: ChatWebhook,
}

impl Slack {
    pub(crate) fn new(service: Service, hook: ChatWebhook) -> Self {
        Self { service, hook }
    }
}

pub(crate) fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An emoji for the tone: Slack's blocks have no colour of their own.
pub(crate) fn marker(summary: &Summary) -> &'static str {
    match summary.tone {
        super::summary::Tone::Recovered => "✅",
        super::summary::Tone::Notice => "ℹ️",
        tone if tone.is_major() => "🔴",
        _ => "🟠",
    }
}

pub(crate) fn render_blocks(summary: &Summary) -> Value {
    let mut blocks = vec![
        json!({
            "type": "header",
            "text": { "type": "plain_text", "text": truncate(&format!("{} {}", marker(summary), summary.title), 150), "emoji": true },
        }),
        json!({
            "type": "section",
            "fields": summary.facts().iter().map(|(label, value)| json!({
                "type": "mrkdwn",
                "text": format!("*{label}*\n{}", escape_mrkdwn(value)),
            })).collect::<Vec<_>>(),
        }),
    ];
    if let Some(message) = &summary.message {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": truncate(&escape_mrkdwn(message), 3000) },
        }));
    }
    if !summary.failing.is_empty() {
        blocks.push(json!({
            "type": "context",
            "elements": summary.failing.iter().take(10).map(|check| json!({
                "type": "mrkdwn",
                "text": truncate(&escape_mrkdwn(check), 2000),
            })).collect::<Vec<_>>(),
        }));
    }
    if let Some(link) = &summary.link {
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "text": { "type": "plain_text", "text": "View on the status page" },
                "url": link,
            }],
        }));
    }
    json!({
        "text": escape_mrkdwn(&format!("{}: {}", summary.state, summary.title)),
        "blocks": blocks,
    })
}

#[async_trait]
impl Channel for Slack {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        render_blocks(&Summary::of(event, context, at)).to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let outgoing =
            Outgoing::post_json(self.hook.url.expose().to_string(), message.payload.clone());
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "Slack", &[self.hook.url.expose().as_str()])
    }
}
