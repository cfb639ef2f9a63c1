//! Mattermost, through an incoming webhook, as a message attachment coloured by impact.
//! Format: https://developers.mattermost.com/integrate/webhooks/incoming/ and
//! https://developers.mattermost.com/integrate/reference/message-attachments/

use super::http_request::{self, Outgoing};
use super::summary::Summary;
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pharos_config::ChatWebhook;
use pharos_core::Event;
use pharos_store::OutboxMessage;
use serde_json::json;

pub(crate) struct Mattermost {
    service: Service,
    hook: ChatWebhook,
}

impl Mattermost {
    pub(crate) fn new(service: Service, hook: ChatWebhook) -> Self {
        Self { service, hook }
    }
}

#[async_trait]
impl Channel for Mattermost {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let summary = Summary::of(event, context, at);
        let mut text = summary.message.clone().unwrap_or_default();
        for check in &summary.failing {
            text.push_str(&format!("\n- {check}"));
        }
        let mut attachment = json!({
            "fallback": format!("{}: {}", summary.state, summary.title),
            "color": summary.tone.colour(),
            "title": summary.title,
            "text": text.trim(),
            "fields": summary.facts().iter().map(|(label, value)| json!({ "short": true, "title": label, "value": value })).collect::<Vec<_>>(),
            "footer": "pharos",
            "ts": summary.at.timestamp(),
        });
        if let Some(link) = &summary.link {
            attachment["title_link"] = json!(link);
        }
        json!({ "username": "pharos", "attachments": [attachment] }).to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let outgoing =
            Outgoing::post_json(self.hook.url.expose().to_string(), message.payload.clone());
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "Mattermost", &[self.hook.url.expose().as_str()])
    }
}
