//! Reads `[[channels]]`: what every channel shares (events, components, give-up time,
//! timeout, what it depends on) and each kind's own keys.

use crate::channel_model::*;
use crate::reader::{Context, TableReader};
use crate::validate::{
    check_unique, is_bare_address, read_endpoint, read_headers, read_slug, read_url, Protocol,
};
use base64::Engine as _;
use pharos_core::{ComponentId, EventKind};
use secrecy::SecretString;
use std::collections::HashMap;
use std::time::Duration;
use url::Url;

/// Incident events only: for paging services and text messages, where every message costs.
const INCIDENT_EVENTS: [EventKind; 3] = [
    EventKind::IncidentOpened,
    EventKind::IncidentUpdated,
    EventKind::IncidentResolved,
];

pub(crate) fn read_channels(
    cx: &mut Context<'_, '_>,
    root: &mut TableReader<'_, '_>,
    components: &HashMap<ComponentId, ()>,
) -> Vec<Channel> {
    let mut seen = HashMap::new();
    let mut channels = Vec::new();
    for mut table in root.tables(cx, "channels", "channel") {
        let id = read_slug(cx, &mut table, "channel");
        let mut events = Vec::new();
        for (text, span) in table.strings(cx, "events").unwrap_or_default() {
            match EventKind::parse(&text) {
                Some(kind) => events.push(kind),
                None => cx.problems.report(
                    span,
                    format!(
                        "unknown event `{text}`; known: {}",
                        EventKind::ALL.map(EventKind::as_str).join(", ")
                    ),
                ),
            }
        }
        let selected = read_component_list(cx, &mut table, "components", components);
        let depends_on = read_component_list(cx, &mut table, "depends_on", components);
        let give_up_after = table
            .duration(cx, "give_up_after")
            .unwrap_or(Duration::from_secs(24 * 3600));
        let timeout = table
            .duration(cx, "timeout")
            .unwrap_or(Duration::from_secs(10));
        let unhealthy_after_failures = if table.has("unhealthy_after_failures") {
            table
                .integer(cx, "unhealthy_after_failures", 1..1_001)
                .unwrap_or(3) as u32
        } else {
            3
        };
        let unhealthy_after = table
            .duration(cx, "unhealthy_after")
            .unwrap_or(Duration::from_secs(300));
        let kind_text = table.required_string(cx, "type");
        let known_type = kind_text
            .as_ref()
            .is_some_and(|(kind, _)| ChannelKind::TYPES.contains(&kind.as_str()));
        let kind = match kind_text {
            Some((kind, span)) => match read_kind(cx, &mut table, &kind) {
                Some(read) => Some(read),
                None if !known_type => {
                    cx.problems.report(
                        span,
                        format!(
                            "unknown channel type `{kind}`; known: {}",
                            ChannelKind::TYPES.join(", ")
                        ),
                    );
                    None
                }
                None => None,
            },
            None => None,
        };
        if !table.has("events") {
            events = match &kind {
                Some(
                    ChannelKind::PagerDuty(_) | ChannelKind::Opsgenie(_) | ChannelKind::Sms(_),
                ) => INCIDENT_EVENTS.to_vec(),
                _ => EventKind::ALL.to_vec(),
            };
        }
        if known_type {
            table.finish(cx);
        }
        if let (Some((id, span)), Some(kind)) = (id, kind) {
            if check_unique(cx, &mut seen, "channel", &id, span) {
                channels.push(Channel {
                    id,
                    events,
                    components: selected,
                    give_up_after,
                    timeout,
                    depends_on,
                    unhealthy_after_failures,
                    unhealthy_after,
                    kind,
                });
            }
        }
    }
    channels
}

fn read_component_list(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
    components: &HashMap<ComponentId, ()>,
) -> Vec<ComponentId> {
    let mut selected = Vec::new();
    for (text, span) in table.strings(cx, key).unwrap_or_default() {
        let component = ComponentId::new(text);
        if components.contains_key(&component) {
            selected.push(component);
        } else {
            cx.problems.report(
                span,
                format!(
                    "`{key}` of {} refers to unknown component `{component}`",
                    table.name
                ),
            );
        }
    }
    selected
}

