//! The two status scales: what one probe saw, and what a component shows its users.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What a probe (or a monitor's confirmed health) says about its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProbeStatus {
    Up,
    Degraded,
    Down,
    /// pharos could not run the check (its own fault: out of file descriptors, no local
    /// address). Says nothing about the target and never counts toward an outage.
    Unknown,
}

impl ProbeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeStatus::Up => "up",
            ProbeStatus::Degraded => "degraded",
            ProbeStatus::Down => "down",
            ProbeStatus::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "up" => Some(ProbeStatus::Up),
            "degraded" => Some(ProbeStatus::Degraded),
            "down" => Some(ProbeStatus::Down),
            "unknown" => Some(ProbeStatus::Unknown),
            _ => None,
        }
    }
}

impl fmt::Display for ProbeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status a component shows on the status page, ordered from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentStatus {
    Operational,
    UnderMaintenance,
    DegradedPerformance,
    PartialOutage,
    MajorOutage,
}

impl ComponentStatus {
    pub const ALL: [ComponentStatus; 5] = [
        ComponentStatus::Operational,
        ComponentStatus::UnderMaintenance,
        ComponentStatus::DegradedPerformance,
        ComponentStatus::PartialOutage,
        ComponentStatus::MajorOutage,
    ];

    /// The machine name used in the API, the store and CSS classes.
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "operational",
            ComponentStatus::UnderMaintenance => "under_maintenance",
            ComponentStatus::DegradedPerformance => "degraded_performance",
            ComponentStatus::PartialOutage => "partial_outage",
            ComponentStatus::MajorOutage => "major_outage",
        }
    }

    /// The words shown to people.
    pub fn label(self) -> &'static str {
        match self {
            ComponentStatus::Operational => "Operational",
            ComponentStatus::UnderMaintenance => "Under maintenance",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial outage",
            ComponentStatus::MajorOutage => "Major outage",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Whether users are affected (maintenance is announced, so it is not an incident).
    pub fn is_incident(self) -> bool {
        matches!(
            self,
            ComponentStatus::DegradedPerformance
                | ComponentStatus::PartialOutage
                | ComponentStatus::MajorOutage
        )
    }
}

impl fmt::Display for ComponentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_status_names_round_trip() {
        for status in ComponentStatus::ALL {
            assert_eq!(ComponentStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ComponentStatus::parse("fine"), None);
    }

    #[test]
    fn worse_statuses_order_higher() {
        assert!(ComponentStatus::MajorOutage > ComponentStatus::PartialOutage);
        assert!(ComponentStatus::PartialOutage > ComponentStatus::DegradedPerformance);
        assert!(ProbeStatus::Down > ProbeStatus::Degraded);
    }
}
