//! pharos notifications: the `Channel` trait and one module per channel under `channels/`,
//! routing (which channels want an event), and the durable outbox worker that delivers
//! messages at least once.

mod backoff;
mod channel;
mod channels;
mod health;
mod https;
mod routing;
mod signature;
pub mod subscribers;
mod worker;

pub use backoff::next_attempt;
pub use channel::{Channel, Delivery, EventContext};
pub use channels::summary::escape_html;
pub use channels::{build as build_channel, WebhookSender};
pub use health::{ChannelHealth, Health, HealthPolicy};
pub use https::{https_client, HttpsClient};
pub use routing::{new_message_id, Notifier};
pub use signature::{sign, verify, SignatureError};
pub use worker::{Channels, OutboxWorker};
