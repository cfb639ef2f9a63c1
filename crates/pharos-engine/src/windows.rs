//! Maintenance windows in the evaluator: a component inside one shows "under maintenance"
//! (its checks still run and are recorded) and opens no incident; an incident already open
//! when a window begins stays open, untouched, until the window ends and the component's
//! checks speak again. Window edges are followed on the loop's periodic tick.

use crate::evaluator::Evaluator;
use chrono::{DateTime, Utc};
use pharos_core::maintenance;
use pharos_store::Batch;

impl Evaluator {
    /// Whether `component` is inside a maintenance window at `at`.
    pub(crate) fn under_maintenance(&self, component: usize, at: DateTime<Utc>) -> bool {
        maintenance::under_maintenance(
            &self.topology.maintenance,
            &self.topology.components[component].id,
            at,
        )
    }

    /// Re-derives the components whose maintenance began or ended since the last look.
    pub fn follow_maintenance(&mut self, now: DateTime<Utc>, batch: &mut Batch) {
        for component in 0..self.topology.components.len() {
            if self.under_maintenance(component, now) != self.in_maintenance[component] {
                tracing::info!(
                    component = %self.topology.components[component].id,
                    "maintenance {}",
                    if self.in_maintenance[component] { "ended" } else { "began" }
                );
                // A failure that began inside the window began when it began.
                let first_failure_at = self.topology.components[component]
                    .monitors
                    .iter()
                    .filter_map(|&monitor| self.health[monitor].first_failure_at)
                    .min();
                self.update_component(component, now, first_failure_at, None, batch);
            }
        }
    }
}
