//! Pushover, through the Messages API: HTML text, priority 1 (bypassing quiet hours) for a
//! major outage, a link to the incident. The application token and user key are added when
//! sending, so they are never stored with the message.
//! Format: https://pushover.net/api (message ≤ 1024 characters, title ≤ 250, `html=1`,
//! priority −2…2; 4xx answers carry `errors`, a 429 means the monthly quota is spent).

use super::http_request::{self, unreadable, with_credentials, Outgoing};
use super::summary::{escape_html, truncate, Summary};
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pharos_config::PushoverChannel;
use pharos_core::Event;
use pharos_store::OutboxMessage;
use secrecy::ExposeSecret;
use serde_json::json;

pub(crate) struct Pushover {
    service: Service,
    account: PushoverChannel,
}

impl Pushover {
    pub(crate) fn new(service: Service, account: PushoverChannel) -> Self {
        Self { service, account }
    }
}

#[async_trait]
impl Channel for Pushover {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let summary = Summary::of(event, context, at);
        let mut message = format!("<b>{}</b>", escape_html(&summary.state));
        if let Some(text) = &summary.message {
            message.push_str(&format!("\n{}", escape_html(text)));
        }
        for check in &summary.failing {
            message.push_str(&format!("\n• {}", escape_html(check)));
        }
        let mut body = json!({
            "title": truncate(&summary.title, 250),
            "message": truncate(&message, 1024),
            "html": 1,
            "priority": if summary.tone.is_major() { 1 } else { 0 },
            "timestamp": summary.at.timestamp(),
        });
        if let Some(link) = &summary.link {
            body["url"] = json!(link);
            body["url_title"] = json!("View on the status page");
        }
        body.to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let token = self.account.token.expose_secret();
        let user = self.account.user.expose_secret();
        let body = match with_credentials(&message.payload, &[("token", token), ("user", user)]) {
            Some(body) => body,
            None => return unreadable(),
        };
        let url = match self.account.api_url.join("1/messages.json") {
            Ok(url) => url,
            Err(_) => return unreadable(),
        };
        let outgoing = Outgoing::post_json(url.to_string(), body);
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "Pushover", &[token, user])
    }
}
