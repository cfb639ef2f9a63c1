//! Reads `[subscribers]`: whether readers may subscribe to incidents and maintenance, and the
//! email channel whose server and sender mail them.

use crate::reader::{Context, TableReader};
use crate::{Channel, ChannelKind, EmailChannel};
use std::time::Duration;

/// Subscriptions are on when `[subscribers]` is present.
#[derive(Clone, Debug)]
pub struct SubscribersConfig {
    /// The email channel subscribers are mailed through (its server and `from`); without
    /// one, only webhook subscriptions (through the admin API) are taken.
    pub email: Option<(String, EmailChannel, Duration)>,
}

pub(crate) fn read_subscribers(
    cx: &mut Context<'_, '_>,
    root: &mut TableReader<'_, '_>,
    channels: &[Channel],
    has_public_url: bool,
) -> Option<SubscribersConfig> {
    let mut table = root.table(cx, "subscribers", "[subscribers]")?;
    let mut config = SubscribersConfig { email: None };
    if let Some((id, span)) = table.string(cx, "email_channel") {
        match channels.iter().find(|channel| channel.id == id) {
            Some(Channel {
                kind: ChannelKind::Email(account),
                timeout,
                ..
            }) => {
                if !has_public_url {
                    cx.problems.report(
                        span.clone(),
                        "mailing subscribers needs `public_url` in [server]: their confirmation and unsubscribe links point there",
                    );
                }
                config.email = Some((id, account.clone(), *timeout))
            }
            Some(_) => cx.problems.report(
                span,
                format!("`email_channel` in [subscribers] must name an email channel; `{id}` is not one"),
            ),
            None => cx.problems.report(
                span,
                format!("`email_channel` in [subscribers] names no channel: there is no channel `{id}`"),
            ),
        }
    }
    table.finish(cx);
    Some(config)
}
