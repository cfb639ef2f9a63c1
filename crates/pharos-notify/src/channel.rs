//! The `Channel` trait: how an event reaches people through one kind of service. A channel
//! renders an event once, when its message is enqueued (so every retry sends the same bytes),
//! and delivers a rendered message, saying what came of it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use pharos_core::Event;
use pharos_store::OutboxMessage;
use url::Url;

/// What every rendering needs to know about the installation.
#[derive(Clone, Debug, Default)]
pub struct EventContext {
    /// The status page's public address, for links.
    pub public_url: Option<Url>,
}

impl EventContext {
    /// The public address of `path` on the status page, if the page's address is known.
    pub fn link(&self, path: &str) -> Option<String> {
        self.public_url
            .as_ref()
            .and_then(|base| base.join(path).ok())
            .map(String::from)
    }
}

/// What one delivery attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    Delivered {
        status_code: Option<u16>,
    },
    /// It may work later: the outbox retries with backoff until the channel's give-up time.
    Retry {
        status_code: Option<u16>,
        reason: String,
        /// The service asked for this wait before the next attempt (429 with Retry-After).
        retry_after: Option<std::time::Duration>,
    },
    /// It will never work (the receiver said the endpoint is gone, say).
    GiveUp {
        status_code: Option<u16>,
        reason: String,
    },
}

impl Delivery {
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Delivery::Delivered { status_code }
            | Delivery::Retry { status_code, .. }
            | Delivery::GiveUp { status_code, .. } => *status_code,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Delivery::Delivered { .. } => None,
            Delivery::Retry { reason, .. } | Delivery::GiveUp { reason, .. } => Some(reason),
        }
    }
}

#[async_trait]
pub trait Channel: Send + Sync {
    /// The event in this channel's wire format.
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String;

    /// Sends one rendered message.
    async fn deliver(&self, message: &OutboxMessage) -> Delivery;
}
