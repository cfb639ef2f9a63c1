//! Maintenance windows in the evaluator: a component inside one shows "under maintenance"
//! (its checks still run and are recorded) and opens no incident; an incident already open
//! when a window begins stays open, untouched, until the window ends and the component's
//! checks speak again. Window edges are followed on the loop's periodic tick.

use crate::evaluator::Evaluator;
use crate::CommandError;
use chrono::{DateTime, Utc};
use pharos_core::maintenance::{self, MaintenanceWindow};
use pharos_store::{Batch, MaintenanceChange};

impl Evaluator {
    /// Whether `component` is inside a maintenance window at `at` (configured or scheduled).
    pub(crate) fn under_maintenance(&self, component: usize, at: DateTime<Utc>) -> bool {
        let id = &self.topology.components[component].id;
        maintenance::under_maintenance(&self.topology.maintenance, id, at)
            || maintenance::under_maintenance(&self.scheduled, id, at)
    }

    /// Every maintenance window: the configuration's, then those scheduled at run time.
    pub fn maintenance_windows(&self) -> Vec<MaintenanceWindow> {
        self.topology
            .maintenance
            .iter()
            .chain(&self.scheduled)
            .cloned()
            .collect()
    }

    /// Schedules a window at run time; its components follow it from now on.
    pub fn schedule_maintenance(
        &mut self,
        window: MaintenanceWindow,
        by: &str,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<MaintenanceWindow, CommandError> {
        let invalid = |why: String| Err(CommandError::Invalid(why));
        if self
            .maintenance_windows()
            .iter()
            .any(|known| known.id == window.id)
        {
            return invalid(format!("a maintenance window `{}` exists", window.id));
        }
        if window.components.is_empty() {
            return invalid("a maintenance window needs at least one component".into());
        }
        if let Some(unknown) = window
            .components
            .iter()
            .find(|id| self.topology.component_index(id).is_none())
        {
            return invalid(format!("there is no component `{unknown}`"));
        }
        if window.length <= chrono::Duration::zero() {
            return invalid("a maintenance window must last longer than nothing".into());
        }
        if window.every.is_some_and(|every| every < window.length) {
            return invalid("a repeating window cannot repeat more often than it lasts".into());
        }
        if window.current_or_next(now).is_none() {
            return invalid("that window is over already".into());
        }
        tracing::info!(window = %window.id, by, "maintenance scheduled: {}", window.title);
        batch.maintenance.push(MaintenanceChange::Scheduled {
            window: window.clone(),
            by: by.to_owned(),
            at: now,
        });
        self.scheduled.push(window.clone());
        self.follow_maintenance(now, batch);
        Ok(window)
    }

    /// Cancels a window scheduled at run time (the configuration's change with the file).
    pub fn cancel_maintenance(
        &mut self,
        id: &str,
        by: &str,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) -> Result<MaintenanceWindow, CommandError> {
        let Some(index) = self.scheduled.iter().position(|window| window.id == id) else {
            let why = if self
                .topology
                .maintenance
                .iter()
                .any(|window| window.id == id)
            {
                format!("maintenance window `{id}` is in the configuration file: remove it there")
            } else {
                format!("there is no scheduled maintenance window `{id}`")
            };
            return Err(CommandError::Refused(why));
        };
        let window = self.scheduled.remove(index);
        tracing::info!(window = %window.id, by, "maintenance cancelled: {}", window.title);
        batch.maintenance.push(MaintenanceChange::Cancelled {
            id: id.to_owned(),
            at: now,
        });
        self.follow_maintenance(now, batch);
        Ok(window)
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
