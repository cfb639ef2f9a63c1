//! Text messages through a Twilio-compatible HTTP API: one 160-character line (state,
//! title, latest word, link) to one number, sent as a form with basic authentication.
//! Format: https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource
//! (POST /2010-04-01/Accounts/{AccountSid}/Messages.json with To, From, Body; 201 on
//! success; 400 with `code` and `message` for a bad number; 429 when throttled).

use super::http_request::{self, Outgoing};
use super::summary::Summary;
use super::Service;
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use http::header::AUTHORIZATION;
use pharos_config::SmsChannel;
use pharos_core::Event;
use pharos_store::OutboxMessage;
use secrecy::ExposeSecret;

/// One SMS segment of the GSM alphabet.
const SMS_LENGTH: usize = 160;

pub(crate) struct Sms {
    service: Service,
    account: SmsChannel,
}

impl Sms {
    pub(crate) fn new(service: Service, account: SmsChannel) -> Self {
        Self { service, account }
    }
}

#[async_trait]
impl Channel for Sms {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        Summary::of(event, context, at).one_line(SMS_LENGTH)
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let path = format!(
            "2010-04-01/Accounts/{}/Messages.json",
            self.account.account_sid
        );
        let Ok(url) = self.account.api_url.join(&path) else {
            return http_request::unreadable();
        };
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("To", &self.account.to)
            .append_pair("From", &self.account.from)
            .append_pair("Body", &message.payload)
            .finish();
        let token = self.account.auth_token.expose_secret();
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{token}", self.account.account_sid));
        let mut outgoing = Outgoing::post_json(url.to_string(), form)
            .header(AUTHORIZATION, &format!("Basic {credentials}"));
        outgoing.content_type = "application/x-www-form-urlencoded";
        let answer = http_request::send(&self.service.client, outgoing, self.service.timeout).await;
        http_request::judge(answer, "SMS gateway", &[token, &credentials])
    }
}
