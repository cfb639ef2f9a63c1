//! Telegram, through the Bot API's `sendMessage` in HTML parse mode (text escaped, link
//! previews off); a 429's `parameters.retry_after` is honoured.
//! Format: https://core.telegram.org/bots/api#sendmessage and
//! https://core.telegram.org/bots/api#html-style (only `<`, `>`, `&` need escaping).

use super::http_request::{self, Outgoing};
use super::summary::{escape_html, truncate, Summary};
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pharos_config::TelegramChannel;
use pharos_core::Event;
use pharos_store::OutboxMessage;
use secrecy::ExposeSecret;
use serde_json::json;

pub(crate) struct Telegram {
    service: Service,
    chat: TelegramChannel,
}

impl Telegram {
    pub(crate) fn new(service: Service, chat: TelegramChannel) -> Self {
        Self { service, chat }
    }
}

#[async_trait]
impl Channel for Telegram {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let summary = Summary::of(event, context, at);
        let mut text = format!(
            "<b>{}</b>\n<i>{}</i>",
            escape_html(&summary.title),
            escape_html(
                &summary
                    .facts()
                    .iter()
                    .map(|(_, value)| value.as_str())
                    .collect::<Vec<_>>()
                    .join(" · ")
            ),
        );
        if let Some(message) = &summary.message {
            text.push_str(&format!("\n\n{}", escape_html(&truncate(message, 3000))));
        }
        for check in summary.failing.iter().take(10) {
            text.push_str(&format!("\n• {}", escape_html(check)));
        }
        if let Some(link) = &summary.link {
            text.push_str(&format!(
                "\n\n<a href=\"{}\">View on the status page</a>",
                escape_html(link)
            ));
        }
        json!({
            "chat_id": self.chat.chat_id,
            "text": text,
            "parse_mode": "HTML",
            "link_preview_options": { "is_disabled": true },
        })
        .to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let token = self.chat.bot_token.expose_secret();
        let url = match self.chat.api_url.join(&format!("./bot{token}/sendMessage")) {
            Ok(url) => url,
            Err(_) => {
                return Delivery::GiveUp {
                    status_code: None,
                    reason: "the Bot API address cannot take a path".to_owned(),
                }
            }
        };
        let outgoing = Outgoing::post_json(url.to_string(), message.payload.clone());
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "Telegram", &[token])
    }
}
