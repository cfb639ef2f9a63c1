//! The validated model of notification channels: where each kind of service is reached and
//! with which credentials. `Debug` never shows a token, a key or a URL that embeds one.

use crate::model::{Header, MailEndpoint};
use pharos_core::{ComponentId, ComponentStatus, EventKind};
use secrecy::SecretString;
use std::fmt;
use std::time::Duration;
use url::Url;

#[derive(Debug)]
pub struct Channel {
    pub id: String,
    pub events: Vec<EventKind>,
    /// Only events about these components; all components when empty.
    pub components: Vec<ComponentId>,
    /// After this long without a successful delivery, a notification is given up.
    pub give_up_after: Duration,
    /// How long one delivery attempt may take before it counts as failed.
    pub timeout: Duration,
    /// Components this channel needs to work: while any of them is not operational, the
    /// channel is skipped (an alert about a mail outage is not sent into the broken mail).
    pub depends_on: Vec<ComponentId>,
    /// The channel counts as unhealthy after this many failed attempts in a row…
    pub unhealthy_after_failures: u32,
    /// …or after failing for this long without a delivery, whichever comes first.
    pub unhealthy_after: Duration,
    pub kind: ChannelKind,
}

/// A route: which events go where, through an ordered fallback chain of channels.
#[derive(Debug)]
pub struct Route {
    /// Events of these kinds; all when the route does not say.
    pub events: Vec<EventKind>,
    /// Events about these components (a route's `groups` included); all when empty.
    pub components: Vec<ComponentId>,
    /// Only events whose impact is at least this bad (an incident's impact, a component's
    /// new status); events about pharos itself pass.
    pub min_impact: Option<ComponentStatus>,
    /// Channel ids, tried in order until one delivers.
    pub chain: Vec<String>,
    /// How long each step may try before the next one is tried.
    pub fallback_after: Duration,
}

#[derive(Debug)]
pub enum ChannelKind {
    Webhook(WebhookChannel),
    Slack(ChatWebhook),
    Discord(ChatWebhook),
    Teams(ChatWebhook),
    GoogleChat(ChatWebhook),
    Mattermost(ChatWebhook),
    Matrix(MatrixChannel),
    Ntfy(NtfyChannel),
    Gotify(GotifyChannel),
    Telegram(TelegramChannel),
    Pushover(PushoverChannel),
    PagerDuty(PagerDutyChannel),
    Opsgenie(OpsgenieChannel),
    Sms(SmsChannel),
    Email(EmailChannel),
}

impl ChannelKind {
    /// Every `type` a channel may have, as written in the configuration.
    pub const TYPES: [&'static str; 15] = [
        "webhook",
        "slack",
        "discord",
        "teams",
        "google_chat",
        "mattermost",
        "matrix",
        "ntfy",
        "gotify",
        "telegram",
        "pushover",
        "pagerduty",
        "opsgenie",
        "sms",
        "email",
    ];

    /// The `type` as written in the configuration.
    pub fn type_name(&self) -> &'static str {
        match self {
            ChannelKind::Webhook(_) => "webhook",
            ChannelKind::Slack(_) => "slack",
            ChannelKind::Discord(_) => "discord",
            ChannelKind::Teams(_) => "teams",
            ChannelKind::GoogleChat(_) => "google_chat",
            ChannelKind::Mattermost(_) => "mattermost",
            ChannelKind::Matrix(_) => "matrix",
            ChannelKind::Ntfy(_) => "ntfy",
            ChannelKind::Gotify(_) => "gotify",
            ChannelKind::Telegram(_) => "telegram",
            ChannelKind::Pushover(_) => "pushover",
            ChannelKind::PagerDuty(_) => "pagerduty",
            ChannelKind::Opsgenie(_) => "opsgenie",
            ChannelKind::Sms(_) => "sms",
            ChannelKind::Email(_) => "email",
        }
    }
}

#[derive(Debug)]
pub struct WebhookChannel {
    pub url: Url,
    /// A Standard Webhooks secret, `whsec_` followed by base64; required unless a template
    /// shapes the body for a service that does not verify signatures.
    pub secret: Option<SecretString>,
    pub headers: Vec<Header>,
    /// A body of the receiver's own shape, with `{{placeholders}}` filled in per event, in
    /// place of the Standard Webhooks JSON.
    pub template: Option<WebhookTemplate>,
}

/// A webhook body template and the type it is sent as.
#[derive(Clone, Debug)]
pub struct WebhookTemplate {
    pub body: String,
    pub content_type: String,
}

