//! Matrix, through the client-server API: an `m.room.message` with a plain body and an HTML
//! body, sent with PUT under the outbox message's id as transaction id, so a retried message
//! is posted once even if an earlier attempt got through unanswered.
//! Format: https://spec.matrix.org/v1.11/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid
//! and https://spec.matrix.org/v1.11/client-server-api/#mtext (org.matrix.custom.html).

use super::http_request::{self, Outgoing};
use super::summary::{escape_html, Summary};
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::header::AUTHORIZATION;
use http::Method;
use pharos_config::MatrixChannel;
use pharos_core::Event;
use pharos_store::OutboxMessage;
use secrecy::ExposeSecret;
use serde_json::json;

pub(crate) struct Matrix {
    service: Service,
    room: MatrixChannel,
}

impl Matrix {
    pub(crate) fn new(service: Service, room: MatrixChannel) -> Self {
        Self { service, room }
    }
}

#[async_trait]
impl Channel for Matrix {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let summary = Summary::of(event, context, at);
        let mut html = format!(
            "<h4>{}</h4><p><b>{}</b> · {}</p>",
            escape_html(&summary.title),
            escape_html(&summary.state),
            summary
                .impact
                .map(|impact| impact.label())
                .unwrap_or("notice"),
        );
        if let Some(message) = &summary.message {
            html.push_str(&format!("<p>{}</p>", escape_html(message)));
        }
        if !summary.failing.is_empty() {
            html.push_str("<ul>");
            for check in &summary.failing {
                html.push_str(&format!("<li>{}</li>", escape_html(check)));
            }
            html.push_str("</ul>");
        }
        if let Some(link) = &summary.link {
            html.push_str(&format!(
                "<p><a href=\"{}\">View on the status page</a></p>",
                escape_html(link)
            ));
        }
        json!({
            "msgtype": "m.text",
            "body": format!("{}\n{}", summary.title, summary.plain_text()),
            "format": "org.matrix.custom.html",
            "formatted_body": html,
        })
        .to_string()
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let mut url = self.room.homeserver.clone();
        match url.path_segments_mut() {
            Ok(mut segments) => {
                segments.pop_if_empty().extend([
                    "_matrix",
                    "client",
                    "v3",
                    "rooms",
                    &self.room.room_id,
                    "send",
                    "m.room.message",
                    &message.id,
                ]);
            }
            Err(()) => {
                return Delivery::GiveUp {
                    status_code: None,
                    reason: "the homeserver address cannot take a path".to_owned(),
                }
            }
        }
        let token = self.room.access_token.expose_secret();
        let mut outgoing = Outgoing::post_json(url.to_string(), message.payload.clone())
            .header(AUTHORIZATION, &format!("Bearer {token}"));
        outgoing.method = Method::PUT;
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "Matrix", &[token])
    }
}
