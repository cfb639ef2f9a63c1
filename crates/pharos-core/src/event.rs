//! What pharos notifies about: a closed set of events, each carrying its data. Channels turn
//! an event into their own wire format; nothing else does.

use crate::ids::{ComponentId, MonitorId};
use crate::incident::Incident;
use crate::status::{ComponentStatus, ProbeStatus};
use serde::{Deserialize, Serialize};

/// One notification-worthy change.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    IncidentOpened(IncidentNews),
    IncidentUpdated(IncidentNews),
    IncidentResolved(IncidentNews),
    /// Operators owe readers an update.
    IncidentUpdateOverdue(IncidentNews),
    ComponentStatusChanged(ComponentNews),
    /// pharos itself could not run a check (its own resources).
    PharosDegraded(SelfFault),
    /// A notification channel keeps failing; told through the other channels.
    ChannelUnhealthy(ChannelNews),
    /// A channel that was unhealthy delivered again.
    ChannelRecovered(ChannelNews),
    /// A region's probe agent stopped reporting: its region does not vote until it is back.
    AgentSilent(AgentNews),
    /// A silent region's agent reports again.
    AgentBack(AgentNews),
    /// A maintenance window's occurrence is coming (announced a day ahead, or when scheduled
    /// closer than that).
    MaintenanceScheduled(MaintenanceNews),
    /// A maintenance window's occurrence began.
    MaintenanceStarted(MaintenanceNews),
    /// A maintenance window's occurrence ended (or was cancelled while under way).
    MaintenanceEnded(MaintenanceNews),
}

/// One occurrence of a maintenance window, as readers are told of it.
#[derive(Clone, Debug, PartialEq)]
pub struct MaintenanceNews {
    pub window: String,
    pub title: String,
    pub components: Vec<ComponentId>,
    pub component_names: Vec<String>,
    pub start: chrono::DateTime<chrono::Utc>,
    pub end: chrono::DateTime<chrono::Utc>,
    pub message: Option<String>,
}

/// A region's probe agent, as operators are told of it.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentNews {
    pub region: String,
    /// The agent last heard from in that region.
    pub agent: String,
    /// When it was last heard from (for `AgentBack`, before it went silent).
    pub last_seen: chrono::DateTime<chrono::Utc>,
    /// The monitors whose checks from that region stopped (or resume).
    pub monitors: usize,
}

/// A notification channel's health, as operators are told of it.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelNews {
    pub channel: String,
    /// Its `type` in the configuration (slack, email…).
    pub kind: String,
    /// Failed attempts in a row.
    pub failures: u32,
    /// When the run of failures began.
    pub since: chrono::DateTime<chrono::Utc>,
    /// The last failure's reason (for a recovery, the one before it delivered).
    pub reason: String,
}

/// An incident as it stands, with the checks behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentNews {
    pub incident: Incident,
    pub component_name: String,
    pub monitors: Vec<MonitorState>,
    /// The names of `incident.dependents`, in the same order.
    pub dependent_names: Vec<String>,
    /// Why the joined components are affected, in a sentence, when any are.
    pub root_cause: Option<String>,
}

/// A component's move from one status to another, with the checks behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct ComponentNews {
    pub component: ComponentId,
    pub component_name: String,
    pub previous: ComponentStatus,
    pub status: ComponentStatus,
    pub monitors: Vec<MonitorState>,
}

/// What pharos could not do, and for which check.
#[derive(Clone, Debug, PartialEq)]
pub struct SelfFault {
    pub reason: String,
    pub monitor: MonitorState,
}