/// The kind's own keys; `None` for an unknown type or when a key has a problem (reported).
fn read_kind(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    kind: &str,
) -> Option<ChannelKind> {
    let chat = |cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>| {
        required_url(cx, table, "url").map(|url| ChatWebhook {
            url: SecretUrl::new(url),
        })
    };
    match kind {
        "webhook" => read_webhook(cx, table).map(ChannelKind::Webhook),
        "slack" => chat(cx, table).map(ChannelKind::Slack),
        "discord" => chat(cx, table).map(ChannelKind::Discord),
        "teams" => chat(cx, table).map(ChannelKind::Teams),
        "google_chat" => chat(cx, table).map(ChannelKind::GoogleChat),
        "mattermost" => chat(cx, table).map(ChannelKind::Mattermost),
        "matrix" => {
            let homeserver = required_url(cx, table, "homeserver");
            let room_id = table.required_string(cx, "room_id").and_then(|(room, span)| {
                if room.starts_with('!') && room.contains(':') {
                    Some(room)
                } else {
                    cx.problems.report(
                        span,
                        format!("`room_id` in {} must be a room id such as `!abc123:example.org` (find it in the room's settings)", table.name),
                    );
                    None
                }
            });
            let access_token = secret(cx, table, "access_token");
            Some(ChannelKind::Matrix(MatrixChannel {
                homeserver: homeserver?,
                room_id: room_id?,
                access_token: access_token?,
            }))
        }
        "ntfy" => {
            let server = url_or(cx, table, "server", "https://ntfy.sh/");
            let topic = table
                .required_string(cx, "topic")
                .and_then(|(topic, span)| {
                    let valid = !topic.is_empty()
                        && topic.len() <= 64
                        && topic
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                    if valid {
                        Some(topic)
                    } else {
                        cx.problems.report(
                            span,
                            format!(
                                "`topic` in {} must be 1 to 64 letters, digits, `-` or `_`",
                                table.name
                            ),
                        );
                        None
                    }
                });
            let token = table
                .string(cx, "token")
                .map(|(token, _)| SecretString::from(token));
            Some(ChannelKind::Ntfy(NtfyChannel {
                server: server?,
                topic: topic?,
                token,
            }))
        }
        "gotify" => {
            let server = required_url(cx, table, "server");
            let token = secret(cx, table, "token");
            Some(ChannelKind::Gotify(GotifyChannel {
                server: server?,
                token: token?,
            }))
        }
        "telegram" => {
            let api_url = url_or(cx, table, "api_url", "https://api.telegram.org/");
            let bot_token = secret(cx, table, "bot_token");
            let chat_id = table.required_string(cx, "chat_id").and_then(|(chat, span)| {
                let valid = chat.parse::<i64>().is_ok()
                    || (chat.starts_with('@') && chat.len() > 1);
                if valid {
                    Some(chat)
                } else {
                    cx.problems.report(
                        span,
                        format!("`chat_id` in {} must be a chat's number (e.g. \"-1001234567890\") or a channel's @name", table.name),
                    );
                    None
                }
            });
            Some(ChannelKind::Telegram(TelegramChannel {
                api_url: api_url?,
                bot_token: bot_token?,
                chat_id: chat_id?,
            }))
        }
        "pushover" => {
            let api_url = url_or(cx, table, "api_url", "https://api.pushover.net/");
            let token = secret(cx, table, "token");
            let user = secret(cx, table, "user");
            Some(ChannelKind::Pushover(PushoverChannel {
                api_url: api_url?,
                token: token?,
                user: user?,
            }))
        }
        "pagerduty" => {
            let api_url = url_or(cx, table, "api_url", "https://events.pagerduty.com/");
            let routing_key = secret(cx, table, "routing_key");
            Some(ChannelKind::PagerDuty(PagerDutyChannel {
                api_url: api_url?,
                routing_key: routing_key?,
            }))
        }
        "opsgenie" => {
            let api_url = url_or(cx, table, "api_url", "https://api.opsgenie.com/");
            let api_key = secret(cx, table, "api_key");
            Some(ChannelKind::Opsgenie(OpsgenieChannel {
                api_url: api_url?,
                api_key: api_key?,
            }))
        }
        "sms" => {
            let api_url = url_or(cx, table, "api_url", "https://api.twilio.com/");
            let account_sid = table.required_string(cx, "account_sid").map(|(sid, _)| sid);
            let auth_token = secret(cx, table, "auth_token");
            let from = phone_number(cx, table, "from");
            let to = phone_number(cx, table, "to");
            Some(ChannelKind::Sms(SmsChannel {
                api_url: api_url?,
                account_sid: account_sid?,
                auth_token: auth_token?,
                from: from?,
                to: to?,
            }))
        }
        "email" => read_email(cx, table).map(ChannelKind::Email),
        _ => None,
    }
}

