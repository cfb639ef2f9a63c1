//! Discord, through a channel webhook, as one embed coloured by impact; mentions are
//! disabled, so no text can ping anyone.
//! Format: https://discord.com/developers/docs/resources/webhook#execute-webhook and
//! https://discord.com/developers/docs/resources/message#embed-object (limits: title 256,
//! description 4096, field value 1024).

use super::http_request::{self, Outgoing};
use super::summary::{truncate, Summary};
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use pharos_config::ChatWebhook;
use pharos_core::Event;
use pharos_store::OutboxMessage;
use serde_json::json;

pub(crate) struct Discord {
    service: Service,
    hook: ChatWebhook,
}

impl Discord {
    pub(crate) fn new(service: Service, hook: ChatWebhook) -> Self {
        Self { service, hook }
    }
}

#[async_trait]
impl Channel for Discord {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let summary = Summary::of(event, context, at);
        let mut description = summary.message.clone().unwrap_or_default();
        for check in &summary.failing {
            description.push_str(&format!("\n• {check}"));
        }
        let mut embed = json!({
            "title": truncate(&summary.title, 256),
            "description": truncate(description.trim(), 4096),
            "color": summary.tone.colour_number(),
            "fields": summary.facts().iter().map(|(label, value)| json!({
                "name": label,
                "value": truncate(value, 1024),
                "inline": true,
            })).collect::<Vec<_>>(),
            "timestamp": summary.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "footer": { "text": "pharos" },
        });
        if let Some(link) = &summary.link {
            embed["url"] = json!(link);
        }
        json!({
            "username": "pharos",
            "embeds": [embed],
            "allowed_mentions": { "parse": [] },
        })
        .to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        // `wait=true`: Discord answers once the message is posted, not merely queued.
        let mut url = self.hook.url.expose().clone();
        url.query_pairs_mut().append_pair("wait", "true");
        let outgoing = Outgoing::post_json(url.to_string(), message.payload.clone());
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "Discord", &[self.hook.url.expose().as_str()])
    }
}
