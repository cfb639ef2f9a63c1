//! Subscribers: readers told about incidents by email (after confirming their address) or by
//! webhook, for every component or the ones they chose. An event reaches them in two durable
//! steps: the engine queues one message to the `subscribers` fan-out with the event rendered
//! for email and for webhooks; delivering it queues one message per subscriber who follows
//! the components (ids derived from the fan-out's, so a fan-out retried after a crash adds
//! none twice); each of those is then delivered, retried and given up on its own, to a
//! subscriber who may have left meanwhile (then nothing is sent). Every email carries a
//! signed one-click unsubscribe link (RFC 8058).

use crate::channel::{Channel, Delivery, EventContext};
use crate::channels::email::Email;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncTransport, Message};
use pharos_config::SubscribersConfig;
use pharos_core::{ComponentId, Event};
use pharos_store::{MessageState, OutboxMessage, Store, SubscriberKind};
use serde_json::{json, Value};
use sha2::Sha256;
use std::time::Duration;

/// The channel id of the fan-out.
pub const FANOUT: &str = "subscribers";
/// Per-subscriber messages go to `subscriber:<id>`.
pub const PREFIX: &str = "subscriber:";
/// The name of the key unsubscribe links are signed with.
pub const UNSUBSCRIBE_KEY: &str = "unsubscribe";