fn read_email(cx: &mut Context<'_, '_>, table: &mut TableReader<'_, '_>) -> Option<EmailChannel> {
    let server = read_endpoint(cx, table, Protocol::Submission);
    if server
        .as_ref()
        .is_some_and(|server| !server.pin_sha256.is_empty())
    {
        cx.problems.report(
            table.span.clone(),
            format!(
                "{} sets `pin_sha256`, which email channels do not support; use `ca_file`",
                table.name
            ),
        );
    }
    let from = address(cx, table, "from");
    let mut to = Vec::new();
    match table.strings(cx, "to") {
        Some(addresses) if !addresses.is_empty() => {
            for (text, span) in addresses {
                if is_address(&text) {
                    to.push(text);
                } else {
                    cx.problems.report(
                        span,
                        format!("`to` in {}: `{text}` is not an email address", table.name),
                    );
                }
            }
        }
        Some(_) => table.missing(cx, "to (at least one address)"),
        None => {
            if !table.has("to") {
                table.missing(cx, "to");
            }
        }
    }
    Some(EmailChannel {
        server: server?,
        from: from?,
        to,
    })
}

fn address(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
) -> Option<String> {
    let (text, span) = table.required_string(cx, key)?;
    if is_address(&text) {
        Some(text)
    } else {
        cx.problems.report(span, format!("`{key}` in {}: `{text}` is not an email address (write `name@example.com` or `Name <name@example.com>`)", table.name));
        None
    }
}

