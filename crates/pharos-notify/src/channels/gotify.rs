//! Gotify, by posting a message with the application's token: Markdown text, priority by
//! impact (8 for a major outage), a click opens the incident.
//! Format: https://gotify.net/api-docs#/message/createMessage and
//! https://gotify.net/docs/msgextras (client::display, client::notification).

use super::http_request::{self, Outgoing};
use super::summary::{Summary, Tone};
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderName;
use pharos_config::GotifyChannel;
use pharos_core::{ComponentStatus, Event};
use pharos_store::OutboxMessage;
use secrecy::ExposeSecret;
use serde_json::json;

pub(crate) struct Gotify {
    service: Service,
    server: GotifyChannel,
}

impl Gotify {
    pub(crate) fn new(service: Service, server: GotifyChannel) -> Self {
        Self { service, server }
    }
}

#[async_trait]
impl Channel for Gotify {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let summary = Summary::of(event, context, at);
        let priority = match summary.tone {
            Tone::Problem(ComponentStatus::MajorOutage) => 8,
            Tone::Problem(_) => 6,
            Tone::Recovered => 4,
            Tone::Notice => 2,
        };
        let mut body = json!({
            "title": summary.title,
            "message": summary.plain_text(),
            "priority": priority,
            "extras": { "client::display": { "contentType": "text/plain" } },
        });
        if let Some(link) = &summary.link {
            body["extras"]["client::notification"] = json!({ "click": { "url": link } });
        }
        body.to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let url = match self.server.server.join("message") {
            Ok(url) => url,
            Err(_) => {
                return Delivery::GiveUp {
                    status_code: None,
                    reason: "the server address cannot take a path".to_owned(),
                }
            }
        };
        let token = self.server.token.expose_secret();
        let outgoing = Outgoing::post_json(url.to_string(), message.payload.clone())
            .header(HeaderName::from_static("x-gotify-key"), token);
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "Gotify", &[token])
    }
}
