//! Microsoft Teams, through a Workflows (Power Automate) webhook, as an Adaptive Card: the
//! "Post to a channel when a webhook request is received" flow takes a message whose
//! attachments hold the card. (The retired Office 365 connector's MessageCard is not used.)
//! Format: https://learn.microsoft.com/en-us/microsoftteams/platform/task-modules-and-cards/cards/cards-reference#adaptive-card
//! and https://adaptivecards.io/explorer/AdaptiveCard.html (schema 1.4).

use super::http_request::{self, Outgoing};
use super::summary::{Summary, Tone};
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pharos_config::ChatWebhook;
use pharos_core::Event;
use pharos_store::OutboxMessage;
use serde_json::json;

pub(crate) struct Teams {
    service: Service,
    hook: ChatWebhook,
}

impl Teams {
    pub(crate) fn new(service: Service, hook: ChatWebhook) -> Self {
        Self { service, hook }
    }
}

#[async_trait]
impl Channel for Teams {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let summary = Summary::of(event, context, at);
        let colour = match summary.tone {
            Tone::Recovered => "Good",
            Tone::Notice => "Accent",
            tone if tone.is_major() => "Attention",
            _ => "Warning",
        };
        let mut body = vec![
            json!({ "type": "TextBlock", "text": summary.title, "weight": "Bolder", "size": "Medium", "color": colour, "wrap": true }),
            json!({ "type": "FactSet", "facts": summary.facts().iter().map(|(label, value)| json!({ "title": label, "value": value })).collect::<Vec<_>>() }),
        ];
        if let Some(message) = &summary.message {
            body.push(json!({ "type": "TextBlock", "text": message, "wrap": true }));
        }
        for check in &summary.failing {
            body.push(json!({ "type": "TextBlock", "text": format!("- {check}"), "wrap": true, "isSubtle": true, "spacing": "None" }));
        }
        let mut card = json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        });
        if let Some(link) = &summary.link {
            card["actions"] = json!([{ "type": "Action.OpenUrl", "title": "View on the status page", "url": link }]);
        }
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": card,
            }],
        })
        .to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let outgoing =
            Outgoing::post_json(self.hook.url.expose().to_string(), message.payload.clone());
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "Teams", &[self.hook.url.expose().as_str()])
    }
}