/// `local@domain`, optionally as `Name <local@domain>`.
fn is_address(text: &str) -> bool {
    let address = match (text.find('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => &inner[open + 1..],
        _ => text,
    };
    is_bare_address(address) && !text.chars().any(char::is_control)
}

fn read_webhook(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
) -> Option<WebhookChannel> {
    let url = required_url(cx, table, "url");
    let template = table.string(cx, "template").and_then(|(body, span)| {
        let content_type = table
            .string(cx, "content_type")
            .map(|(text, _)| text)
            .unwrap_or_else(|| "application/json".to_owned());
        let template = WebhookTemplate { body, content_type };
        let unknown = template.unknown_placeholders();
        if !unknown.is_empty() {
            cx.problems.report(
                span,
                format!(
                    "`template` in {} uses unknown placeholders {}; known: {}",
                    table.name,
                    unknown.iter().map(|name| format!("{{{{{name}}}}}")).collect::<Vec<_>>().join(", "),
                    WebhookTemplate::PLACEHOLDERS.join(", ")
                ),
            );
            return None;
        }
        // Filled with awkward text, a JSON template must still be JSON.
        let sample = template.fill(|_| "a \"quoted\" \\ value\nover two lines".to_owned());
        if template.is_json() && serde_json::from_str::<serde_json::Value>(&sample).is_err() {
            cx.problems.report(
                span,
                format!("`template` in {} is not valid JSON once filled in (placeholders go inside JSON strings)", table.name),
            );
            return None;
        }
        Some(template)
    });
    let secret = if table.has("secret") || !table.has("template") {
        match table.required_string(cx, "secret") {
            Some((secret, span)) => {
                let decoded = secret
                    .strip_prefix("whsec_")
                    .and_then(|key| base64::engine::general_purpose::STANDARD.decode(key).ok());
                match decoded {
                    Some(key) if key.len() >= 24 => Some(Some(SecretString::from(secret))),
                    _ => {
                        cx.problems.report(span, "`secret` must be `whsec_` followed by at least 24 base64-encoded bytes (generate one with `pharos config secret`)");
                        None
                    }
                }
            }
            None => None,
        }
    } else {
        Some(None)
    };
    let headers = read_headers(cx, table);
    Some(WebhookChannel {
        url: url?,
        secret: secret?,
        headers,
        template,
    })
}

fn required_url(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
) -> Option<Url> {
    let (text, span) = table.required_string(cx, key)?;
    read_url(cx, &text, span, key)
}

/// An optional URL with the service's public address as default (set it for a
/// self-hosted server, a regional endpoint, or a compatible service).
fn url_or(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
    default: &str,
) -> Option<Url> {
    match table.string(cx, key) {
        Some((text, span)) => read_url(cx, &text, span, key),
        None => Url::parse(default).ok(),
    }
}

fn secret(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
) -> Option<SecretString> {
    let (text, span) = table.required_string(cx, key)?;
    if text.is_empty() || text.chars().any(char::is_control) {
        cx.problems.report(
            span,
            format!(
                "`{key}` in {} must be a non-empty value without control characters",
                table.name
            ),
        );
        return None;
    }
    Some(SecretString::from(text))
}

fn phone_number(
    cx: &mut Context<'_, '_>,
    table: &mut TableReader<'_, '_>,
    key: &'static str,
) -> Option<String> {
    let (number, span) = table.required_string(cx, key)?;
    let digits = number.strip_prefix('+').unwrap_or("");
    if (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Some(number)
    } else {
        cx.problems.report(
            span,
            format!(
                "`{key}` in {} must be a phone number in E.164 form, such as \"+14155550100\"",
                table.name
            ),
        );
        None
    }
}

/// Reads `[[routes]]`: events by kind, component (or group) and least impact, each sent along
/// an ordered chain of configured channels.
pub(crate) fn read_routes(
    cx: &mut Context<'_, '_>,
    root: &mut TableReader<'_, '_>,
    components: &[crate::model::Component],
    channels: &[Channel],
) -> Vec<Route> {
    let mut routes = Vec::new();
    for mut table in root.tables(cx, "routes", "route") {
        let mut events = Vec::new();
        for (text, span) in table.strings(cx, "events").unwrap_or_default() {
            match EventKind::parse(&text) {
                Some(kind) => events.push(kind),
                None => cx.problems.report(
                    span,
                    format!(
                        "unknown event `{text}`; known: {}",
                        EventKind::ALL.map(EventKind::as_str).join(", ")
                    ),
                ),
            }
        }
        if !table.has("events") {
            events = EventKind::ALL.to_vec();
        }
        let known: HashMap<ComponentId, ()> = components
            .iter()
            .map(|component| (component.id.clone(), ()))
            .collect();
        let mut selected = read_component_list(cx, &mut table, "components", &known);
        for (group, span) in table.strings(cx, "groups").unwrap_or_default() {
            let members: Vec<ComponentId> = components
                .iter()
                .filter(|component| component.group.as_deref() == Some(group.as_str()))
                .map(|component| component.id.clone())
                .collect();
            if members.is_empty() {
                cx.problems
                    .report(span, format!("no component is in group `{group}`"));
            }
            selected.extend(members);
        }
        let min_impact = table.string(cx, "min_impact").and_then(|(text, span)| {
            let impact = pharos_core::ComponentStatus::parse(&text)
                .filter(|impact| impact.is_incident());
            if impact.is_none() {
                cx.problems.report(
                    span,
                    format!("`min_impact` must be degraded_performance, partial_outage or major_outage, not `{text}`"),
                );
            }
            impact
        });
        let mut chain = Vec::new();
        match table.strings(cx, "chain") {
            Some(ids) if !ids.is_empty() => {
                for (id, span) in ids {
                    if !channels.iter().any(|channel| channel.id == id) {
                        cx.problems
                            .report(span, format!("route chain names unknown channel `{id}`"));
                    } else if chain.contains(&id) {
                        cx.problems
                            .report(span, format!("route chain names channel `{id}` twice"));
                    } else {
                        chain.push(id);
                    }
                }
            }
            Some(_) => table.missing(cx, "chain (at least one channel)"),
            None => {
                if !table.has("chain") {
                    table.missing(cx, "chain");
                }
            }
        }
        let fallback_after = table
            .duration(cx, "fallback_after")
            .unwrap_or(Duration::from_secs(120));
        table.finish(cx);
        routes.push(Route {
            events,
            components: selected,
            min_impact,
            chain,
            fallback_after,
        });
    }
    routes
}
