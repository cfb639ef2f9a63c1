//! Google Chat, through a space's incoming webhook, as a card (cardsV2); the messages of one
//! incident share a thread (its key), so a space reads one thread per incident.
//! Format: https://developers.google.com/workspace/chat/api/reference/rest/v1/cards and
//! https://developers.google.com/workspace/chat/quickstart/webhooks (threadKey with
//! messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD). Text widgets take a little
//! HTML, so text is escaped.

use super::http_request::{self, Outgoing};
use super::summary::{escape_html, Summary};
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pharos_config::ChatWebhook;
use pharos_core::Event;
use pharos_store::OutboxMessage;
use serde_json::json;

pub(crate) struct GoogleChat {
    service: Service,
    hook: ChatWebhook,
}

impl GoogleChat {
    pub(crate) fn new(service: Service, hook: ChatWebhook) -> Self {
        Self { service, hook }
    }
}

#[async_trait]
impl Channel for GoogleChat {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let summary = Summary::of(event, context, at);
        let mut widgets: Vec<_> = summary
            .facts()
            .iter()
            .map(|(label, value)| json!({ "decoratedText": { "topLabel": label, "text": escape_html(value) } }))
            .collect();
        if let Some(message) = &summary.message {
            widgets.push(json!({ "textParagraph": { "text": escape_html(message) } }));
        }
        if !summary.failing.is_empty() {
            let checks: Vec<String> = summary
                .failing
                .iter()
                .map(|check| escape_html(check))
                .collect();
            widgets.push(json!({ "textParagraph": { "text": checks.join("<br>") } }));
        }
        if let Some(link) = &summary.link {
            widgets.push(json!({ "buttonList": { "buttons": [{ "text": "View on the status page", "onClick": { "openLink": { "url": link } } }] } }));
        }
        json!({
            "text": format!("{}: {}", summary.state, summary.title),
            "cardsV2": [{
                "cardId": summary.key,
                "card": {
                    "header": { "title": escape_html(&summary.title), "subtitle": escape_html(&summary.state) },
                    "sections": [{ "widgets": widgets }],
                },
            }],
            "thread": { "threadKey": summary.key },
        })
        .to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let mut url = self.hook.url.expose().clone();
        url.query_pairs_mut()
            .append_pair("messageReplyOption", "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD");
        let outgoing = Outgoing::post_json(url.to_string(), message.payload.clone());
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "Google Chat", &[self.hook.url.expose().as_str()])
    }
}