/// The signature of an unsubscribe link for subscriber `id`.
pub fn unsubscribe_token(key: &str, id: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(id.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `token` signs an unsubscribe link for `id` (compared in constant time).
pub fn check_unsubscribe(key: &str, id: &str, token: &str) -> bool {
    let Some(bytes) = (0..token.len())
        .step_by(2)
        .map(|index| u8::from_str_radix(token.get(index..index + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(id.as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

/// The components an event is about, for matching subscribers; none for events readers are
/// not told about.
fn components_of(event: &Event) -> Option<Vec<ComponentId>> {
    match event {
        Event::IncidentOpened(news)
        | Event::IncidentUpdated(news)
        | Event::IncidentResolved(news) => {
            let incident = &news.incident;
            Some(
                std::iter::once(incident.component.clone())
                    .chain(
                        incident
                            .dependents
                            .iter()
                            .map(|dependent| dependent.component.clone()),
                    )
                    .collect(),
            )
        }
        Event::MaintenanceScheduled(news)
        | Event::MaintenanceStarted(news)
        | Event::MaintenanceEnded(news) => Some(news.components.clone()),
        _ => None,
    }
}

/// How subscribers are reached: the fan-out's rendering, and delivery to each.
pub struct Subscribers {
    /// The page's title, as messages to subscribers name it.
    title: String,
    /// The email channel's account, when subscribers are mailed.
    email: Option<Email>,
    from: Option<String>,
    context: EventContext,
    timeout: Duration,
}

impl Subscribers {
    pub fn from_config(config: &SubscribersConfig, title: String, context: EventContext) -> Self {
        let (email, from, timeout) = match &config.email {
            Some((_, account, timeout)) => (
                Some(Email::new(account.clone(), *timeout)),
                Some(account.from.clone()),
                *timeout,
            ),
            None => (None, None, Duration::from_secs(10)),
        };
        Self {
            title,
            email,
            from,
            context,
            timeout,
        }
    }

    /// The page's title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The public address of `path` on the status page.
    pub fn link(&self, path: &str) -> Option<String> {
        self.context.link(path)
    }

    /// Whether subscribers can be mailed (the sign-up form is offered then).
    pub fn mails(&self) -> bool {
        self.email.is_some()
    }

    /// The link that unsubscribes `id` at once.
    pub fn unsubscribe_link(&self, key: &str, id: &str) -> Option<String> {
        self.context.link(&format!(
            "unsubscribe?s={id}&t={}",
            unsubscribe_token(key, id)
        ))
    }

    /// Queues one message per subscriber who follows the fan-out's components.
    pub async fn fan_out(&self, store: &dyn Store, message: &OutboxMessage) -> Delivery {
        let Ok(payload) = serde_json::from_str::<Value>(&message.payload) else {
            return Delivery::GiveUp {
                status_code: None,
                reason: "the stored message cannot be read".into(),
            };
        };
        let components: Vec<ComponentId> = payload["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(ComponentId::new)
            .collect();
        let subscribers = match store.subscribers().await {
            Ok(subscribers) => subscribers,
            Err(error) => {
                return Delivery::Retry {
                    status_code: None,
                    reason: format!("cannot read the subscribers: {error}"),
                    retry_after: None,
                }
            }
        };
        let now = Utc::now();
        let messages: Vec<OutboxMessage> = subscribers
            .iter()
            .filter(|subscriber| subscriber.follows(&components))
            .filter(|subscriber| subscriber.kind == SubscriberKind::Webhook || self.mails())
            .map(|subscriber| {
                let channel = format!("{PREFIX}{}", subscriber.id);
                OutboxMessage {
                    id: format!("{}.{}", message.id, subscriber.id),
                    channel_id: channel.clone(),
                    event: message.event,
                    payload: message.payload.clone(),
                    created_at: now,
                    next_attempt_at: now,
                    give_up_at: message.give_up_at,
                    attempts: 0,
                    state: MessageState::Pending,
                    delivered_at: None,
                    last_error: None,
                    // Each subscriber hears one incident's news in order.
                    sequence_key: Some(channel),
                    chain: None,
                }
            })
            .collect();
        if messages.is_empty() {
            return Delivery::Delivered { status_code: None };
        }
        match store.fan_out(&messages).await {
            Ok(()) => {
                tracing::debug!(message = %message.id, subscribers = messages.len(), "subscribers: fanned out");
                Delivery::Delivered { status_code: None }
            }
            Err(error) => Delivery::Retry {
                status_code: None,
                reason: format!("cannot queue the subscribers' messages: {error}"),
                retry_after: None,
            },
        }
    }

    /// Delivers one subscriber's message, unless they have left.
    pub async fn deliver(&self, store: &dyn Store, message: &OutboxMessage) -> Delivery {
        let id = message.channel_id.trim_start_matches(PREFIX);
        let subscriber = match store.subscriber(id).await {
            Ok(Some(subscriber)) => subscriber,
            Ok(None) => {
                return Delivery::GiveUp {
                    status_code: None,
                    reason: "the subscriber has unsubscribed".into(),
                }
            }
            Err(error) => {
                return Delivery::Retry {
                    status_code: None,
                    reason: format!("cannot read the subscriber: {error}"),
                    retry_after: None,
                }
            }
        };
        let Ok(payload) = serde_json::from_str::<Value>(&message.payload) else {
            return Delivery::GiveUp {
                status_code: None,
                reason: "the stored message cannot be read".into(),
            };
        };
        match subscriber.kind {
            SubscriberKind::Webhook => {
                let Ok(url) = url::Url::parse(&subscriber.address) else {
                    return Delivery::GiveUp {
                        status_code: None,
                        reason: "the subscriber's URL cannot be used".into(),
                    };
                };
                let sender =
                    crate::channels::webhook::WebhookSender::new(&pharos_config::WebhookChannel {
                        url,
                        secret: subscriber.secret.clone().map(secrecy::SecretString::from),
                        headers: Vec::new(),
                        template: None,
                    })
                    .with_timeout(self.timeout);
                let body = OutboxMessage {
                    payload: payload["webhook"].as_str().unwrap_or("{}").to_owned(),
                    ..message.clone()
                };
                sender.deliver(&body).await
            }
            SubscriberKind::Email => {
                let key = match store.server_key(UNSUBSCRIBE_KEY).await {
                    Ok(key) => key,
                    Err(error) => {
                        return Delivery::Retry {
                            status_code: None,
                            reason: format!("cannot read the unsubscribe key: {error}"),
                            retry_after: None,
                        }
                    }
                };
                let unsubscribe = self.unsubscribe_link(&key, &subscriber.id);
                let email = &payload["email"];
                let text = |key: &str| email[key].as_str().unwrap_or_default().to_owned();
                self.send(
                    &subscriber.address,
                    &text("subject"),
                    &text("text"),
                    &text("html"),
                    unsubscribe.as_deref(),
                    Some(&message.id),
                )
                .await
            }
        }
    }

    /// Mails one message to `to`, with the unsubscribe link in the body and in the
    /// `List-Unsubscribe` headers when given.
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
        unsubscribe: Option<&str>,
        message_id: Option<&str>,
    ) -> Delivery {
        let (Some(email), Some(from)) = (&self.email, &self.from) else {
            return Delivery::GiveUp {
                status_code: None,
                reason: "subscribers have no email channel ([subscribers] email_channel)".into(),
            };
        };
        let built = (|| -> Result<Message, String> {
            let from: Mailbox = from
                .parse()
                .map_err(|error| format!("`from` {from}: {error}"))?;
            let to: Mailbox = to
                .parse()
                .map_err(|error| format!("the address cannot be used: {error}"))?;
            let mut builder = Message::builder().from(from).to(to).subject(subject);
            if let Some(id) = message_id {
                builder = builder.message_id(Some(format!("<{id}@{}>", email.domain())));
            }
            let (mut text, mut html) = (text.to_owned(), html.to_owned());
            if let Some(link) = unsubscribe {
                builder = builder
                    .raw_header(HeaderValue::new(
                        HeaderName::new_from_ascii_str("List-Unsubscribe"),
                        format!("<{link}>"),
                    ))
                    .raw_header(HeaderValue::new(
                        HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                        "List-Unsubscribe=One-Click".to_owned(),
                    ));
                text.push_str(&format!("\nUnsubscribe: {link}\n"));
                html.push_str(&format!(
                    "<p><a href=\"{}\">Unsubscribe</a></p>",
                    crate::channels::summary::escape_html(link)
                ));
            }
            builder
                .multipart(MultiPart::alternative_plain_html(text, html))
                .map_err(|error| format!("the message cannot be built: {error}"))
        })();
        let message = match built {
            Ok(message) => message,
            Err(reason) => {
                return Delivery::GiveUp {
                    status_code: None,
                    reason,
                }
            }
        };
        let transport = match email.transport() {
            Ok(transport) => transport,
            Err(reason) => {
                return Delivery::GiveUp {
                    status_code: None,
                    reason,
                }
            }
        };
        match tokio::time::timeout(self.timeout * 3, transport.send(message)).await {
            Ok(Ok(response)) => Delivery::Delivered {
                status_code: Some(u16::from(response.code())),
            },
            Ok(Err(error)) => {
                let status_code = error.status().map(u16::from);
                let reason = email.redact(format!("the mail server refused: {error}"));
                if error.is_permanent() {
                    Delivery::GiveUp {
                        status_code,
                        reason,
                    }
                } else {
                    Delivery::Retry {
                        status_code,
                        reason,
                        retry_after: None,
                    }
                }
            }
            Err(_) => Delivery::Retry {
                status_code: None,
                reason: format!(
                    "no answer from the mail server within {} s",
                    (self.timeout * 3).as_secs()
                ),
                retry_after: None,
            },
        }
    }
}

/// The fan-out channel: renders an event once for every kind of subscriber. Its messages are
/// delivered by the outbox worker through `Subscribers::fan_out`.
pub(crate) struct Fanout;

#[async_trait]
impl Channel for Fanout {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        let components: Vec<String> = components_of(event)
            .unwrap_or_default()
            .iter()
            .map(|id| id.as_str().to_owned())
            .collect();
        let email: Value =
            serde_json::from_str(&crate::channels::email::render(event, context, at))
                .unwrap_or_default();
        json!({
            "components": components,
            "email": email,
            "webhook": crate::channels::webhook_payload::render(event, context, at),
        })
        .to_string()
    }

    async fn deliver(&self, _message: &OutboxMessage) -> Delivery {
        Delivery::GiveUp {
            status_code: None,
            reason: "the subscribers' fan-out is delivered by the outbox worker".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsubscribe_links_are_signed_per_subscriber() {
        let token = unsubscribe_token("key", "sub1");
        assert!(check_unsubscribe("key", "sub1", &token));
        assert!(!check_unsubscribe("key", "sub2", &token));
        assert!(!check_unsubscribe("other", "sub1", &token));
        assert!(!check_unsubscribe("key", "sub1", "zz"));
        assert!(!check_unsubscribe("key", "sub1", ""));
    }
}
