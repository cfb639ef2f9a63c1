//! pharos notifications: the event payloads, the durable outbox worker that delivers them at
//! least once, and one module per channel.

mod backoff;
mod payload;
mod signature;
mod webhook;
mod worker;

pub use backoff::next_attempt;
pub use payload::{
    component_event, incident_event, new_message_id, pharos_degraded_event, EventContext,
};
pub use signature::{sign, verify, SignatureError};
pub use webhook::{https_client, HttpsClient, WebhookSender};
pub use worker::{Channels, OutboxWorker};
