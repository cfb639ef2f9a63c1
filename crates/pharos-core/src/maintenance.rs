//! Maintenance windows: when a component is announced to be under maintenance. A window has
//! a start and a length, and may repeat at a fixed period (every week, say). While one is
//! under way its components show "under maintenance" and open no incident. Pure: the time is
//! passed in.

use crate::ComponentId;
use chrono::{DateTime, Duration, Utc};

/// A scheduled maintenance, as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaintenanceWindow {
    pub id: String,
    pub title: String,
    pub components: Vec<ComponentId>,
    /// The first occurrence's start.
    pub start: DateTime<Utc>,
    pub length: Duration,
    /// Repeats this often after `start`, if at all.
    pub every: Option<Duration>,
    /// What readers are told.
    pub message: Option<String>,
}

/// One occurrence of a window: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Occurrence {
    pub fn is_under_way(&self, now: DateTime<Utc>) -> bool {
        self.start <= now && now < self.end
    }
}

impl MaintenanceWindow {
    /// The occurrence under way at `now`, or else the next one; `None` once a one-off window
    /// is over.
    pub fn current_or_next(&self, now: DateTime<Utc>) -> Option<Occurrence> {
        let occurrence = |start: DateTime<Utc>| Occurrence {
            start,
            end: start + self.length,
        };
        let first = occurrence(self.start);
        if now < first.end {
            return Some(first);
        }
        let every = self.every.filter(|every| *every > Duration::zero())?;
        // The latest start at or before `now`.
        let periods = (now - self.start).num_milliseconds() / every.num_milliseconds();
        let latest = occurrence(self.start + every * periods as i32);
        if latest.is_under_way(now) {
            Some(latest)
        } else {
            Some(occurrence(latest.start + every))
        }
    }

    /// The occurrence under way at `now`, if any.
    pub fn under_way(&self, now: DateTime<Utc>) -> Option<Occurrence> {
        self.current_or_next(now)
            .filter(|occurrence| occurrence.is_under_way(now))
    }

    pub fn covers(&self, component: &ComponentId) -> bool {
        self.components.contains(component)
    }
}

/// Whether `component` is under maintenance at `now` in any of `windows`.
pub fn under_maintenance(
    windows: &[MaintenanceWindow],
    component: &ComponentId,
    now: DateTime<Utc>,
) -> bool {
    windows
        .iter()
        .any(|window| window.covers(component) && window.under_way(now).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(hour: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 1, 4, 0, 0, 0).unwrap() + Duration::hours(hour)
    }

    fn window(every: Option<Duration>) -> MaintenanceWindow {
        MaintenanceWindow {
            id: "upgrade".into(),
            title: "Mail upgrade".into(),
            components: vec![ComponentId::new("mail")],
            start: at(22),
            length: Duration::hours(2),
            every,
            message: None,
        }
    }

    #[test]
    fn a_one_off_window_is_ahead_then_under_way_then_over() {
        let once = window(None);
        assert_eq!(
            once.current_or_next(at(0)),
            Some(Occurrence {
                start: at(22),
                end: at(24)
            })
        );
        assert_eq!(once.under_way(at(21)), None);
        assert!(once.under_way(at(22)).is_some());
        assert!(once.under_way(at(23)).is_some());
        assert_eq!(once.under_way(at(24)), None, "the end is not included");
        assert_eq!(once.current_or_next(at(24)), None);
    }

    #[test]
    fn a_weekly_window_recurs_and_says_when_next() {
        let weekly = window(Some(Duration::days(7)));
        let week = 24 * 7;
        assert!(weekly.under_way(at(22 + 3 * week)).is_some());
        assert!(weekly.under_way(at(23 + 3 * week)).is_some());
        assert_eq!(weekly.under_way(at(24 + 3 * week)), None);
        assert_eq!(
            weekly.current_or_next(at(30 + 3 * week)),
            Some(Occurrence {
                start: at(22 + 4 * week),
                end: at(24 + 4 * week)
            })
        );
        assert!(under_maintenance(
            std::slice::from_ref(&weekly),
            &ComponentId::new("mail"),
            at(22 + week)
        ));
        assert!(!under_maintenance(
            &[weekly],
            &ComponentId::new("web"),
            at(22 + week)
        ));
    }
}