impl WebhookTemplate {
    /// Every placeholder a template may use.
    pub const PLACEHOLDERS: [&'static str; 10] = [
        "event",
        "title",
        "state",
        "impact",
        "component",
        "message",
        "failing",
        "link",
        "colour",
        "at",
    ];

    /// Whether the body is JSON, so that values are filled in as JSON string content.
    pub fn is_json(&self) -> bool {
        self.content_type.starts_with("application/json") || self.content_type.ends_with("+json")
    }

    /// The body with each `{{name}}` replaced by `value(name)`, escaped for the body's type.
    pub fn fill(&self, value: impl Fn(&str) -> String) -> String {
        let mut filled = String::with_capacity(self.body.len() + 256);
        let mut rest = self.body.as_str();
        while let Some(open) = rest.find("{{") {
            filled.push_str(&rest[..open]);
            let after = &rest[open + 2..];
            match after.find("}}") {
                Some(close) if Self::PLACEHOLDERS.contains(&after[..close].trim()) => {
                    let text = value(after[..close].trim());
                    if self.is_json() {
                        let quoted = serde_json::to_string(&text).unwrap_or_default();
                        filled.push_str(&quoted[1..quoted.len().saturating_sub(1)]);
                    } else {
                        filled.push_str(&text);
                    }
                    rest = &after[close + 2..];
                }
                _ => {
                    filled.push_str("{{");
                    rest = after;
                }
            }
        }
        filled.push_str(rest);
        filled
    }

    /// The placeholders written in the body that are not known.
    pub fn unknown_placeholders(&self) -> Vec<String> {
        let mut unknown = Vec::new();
        let mut rest = self.body.as_str();
        while let Some(open) = rest.find("{{") {
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else { break };
            let name = after[..close].trim();
            if !Self::PLACEHOLDERS.contains(&name) {
                unknown.push(name.to_owned());
            }
            rest = &after[close + 2..];
        }
        unknown
    }
}

/// A URL whose path or query is a credential (Slack, Discord, Teams, Google Chat and
/// Mattermost incoming webhooks): only its scheme and host are ever shown.
#[derive(Clone)]
pub struct SecretUrl(Url);

impl SecretUrl {
    pub fn new(url: Url) -> Self {
        Self(url)
    }

    /// The whole URL, for the request only.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// What may be shown: `https://hooks.slack.com/[redacted]`.
    pub fn shown(&self) -> String {
        format!(
            "{}://{}/[redacted]",
            self.0.scheme(),
            self.0.host_str().unwrap_or("")
        )
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

/// An incoming-webhook chat service: the URL is the credential.
#[derive(Clone, Debug)]
pub struct ChatWebhook {
    pub url: SecretUrl,
}

/// A Matrix room, posted to through the client-server API.
#[derive(Clone, Debug)]
pub struct MatrixChannel {
    pub homeserver: Url,
    pub room_id: String,
    pub access_token: SecretString,
}

/// An ntfy topic on a server (ntfy.sh or a self-hosted one).
#[derive(Clone, Debug)]
pub struct NtfyChannel {
    pub server: Url,
    pub topic: String,
    pub token: Option<SecretString>,
}

/// A Gotify server and an application token.
#[derive(Clone, Debug)]
pub struct GotifyChannel {
    pub server: Url,
    pub token: SecretString,
}

/// A Telegram chat, through the Bot API.
#[derive(Clone, Debug)]
pub struct TelegramChannel {
    pub api_url: Url,
    pub bot_token: SecretString,
    pub chat_id: String,
}

/// A Pushover user or group key, through an application token.
#[derive(Clone, Debug)]
pub struct PushoverChannel {
    pub api_url: Url,
    pub token: SecretString,
    pub user: SecretString,
}

/// A PagerDuty service, through the Events API v2 and an integration's routing key.
#[derive(Clone, Debug)]
pub struct PagerDutyChannel {
    pub api_url: Url,
    pub routing_key: SecretString,
}

/// Opsgenie alerts, through an API integration's key.
#[derive(Clone, Debug)]
pub struct OpsgenieChannel {
    pub api_url: Url,
    pub api_key: SecretString,
}

/// Text messages through a Twilio-compatible HTTP API.
#[derive(Clone, Debug)]
pub struct SmsChannel {
    pub api_url: Url,
    pub account_sid: String,
    pub auth_token: SecretString,
    pub from: String,
    pub to: String,
}

/// Email to operators through an SMTP submission server.
#[derive(Clone, Debug)]
pub struct EmailChannel {
    /// The submission server, read as the mail probes read theirs.
    pub server: MailEndpoint,
    /// The sender, `pharos@example.com` or `pharos <pharos@example.com>`.
    pub from: String,
    pub to: Vec<String>,
}
