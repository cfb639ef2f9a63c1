//! One module per kind of channel, and building them from the configuration.

pub(crate) mod webhook;
mod webhook_payload;

use crate::channel::Channel;
use pharos_config::{ChannelKind, Config};
use std::collections::HashMap;
use std::sync::Arc;

pub use webhook::WebhookSender;

/// Every configured channel, by id.
pub(crate) fn from_config(config: &Config) -> HashMap<String, Arc<dyn Channel>> {
    config
        .channels
        .iter()
        .map(|channel| {
            let sender: Arc<dyn Channel> = match &channel.kind {
                ChannelKind::Webhook(webhook) => Arc::new(WebhookSender::new(webhook)),
            };
            (channel.id.clone(), sender)
        })
        .collect()
}
