//! Maintenance windows in the evaluator: a component inside one shows "under maintenance"
//! (its checks still run and are recorded) and opens no incident; an incident already open
//! when a window begins stays open, untouched, until the window ends and the component's
//! checks speak again. The window's results leave uptime as it goes (every few minutes) and
//! wholly once it ends. Window edges are followed on the loop's periodic tick.

use crate::evaluator::Evaluator;
use crate::CommandError;
use chrono::{DateTime, Utc};
use pharos_core::maintenance::{self, MaintenanceWindow};
use pharos_core::{Event, MaintenanceNews};
use pharos_store::{Batch, MaintenanceChange, MaintenanceNotice, UptimeExclusion};

/// How long before it starts an occurrence is announced.
const NOTICE_AHEAD: chrono::Duration = chrono::Duration::hours(24);
/// How often an occurrence under way leaves the results so far out of uptime.
const LEAVE_UPTIME_EVERY: chrono::Duration = chrono::Duration::minutes(5);
/// How far back each such period reaches before the end of the previous one: results are
/// stamped when their check starts and a slow check (a mail flow) reports minutes later.
const LATE_RESULTS: chrono::Duration = chrono::Duration::minutes(15);

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
        self.announce_maintenance(now, batch);
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
        // Cancelled while under way: readers told it started hear it ended.
        if let Some(occurrence) = window.under_way(now) {
            if self.told(&window.id, occurrence.start, "started")
                && !self.told(&window.id, occurrence.start, "ended")
            {
                self.tell(&window, occurrence.start, now, "ended", now, batch);
            }
        }
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
                let first_failure_at = self.first_failure_of(component);
                self.update_component(component, now, first_failure_at, None, batch);
            }
        }
    }

    fn told(&self, window: &str, start: DateTime<Utc>, stage: &str) -> bool {
        self.notices.contains(&MaintenanceNotice {
            window: window.to_owned(),
            occurrence_start: start,
            stage: stage.to_owned(),
        })
    }

    fn tell(
        &mut self,
        window: &MaintenanceWindow,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        stage: &str,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) {
        let news = MaintenanceNews {
            window: window.id.clone(),
            title: window.title.clone(),
            components: window.components.clone(),
            component_names: window
                .components
                .iter()
                .map(|id| {
                    self.topology.component_index(id).map_or_else(
                        || id.to_string(),
                        |index| self.topology.components[index].name.clone(),
                    )
                })
                .collect(),
            start,
            end,
            message: window.message.clone(),
        };
        let event = match stage {
            "scheduled" => Event::MaintenanceScheduled(news),
            "started" => Event::MaintenanceStarted(news),
            _ => Event::MaintenanceEnded(news),
        };
        tracing::info!(window = %window.id, "{}: {}", event.kind().as_str(), window.title);
        self.announce(event, now, batch);
        let notice = MaintenanceNotice {
            window: window.id.clone(),
            occurrence_start: start,
            stage: stage.to_owned(),
        };
        if stage == "ended" {
            // The checks' results of the window stay on record but leave uptime.
            self.left_uptime_until.remove(&window.id);
            let monitors = self.topology.monitor_ids_of(&window.components);
            batch.uptime_exclusions.push(UptimeExclusion {
                monitors,
                start,
                end: end.min(now),
                reason: format!("maintenance:{}", window.id),
            });
        }
        batch.maintenance_notices.push(notice.clone());
        self.notices.insert(notice);
    }

    /// Leaves the results of an occurrence under way out of uptime every few minutes, so that
    /// today's uptime does not dip for the length of the window (its end covers it whole).
    fn leave_uptime_so_far(
        &mut self,
        window: &MaintenanceWindow,
        start: DateTime<Utc>,
        now: DateTime<Utc>,
        batch: &mut Batch,
    ) {
        let until = match self.left_uptime_until.get(&window.id) {
            Some(&(occurrence, until)) if occurrence == start => until,
            _ => start,
        };
        if now - until < LEAVE_UPTIME_EVERY {
            return;
        }
        batch.uptime_exclusions.push(UptimeExclusion {
            monitors: self.topology.monitor_ids_of(&window.components),
            start: (until - LATE_RESULTS).max(start),
            end: now,
            reason: format!("maintenance:{}", window.id),
        });
        self.left_uptime_until
            .insert(window.id.clone(), (start, now));
    }

    /// Tells readers of each maintenance occurrence once: a day ahead (or when scheduled closer
    /// than that), when it starts and when it ends.
    pub fn announce_maintenance(&mut self, now: DateTime<Utc>, batch: &mut Batch) {
        let windows = self.maintenance_windows();
        for window in &windows {
            // The latest occurrence that started may have ended since the last look.
            let every = window
                .every
                .filter(|every| *every > chrono::Duration::zero());
            let previous = window
                .current_or_next(now)
                .map(|next| match every {
                    Some(every) if !next.is_under_way(now) => next.start - every,
                    _ => next.start,
                })
                .unwrap_or(window.start);
            let previous_end = previous + window.length;
            if previous_end <= now
                && self.told(&window.id, previous, "started")
                && !self.told(&window.id, previous, "ended")
            {
                self.tell(window, previous, previous_end, "ended", now, batch);
            }
            // A one-off window that is over: its last occurrence is its only one.
            if window.current_or_next(now).is_none() {
                let end = window.start + window.length;
                if self.told(&window.id, window.start, "started")
                    && !self.told(&window.id, window.start, "ended")
                {
                    self.tell(window, window.start, end, "ended", now, batch);
                }
                continue;
            }
            let Some(occurrence) = window.current_or_next(now) else {
                continue;
            };
            if occurrence.is_under_way(now) {
                if !self.told(&window.id, occurrence.start, "started") {
                    self.tell(
                        window,
                        occurrence.start,
                        occurrence.end,
                        "started",
                        now,
                        batch,
                    );
                }
                self.leave_uptime_so_far(window, occurrence.start, now, batch);
            } else if occurrence.start - now <= NOTICE_AHEAD
                && !self.told(&window.id, occurrence.start, "scheduled")
            {
                self.tell(
                    window,
                    occurrence.start,
                    occurrence.end,
                    "scheduled",
                    now,
                    batch,
                );
            }
        }
    }
}
