//! One module per kind of channel, and building them from the configuration. Each renders
//! the format its service documents (cited atop its file) and judges the service's answers
//! through the shared `http_request`.

mod discord;
pub(crate) mod email;
mod google_chat;
mod gotify;
mod http_request;
mod matrix;
mod mattermost;
mod ntfy;
mod opsgenie;
mod pagerduty;
mod pushover;
mod slack;
mod sms;
pub(crate) mod summary;
mod teams;
mod telegram;
pub(crate) mod webhook;
pub(crate) mod webhook_payload;

use crate::channel::Channel;
use crate::https::{https_client, HttpsClient};
use pharos_config::{ChannelKind, Config};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use webhook::WebhookSender;

/// What every HTTP channel sends with: a client and the time one attempt may take.
pub(crate) struct Service {
    client: HttpsClient,
    timeout: Duration,
}

/// Every configured channel, by id.
pub(crate) fn from_config(config: &Config) -> HashMap<String, Arc<dyn Channel>> {
    config
        .channels
        .iter()
        .map(|channel| (channel.id.clone(), build(channel)))
        .collect()
}

/// The channel a configuration entry describes.
pub fn build(channel: &pharos_config::Channel) -> Arc<dyn Channel> {
    let service = Service {
        client: https_client(),
        timeout: channel.timeout,
    };
    match &channel.kind {
        ChannelKind::Webhook(webhook) => {
            Arc::new(WebhookSender::new(webhook).with_timeout(channel.timeout))
        }
        ChannelKind::Slack(config) => Arc::new(slack::Slack::new(service, config.clone())),
        ChannelKind::Discord(config) => Arc::new(discord::Discord::new(service, config.clone())),
        ChannelKind::Teams(config) => Arc::new(teams::Teams::new(service, config.clone())),
        ChannelKind::GoogleChat(config) => {
            Arc::new(google_chat::GoogleChat::new(service, config.clone()))
        }
        ChannelKind::Mattermost(config) => {
            Arc::new(mattermost::Mattermost::new(service, config.clone()))
        }
        ChannelKind::Matrix(config) => Arc::new(matrix::Matrix::new(service, config.clone())),
        ChannelKind::Ntfy(config) => Arc::new(ntfy::Ntfy::new(service, config.clone())),
        ChannelKind::Gotify(config) => Arc::new(gotify::Gotify::new(service, config.clone())),
        ChannelKind::Telegram(config) => Arc::new(telegram::Telegram::new(service, config.clone())),
        ChannelKind::Pushover(config) => Arc::new(pushover::Pushover::new(service, config.clone())),
        ChannelKind::PagerDuty(config) => {
            Arc::new(pagerduty::PagerDuty::new(service, config.clone()))
        }
        ChannelKind::Opsgenie(config) => Arc::new(opsgenie::Opsgenie::new(service, config.clone())),
        ChannelKind::Sms(config) => Arc::new(sms::Sms::new(service, config.clone())),
        ChannelKind::Email(config) => Arc::new(email::Email::new(config.clone(), channel.timeout)),
    }
}
