//! ntfy, by publishing JSON to the server's root: priority and tags follow the impact
//! (5 and 🚨 for a major outage, a check mark for a recovery), a click opens the incident.
//! Format: https://docs.ntfy.sh/publish/#publish-as-json (priority 1–5, tags as emoji
//! short codes, `click`, bearer tokens for protected topics).

use super::http_request::{self, Outgoing};
use super::summary::{Summary, Tone};
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::header::AUTHORIZATION;
use pharos_config::NtfyChannel;
use pharos_core::{ComponentStatus, Event};
use pharos_store::OutboxMessage;
use secrecy::ExposeSecret;
use serde_json::json;

pub(crate) struct Ntfy {
    service: Service,
    topic: NtfyChannel,
}

impl Ntfy {
    pub(crate) fn new(service: Service, topic: NtfyChannel) -> Self {
        Self { service, topic }
    }
}

#[async_trait]
impl Channel for Ntfy {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let summary = Summary::of(event, context, at);
        let (priority, tag) = match summary.tone {
            Tone::Problem(ComponentStatus::MajorOutage) => (5, "rotating_light"),
            Tone::Problem(ComponentStatus::PartialOutage) => (4, "warning"),
            Tone::Problem(_) => (3, "warning"),
            Tone::Recovered => (3, "white_check_mark"),
            Tone::Notice => (2, "information_source"),
        };
        let mut body = json!({
            "topic": self.topic.topic,
            "title": summary.title,
            "message": summary.plain_text(),
            "priority": priority,
            "tags": [tag, "pharos"],
        });
        if let Some(link) = &summary.link {
            body["click"] = json!(link);
        }
        body.to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let mut outgoing =
            Outgoing::post_json(self.topic.server.to_string(), message.payload.clone());
        let mut secrets = Vec::new();
        if let Some(token) = &self.topic.token {
            let token = token.expose_secret();
            outgoing = outgoing.header(AUTHORIZATION, &format!("Bearer {token}"));
            secrets.push(token);
        }
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "ntfy", &secrets)
    }
}