/// One check of a component as an event reports it: so a receiver can tell which broke.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorState {
    pub id: MonitorId,
    pub name: String,
    /// Its confirmed status.
    pub status: ProbeStatus,
    /// Why its latest run was not up, if it was not.
    pub reason: Option<String>,
    /// Where it was checked from.
    pub region: String,
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::IncidentOpened(_) => EventKind::IncidentOpened,
            Event::IncidentUpdated(_) => EventKind::IncidentUpdated,
            Event::IncidentResolved(_) => EventKind::IncidentResolved,
            Event::IncidentUpdateOverdue(_) => EventKind::IncidentUpdateOverdue,
            Event::ComponentStatusChanged(_) => EventKind::ComponentStatusChanged,
            Event::PharosDegraded(_) => EventKind::PharosDegraded,
            Event::ChannelUnhealthy(_) => EventKind::ChannelUnhealthy,
            Event::ChannelRecovered(_) => EventKind::ChannelRecovered,
            Event::AgentSilent(_) => EventKind::AgentSilent,
            Event::AgentBack(_) => EventKind::AgentBack,
            Event::MaintenanceScheduled(_) => EventKind::MaintenanceScheduled,
            Event::MaintenanceStarted(_) => EventKind::MaintenanceStarted,
            Event::MaintenanceEnded(_) => EventKind::MaintenanceEnded,
        }
    }

    /// The component the event is about, if any.
    pub fn component(&self) -> Option<&ComponentId> {
        match self {
            Event::IncidentOpened(news)
            | Event::IncidentUpdated(news)
            | Event::IncidentResolved(news)
            | Event::IncidentUpdateOverdue(news) => Some(&news.incident.component),
            Event::ComponentStatusChanged(news) => Some(&news.component),
            Event::MaintenanceScheduled(news)
            | Event::MaintenanceStarted(news)
            | Event::MaintenanceEnded(news) => news.components.first(),
            Event::PharosDegraded(_)
            | Event::ChannelUnhealthy(_)
            | Event::ChannelRecovered(_)
            | Event::AgentSilent(_)
            | Event::AgentBack(_) => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "incident.opened")]
    IncidentOpened,
    #[serde(rename = "incident.updated")]
    IncidentUpdated,
    #[serde(rename = "incident.resolved")]
    IncidentResolved,
    #[serde(rename = "component.status_changed")]
    ComponentStatusChanged,
    #[serde(rename = "incident.update_overdue")]
    IncidentUpdateOverdue,
    /// pharos itself cannot run checks (its own resources); for operators, not subscribers.
    #[serde(rename = "pharos.degraded")]
    PharosDegraded,
    /// A notification channel keeps failing; for operators.
    #[serde(rename = "channel.unhealthy")]
    ChannelUnhealthy,
    /// An unhealthy channel delivers again; for operators.
    #[serde(rename = "channel.recovered")]
    ChannelRecovered,
    /// A region's probe agent stopped reporting; for operators.
    #[serde(rename = "agent.silent")]
    AgentSilent,
    /// A silent agent reports again; for operators.
    #[serde(rename = "agent.back")]
    AgentBack,
    #[serde(rename = "maintenance.scheduled")]
    MaintenanceScheduled,
    #[serde(rename = "maintenance.started")]
    MaintenanceStarted,
    #[serde(rename = "maintenance.ended")]
    MaintenanceEnded,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        EventKind::IncidentOpened,
        EventKind::IncidentUpdated,
        EventKind::IncidentResolved,
        EventKind::ComponentStatusChanged,
        EventKind::IncidentUpdateOverdue,
        EventKind::PharosDegraded,
        EventKind::ChannelUnhealthy,
        EventKind::ChannelRecovered,
        EventKind::AgentSilent,
        EventKind::AgentBack,
        EventKind::MaintenanceScheduled,
        EventKind::MaintenanceStarted,
        EventKind::MaintenanceEnded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::IncidentOpened => "incident.opened",
            EventKind::IncidentUpdated => "incident.updated",
            EventKind::IncidentResolved => "incident.resolved",
            EventKind::ComponentStatusChanged => "component.status_changed",
            EventKind::IncidentUpdateOverdue => "incident.update_overdue",
            EventKind::PharosDegraded => "pharos.degraded",
            EventKind::ChannelUnhealthy => "channel.unhealthy",
            EventKind::ChannelRecovered => "channel.recovered",
            EventKind::AgentSilent => "agent.silent",
            EventKind::AgentBack => "agent.back",
            EventKind::MaintenanceScheduled => "maintenance.scheduled",
            EventKind::MaintenanceStarted => "maintenance.started",
            EventKind::MaintenanceEnded => "maintenance.ended",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}
