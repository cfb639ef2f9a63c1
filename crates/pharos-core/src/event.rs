//! The kinds of events pharos notifies about.

use serde::{Deserialize, Serialize};

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
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::IncidentOpened,
        EventKind::IncidentUpdated,
        EventKind::IncidentResolved,
        EventKind::ComponentStatusChanged,
        EventKind::IncidentUpdateOverdue,
        EventKind::PharosDegraded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::IncidentOpened => "incident.opened",
            EventKind::IncidentUpdated => "incident.updated",
            EventKind::IncidentResolved => "incident.resolved",
            EventKind::ComponentStatusChanged => "component.status_changed",
            EventKind::IncidentUpdateOverdue => "incident.update_overdue",
            EventKind::PharosDegraded => "pharos.degraded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}
