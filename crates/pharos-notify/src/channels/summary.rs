//! What a person needs to read about an event, whatever the service: a title, how bad it
//! is, the latest word, the checks that fail and a link. Each human-facing channel lays
//! this out in its own format.

use crate::channel::EventContext;
use chrono::{DateTime, Utc};
use pharos_core::{ComponentStatus, Event, EventKind, IncidentPhase, MonitorState, ProbeStatus};

/// How an event reads at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    /// Something is broken (the colour follows the impact).
    Problem(ComponentStatus),
    /// It works again.
    Recovered,
    /// Worth knowing, nothing broken for users (an overdue update, pharos's own fault).
    Notice,
}

impl Tone {
    /// A colour as `#rrggbb`, the same as the status page's.
    pub(crate) fn colour(self) -> &'static str {
        match self {
            Tone::Problem(ComponentStatus::MajorOutage) => "#c53030",
            Tone::Problem(ComponentStatus::PartialOutage) => "#dd6b20",
            Tone::Problem(ComponentStatus::UnderMaintenance) => "#3182ce",
            Tone::Problem(_) => "#d69e2e",
            Tone::Recovered => "#1f9d55",
            Tone::Notice => "#3182ce",
        }
    }

    /// The colour as a number (Discord's embeds).
    pub(crate) fn colour_number(self) -> u32 {
        u32::from_str_radix(self.colour().trim_start_matches('#'), 16).unwrap_or(0)
    }

    pub(crate) fn is_major(self) -> bool {
        matches!(self, Tone::Problem(ComponentStatus::MajorOutage))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Summary {
    pub(crate) kind: EventKind,
    /// "Mail submission: major outage".
    pub(crate) title: String,
    /// Where the incident stands: "Investigating", "Resolved", "Update overdue".
    pub(crate) state: String,
    pub(crate) tone: Tone,
    /// The current impact, when the event is about a component.
    pub(crate) impact: Option<ComponentStatus>,
    pub(crate) component: Option<String>,
    /// The latest word to readers.
    pub(crate) message: Option<String>,
    /// Checks that are not up, each "name: reason".
    pub(crate) failing: Vec<String>,
    pub(crate) link: Option<String>,
    /// One key per incident (or component, or pharos itself), for services that group or
    /// close alerts by key.
    pub(crate) key: String,
    pub(crate) at: DateTime<Utc>,
}

impl Summary {
    pub(crate) fn of(event: &Event, context: &EventContext, at: DateTime<Utc>) -> Self {
        match event {
            Event::IncidentOpened(news)
            | Event::IncidentUpdated(news)
            | Event::IncidentResolved(news)
            | Event::IncidentUpdateOverdue(news) => {
                let incident = &news.incident;
                let overdue = matches!(event, Event::IncidentUpdateOverdue(_));
                let tone = if incident.phase == IncidentPhase::Resolved {
                    Tone::Recovered
                } else if overdue {
                    Tone::Notice
                } else {
                    Tone::Problem(incident.impact)
                };
                Self {
                    kind: event.kind(),
                    title: incident.title.clone(),
                    state: if overdue {
                        "Update overdue".to_owned()
                    } else {
                        incident.phase.label().to_owned()
                    },
                    tone,
                    impact: Some(incident.impact),
                    component: Some(news.component_name.clone()),
                    message: incident.updates.last().map(|update| {
                        match incident.promise_sentence() {
                            Some(promise) => format!("{} {promise}", update.message),
                            None => update.message.clone(),
                        }
                    }),
                    failing: failing(&news.monitors),
                    link: context.link(&format!("incidents/{}", incident.id)),
                    key: format!("pharos-incident-{}", incident.id),
                    at,
                }
            }
            Event::ComponentStatusChanged(news) => Self {
                kind: event.kind(),
                title: format!("{}: {}", news.component_name, news.status.label()),
                state: format!("{} → {}", news.previous.label(), news.status.label()),
                tone: if news.status.is_incident() {
                    Tone::Problem(news.status)
                } else {
                    Tone::Recovered
                },
                impact: Some(news.status),
                component: Some(news.component_name.clone()),
                message: None,
                failing: failing(&news.monitors),
                link: context.link(""),
                key: format!("pharos-component-{}", news.component),
                at,
            },
            Event::PharosDegraded(fault) => Self {
                kind: event.kind(),
                title: "pharos cannot run some checks".to_owned(),
                state: "pharos degraded".to_owned(),
                tone: Tone::Notice,
                impact: None,
                component: None,
                message: Some(fault.reason.clone()),
                failing: vec![format!("{}: {}", fault.monitor.name, fault.reason)],
                link: context.link(""),
                key: "pharos-self".to_owned(),
                at,
            },
            Event::AgentSilent(news) | Event::AgentBack(news) => {
                let back = matches!(event, Event::AgentBack(_));
                Self {
                    kind: event.kind(),
                    title: if back {
                        format!(
                            "Probe agent {} in {} reports again",
                            news.agent, news.region
                        )
                    } else {
                        format!("Probe agent {} in {} is silent", news.agent, news.region)
                    },
                    state: if back { "agent back" } else { "agent silent" }.to_owned(),
                    tone: if back { Tone::Recovered } else { Tone::Notice },
                    impact: None,
                    component: None,
                    message: Some(if back {
                        format!(
                            "Checks from {} count again ({} monitors).",
                            news.region, news.monitors
                        )
                    } else {
                        format!(
                            "Nothing heard since {}; checks from {} ({} monitors) do not count until it is back. This is not an outage of any service.",
                            news.last_seen.format("%Y-%m-%d %H:%M:%S UTC"),
                            news.region,
                            news.monitors
                        )
                    }),
                    failing: Vec::new(),
                    link: None,
                    key: format!("pharos-agent-{}", news.region),
                    at,
                }
            }
            Event::ChannelUnhealthy(news) | Event::ChannelRecovered(news) => {
                let recovered = matches!(event, Event::ChannelRecovered(_));
                Self {
                    kind: event.kind(),
                    title: if recovered {
                        format!(
                            "Notification channel {} ({}) delivers again",
                            news.channel, news.kind
                        )
                    } else {
                        format!(
                            "Notification channel {} ({}) keeps failing",
                            news.channel, news.kind
                        )
                    },
                    state: if recovered {
                        "channel recovered"
                    } else {
                        "channel unhealthy"
                    }
                    .to_owned(),
                    tone: if recovered {
                        Tone::Recovered
                    } else {
                        Tone::Notice
                    },
                    impact: None,
                    component: None,
                    message: Some(if recovered {
                        format!("Delivered again after {} failed attempts.", news.failures)
                    } else {
                        format!(
                            "{} failed attempts in a row since {}; the last: {}",
                            news.failures,
                            news.since.format("%Y-%m-%d %H:%M:%S UTC"),
                            news.reason
                        )
                    }),
                    failing: Vec::new(),
                    link: None,
                    key: format!("pharos-channel-{}", news.channel),
                    at,
                }
            }
            Event::MaintenanceScheduled(news)
            | Event::MaintenanceStarted(news)
            | Event::MaintenanceEnded(news) => {
                let when = |at: DateTime<Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
                let (state, said) = match event {
                    Event::MaintenanceScheduled(_) => (
                        "Scheduled maintenance",
                        format!("Scheduled from {} to {}.", when(news.start), when(news.end)),
                    ),
                    Event::MaintenanceStarted(_) => (
                        "Maintenance in progress",
                        format!("Under way until {}.", when(news.end)),
                    ),
                    _ => (
                        "Maintenance completed",
                        "The maintenance is over.".to_owned(),
                    ),
                };
                Self {
                    kind: event.kind(),
                    title: format!("Maintenance: {}", news.title),
                    state: state.to_owned(),
                    tone: if matches!(event, Event::MaintenanceEnded(_)) {
                        Tone::Recovered
                    } else {
                        Tone::Notice
                    },
                    impact: None,
                    component: Some(news.component_names.join(", ")),
                    message: Some(match &news.message {
                        Some(message) => format!("{said} {message}"),
                        None => said,
                    }),
                    failing: Vec::new(),
                    link: context.link(""),
                    key: format!(
                        "pharos-maintenance-{}-{}",
                        news.window,
                        news.start.timestamp()
                    ),
                    at,
                }
            }
        }
    }

    /// Whether the event ends what it is about (an incident resolved, a component back).
    pub(crate) fn is_recovery(&self) -> bool {
        self.tone == Tone::Recovered
    }

    /// Impact, component and state as `label: value` pairs.
    pub(crate) fn facts(&self) -> Vec<(&'static str, String)> {
        let mut facts = vec![("Status", self.state.clone())];
        if let Some(impact) = self.impact {
            facts.push(("Impact", impact.label().to_owned()));
        }
        if let Some(component) = &self.component {
            facts.push(("Component", component.clone()));
        }
        facts
    }

    /// The summary as plain text lines: message, failing checks, link.
    pub(crate) fn plain_text(&self) -> String {
        let mut lines = vec![format!("{} · {}", self.state, impact_or_notice(self))];
        if let Some(message) = &self.message {
            lines.push(message.clone());
        }
        for check in &self.failing {
            lines.push(format!("- {check}"));
        }
        if let Some(link) = &self.link {
            lines.push(link.clone());
        }
        lines.join("\n")
    }

    /// A one-line form for text messages, at most `limit` characters (cut on a character
    /// boundary with an ellipsis): the state, the component (or the title when there is no
    /// latest word), the latest word (with its expected recovery time) and the link.
    pub(crate) fn one_line(&self, limit: usize) -> String {
        let mut text = match (&self.message, &self.component) {
            (Some(message), Some(component)) => {
                format!("[{}] {component}: {message}", self.state)
            }
            (Some(message), None) => format!("[{}] {}: {message}", self.state, self.title),
            (None, _) => format!("[{}] {}", self.state, self.title),
        };
        if let Some(impact) = self.impact.filter(|impact| impact.is_incident()) {
            text = text.replacen("] ", &format!(", {}] ", impact.label().to_lowercase()), 1);
        }
        let link = self.link.as_deref().map(|link| format!(" {link}"));
        let room = limit.saturating_sub(link.as_ref().map_or(0, |link| link.chars().count()));
        let mut text = truncate(&text, room);
        if let Some(link) = link {
            if text.chars().count() + link.chars().count() <= limit {
                text.push_str(&link);
            }
        }
        text
    }
}

fn impact_or_notice(summary: &Summary) -> &'static str {
    match summary.impact {
        Some(impact) => impact.label(),
        None => "notice",
    }
}

fn failing(monitors: &[MonitorState]) -> Vec<String> {
    monitors
        .iter()
        .filter(|monitor| monitor.status != ProbeStatus::Up)
        .map(|monitor| match &monitor.reason {
            Some(reason) => format!("{}: {reason}", monitor.name),
            None => format!("{}: {}", monitor.name, monitor.status.as_str()),
        })
        .collect()
}

/// At most `limit` characters, an ellipsis marking a cut.
pub(crate) fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Text for HTML-speaking services (Telegram, Matrix, Pushover, Google Chat): `<`, `>`, `&`
/// and quotes escaped.
pub fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("short", 10), "short");
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<b>\"a\" & b</b>"),
            "&lt;b&gt;&quot;a&quot; &amp; b&lt;/b&gt;"
        );
    }
}
