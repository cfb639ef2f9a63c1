//! A component's status, derived from the confirmed health of its monitors.

use crate::status::{ComponentStatus, ProbeStatus};

/// Derives the status a component shows from its monitors' confirmed statuses: all down is a
/// major outage, some down a partial one, any degraded is degraded performance.
pub fn derive_component_status(
    monitors: impl IntoIterator<Item = ProbeStatus>,
    under_maintenance: bool,
) -> ComponentStatus {
    derive_regional_component_status(
        monitors.into_iter().map(|status| (status, false)),
        under_maintenance,
    )
}

/// Like `derive_component_status`, for monitors checked from several regions: each monitor's
/// status comes with whether some region sees it down (below the quorum, so the monitor is
/// degraded), which makes the component's outage partial rather than a mere slowdown.
pub fn derive_regional_component_status(
    monitors: impl IntoIterator<Item = (ProbeStatus, bool)>,
    under_maintenance: bool,
) -> ComponentStatus {
    if under_maintenance {
        return ComponentStatus::UnderMaintenance;
    }
    let (mut total, mut down, mut degraded, mut down_somewhere) = (0usize, 0usize, 0usize, 0usize);
    for (status, down_in_a_region) in monitors {
        total += 1;
        match status {
            ProbeStatus::Down => down += 1,
            ProbeStatus::Degraded if down_in_a_region => down_somewhere += 1,
            ProbeStatus::Degraded => degraded += 1,
            ProbeStatus::Up | ProbeStatus::Unknown => {}
        }
    }
    if total > 0 && down == total {
        ComponentStatus::MajorOutage
    } else if down > 0 || down_somewhere > 0 {
        ComponentStatus::PartialOutage
    } else if degraded > 0 {
        ComponentStatus::DegradedPerformance
    } else {
        ComponentStatus::Operational
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProbeStatus::{Degraded, Down, Up};

    #[test]
    fn derivation_covers_each_status() {
        assert_eq!(
            derive_component_status([], false),
            ComponentStatus::Operational
        );
        assert_eq!(
            derive_component_status([Up, Up], false),
            ComponentStatus::Operational
        );
        assert_eq!(
            derive_component_status([Up, Degraded], false),
            ComponentStatus::DegradedPerformance
        );
        assert_eq!(
            derive_component_status([Up, Down], false),
            ComponentStatus::PartialOutage
        );
        assert_eq!(
            derive_component_status([Down, Down], false),
            ComponentStatus::MajorOutage
        );
        assert_eq!(
            derive_component_status([Down], true),
            ComponentStatus::UnderMaintenance
        );
    }

    #[test]
    fn a_monitor_down_in_some_regions_is_a_partial_outage() {
        assert_eq!(
            derive_regional_component_status([(Degraded, true)], false),
            ComponentStatus::PartialOutage
        );
        assert_eq!(
            derive_regional_component_status([(Degraded, false), (Up, false)], false),
            ComponentStatus::DegradedPerformance
        );
    }
}
