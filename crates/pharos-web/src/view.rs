//! The view model: everything a page, feed or API answer shows, gathered once per render
//! from the engine's live state and the store.

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use pharos_config::Config;
use pharos_core::uptime::ResultCounts;
use pharos_core::{ComponentId, ComponentStatus, Incident, ProbeStatus};
use pharos_engine::LiveState;
use pharos_store::{DailyCounts, Rollup};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const HISTORY_DAYS: i64 = 90;

pub(crate) struct StatusView {
    pub(crate) title: String,
    pub(crate) description: Option<String>,
    pub(crate) public_url: Option<String>,
    pub(crate) overall: ComponentStatus,
    /// No component has a check result yet.
    pub(crate) pending: bool,
    pub(crate) groups: Vec<GroupView>,
    pub(crate) active: Vec<Incident>,
    /// Resolved incidents of the history window, newest first.
    pub(crate) resolved: Vec<Incident>,
    pub(crate) component_names: HashMap<ComponentId, String>,
    pub(crate) generated_at: DateTime<Utc>,
    /// False while closed days are still being read after a start.
    pub(crate) history_complete: bool,
    /// Set while the store refuses writes: the page may be stale since then.
    pub(crate) stale_since: Option<pharos_engine::StoreFault>,
    /// Maintenance under way or starting within `MAINTENANCE_AHEAD_DAYS`, soonest first.
    pub(crate) maintenance: Vec<MaintenanceView>,
    /// Postmortems written for the incidents shown, by incident id.
    pub(crate) postmortems: HashMap<i64, pharos_store::Postmortem>,
    /// Whether readers may subscribe by email here.
    pub(crate) subscriptions: bool,
}

/// How far ahead scheduled maintenance is announced.
pub(crate) const MAINTENANCE_AHEAD_DAYS: i64 = 14;

/// One occurrence of a maintenance window, as readers see it.
pub(crate) struct MaintenanceView {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) message: Option<String>,
    pub(crate) components: Vec<ComponentId>,
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
    pub(crate) under_way: bool,
}

/// The occurrences of `windows` under way at `now` or starting within the announcement
/// horizon, soonest first.
fn maintenance_views(
    windows: &[pharos_core::maintenance::MaintenanceWindow],
    now: DateTime<Utc>,
) -> Vec<MaintenanceView> {
    let horizon = now + ChronoDuration::days(MAINTENANCE_AHEAD_DAYS);
    let mut views: Vec<MaintenanceView> = windows
        .iter()
        .filter_map(|window| {
            let occurrence = window.current_or_next(now)?;
            (occurrence.start <= horizon).then(|| MaintenanceView {
                id: window.id.clone(),
                title: window.title.clone(),
                message: window.message.clone(),
                components: window.components.clone(),
                start: occurrence.start,
                end: occurrence.end,
                under_way: occurrence.is_under_way(now),
            })
        })
        .collect();
    views.sort_by_key(|view| view.start);
    views
}

pub(crate) struct GroupView {
    pub(crate) name: Option<String>,
    pub(crate) components: Vec<ComponentView>,
}

pub(crate) struct ComponentView {
    pub(crate) id: ComponentId,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) status: ComponentStatus,
    pub(crate) since: DateTime<Utc>,
    pub(crate) days: Vec<DayView>,
    pub(crate) uptime: Option<f64>,
    pub(crate) monitors: Vec<MonitorView>,
    /// None of its checks has reported yet: its status is not known.
    pub(crate) pending: bool,
    /// The components it needs (`depends_on`).
    pub(crate) depends_on: Vec<ComponentId>,
}

impl ComponentView {
    /// The status as shown: `pending` until a check has reported.
    pub(crate) fn status_key(&self) -> &'static str {
        if self.pending {
            "pending"
        } else {
            self.status.as_str()
        }
    }

    pub(crate) fn status_label(&self) -> &'static str {
        if self.pending {
            "Pending"
        } else {
            self.status.label()
        }
    }
}

pub(crate) struct DayView {
    pub(crate) date: NaiveDate,
    pub(crate) uptime: Option<f64>,
    pub(crate) incidents: Vec<(i64, String)>,
}

pub(crate) struct MonitorView {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) confirmed: ProbeStatus,
    pub(crate) last: Option<LastCheck>,
    /// Per-minute latency of the last hour, oldest first.
    pub(crate) recent_latency: Arc<[LatencyPoint]>,
    /// What each region says, for a monitor checked from several (empty otherwise).
    pub(crate) regions: Vec<RegionView>,
}

/// One cell of the component × region grid.
pub(crate) struct RegionView {
    pub(crate) region: String,
    /// Its confirmed status; `None` when the region cannot say.
    pub(crate) status: Option<ProbeStatus>,
    pub(crate) reason: Option<String>,
    pub(crate) last: Option<(DateTime<Utc>, std::time::Duration)>,
}

pub(crate) struct LatencyPoint {
    pub(crate) at: DateTime<Utc>,
    pub(crate) average: Duration,
    pub(crate) p95: Duration,
}

pub(crate) struct LastCheck {
    /// When the run ended.
    pub(crate) at: DateTime<Utc>,
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) status: ProbeStatus,
    pub(crate) latency: Duration,
    pub(crate) reason: Option<String>,
    pub(crate) detail: Option<String>,
    pub(crate) phases: Vec<(String, Duration)>,
}

/// Result counts per component and day, summed over its monitors.
#[derive(Clone, Debug, Default)]
pub(crate) struct ComponentDays(HashMap<(ComponentId, NaiveDate), ResultCounts>);

impl ComponentDays {
    /// Sums per-monitor day rows into their components (rows of monitors no longer
    /// configured are left out).
    pub(crate) fn from_rows(config: &Config, rows: &[DailyCounts]) -> Self {
        let component_of: HashMap<&str, &ComponentId> = config
            .monitors
            .iter()
            .map(|monitor| (monitor.id.as_str(), &monitor.component))
            .collect();
        let mut days: HashMap<(ComponentId, NaiveDate), ResultCounts> = HashMap::new();
        for row in rows {
            // Other regions' results are kept as `monitor@region`: they count for the
            // monitor's component too.
            let monitor = row.monitor.as_str().split('@').next().unwrap_or_default();
            if let Some(component) = component_of.get(monitor) {
                days.entry(((*component).clone(), row.day.date_naive()))
                    .or_default()
                    .add(row.counts);
            }
        }
        Self(days)
    }

    fn get(&self, component: &ComponentId, date: NaiveDate) -> Option<ResultCounts> {
        self.0.get(&(component.clone(), date)).copied()
    }
}

/// Per-minute latency of the last hour, per monitor, oldest first.
pub(crate) type RecentLatency = HashMap<String, Arc<[LatencyPoint]>>;

/// Groups minute roll-ups by monitor for the charts.
pub(crate) fn recent_latency(minutes: &[Rollup]) -> RecentLatency {
    let mut grouped: HashMap<String, Vec<LatencyPoint>> = HashMap::new();
    for rollup in minutes {
        grouped
            .entry(rollup.monitor.to_string())
            .or_default()
            .push(LatencyPoint {
                at: rollup.bucket,
                average: rollup.latency_avg,
                p95: rollup.latency_p95,
            });
    }
    grouped
        .into_iter()
        .map(|(monitor, points)| (monitor, Arc::from(points)))
        .collect()
}

/// What the store knows of past days: closed days (read once) and today (read on every
/// render).
#[derive(Clone, Copy)]
pub(crate) struct History<'a> {
    pub(crate) closed: &'a ComponentDays,
    pub(crate) today: &'a ComponentDays,
    /// False while closed days are still being read: the bars show what is known and no
    /// uptime figure is given yet.
    pub(crate) complete: bool,
}

impl StatusView {
    /// A view from per-monitor rows, as read in one go (exports and tests).
    pub(crate) fn build(
        config: &Config,
        live: &LiveState,
        incidents: Vec<Incident>,
        daily: &[DailyCounts],
        minutes: &[Rollup],
        now: DateTime<Utc>,
    ) -> Self {
        let days = ComponentDays::from_rows(config, daily);
        let history = History {
            closed: &days,
            today: &ComponentDays::default(),
            complete: true,
        };
        Self::assemble(
            config,
            live,
            incidents,
            history,
            &recent_latency(minutes),
            now,
        )
    }

    pub(crate) fn assemble(
        config: &Config,
        live: &LiveState,
        incidents: Vec<Incident>,
        history: History<'_>,
        recent: &RecentLatency,
        now: DateTime<Utc>,
    ) -> Self {
        let today = now.date_naive();
        let first_day = today - ChronoDuration::days(HISTORY_DAYS - 1);
        // False alarms are for operators only: off the page, the feeds and the APIs, and no
        // longer counted against uptime (the store leaves their check results out too).
        let (active, resolved): (Vec<Incident>, Vec<Incident>) = incidents
            .into_iter()
            .filter(|incident| !incident.is_false_alarm())
            .partition(Incident::is_open);
        let mut active = active;
        for incident in &live.open_incidents {
            if !active.iter().any(|known| known.id == incident.id) {
                active.push(incident.clone());
            }
        }
        active.sort_by_key(|incident| std::cmp::Reverse(incident.id));

        let mut by_component: HashMap<&ComponentId, Vec<&Incident>> = HashMap::new();
        for incident in active.iter().chain(resolved.iter()) {
            by_component
                .entry(&incident.component)
                .or_default()
                .push(incident);
        }
        let mut groups: Vec<GroupView> = Vec::new();
        for component in &config.components {
            let incidents = by_component
                .get(&component.id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let (status, since) = live
                .components
                .get(&component.id)
                .copied()
                .unwrap_or((ComponentStatus::Operational, now));
            let monitors: Vec<_> = config
                .monitors
                .iter()
                .filter(|monitor| monitor.component == component.id)
                .collect();
            let days: Vec<DayView> = (0..HISTORY_DAYS)
                .map(|offset| {
                    let date = first_day + ChronoDuration::days(offset);
                    let mut day = ResultCounts::default();
                    for found in [history.closed, history.today]
                        .into_iter()
                        .filter_map(|days| days.get(&component.id, date))
                    {
                        day.add(found);
                    }
                    let covering: Vec<&Incident> = incidents
                        .iter()
                        .copied()
                        .filter(|incident| covers(incident, date, now))
                        .collect();
                    // The bar and the figure agree: a day's uptime is the lower of what the
                    // checks measured and what its incidents took (results roll up a minute
                    // late; an incident counts at once).
                    let uptime = match (day.uptime(), incident_uptime(&covering, date, now)) {
                        (Some(measured), Some(incidents)) => Some(measured.min(incidents)),
                        (measured, incidents) => measured.or(incidents),
                    };
                    DayView {
                        date,
                        uptime,
                        incidents: covering
                            .iter()
                            .map(|incident| (incident.id, incident.title.clone()))
                            .collect(),
                    }
                })
                .collect();
            let measured: Vec<f64> = days.iter().filter_map(|day| day.uptime).collect();
            let uptime = (history.complete && !measured.is_empty())
                .then(|| measured.iter().sum::<f64>() / measured.len() as f64);
            let monitor_views: Vec<MonitorView> = monitors
                .iter()
                .map(|monitor| {
                    let latest = live.monitors.get(&monitor.id);
                    MonitorView {
                        id: monitor.id.to_string(),
                        name: monitor.name.clone(),
                        kind: monitor.probe.kind(),
                        confirmed: latest
                            .map(|latest| latest.confirmed)
                            .unwrap_or(ProbeStatus::Up),
                        last: latest.map(|latest| LastCheck {
                            at: latest.at,
                            started_at: latest.started_at,
                            status: latest.outcome.status,
                            latency: latest.outcome.latency,
                            reason: latest.outcome.reason.clone(),
                            detail: latest.outcome.detail.clone(),
                            phases: latest
                                .outcome
                                .phases
                                .iter()
                                .map(|phase| (phase.name.to_string(), phase.duration))
                                .collect(),
                        }),
                        recent_latency: recent
                            .get(monitor.id.as_str())
                            .cloned()
                            .unwrap_or_else(|| Arc::from(Vec::new())),
                        regions: live
                            .regions
                            .get(&monitor.id)
                            .map(|cells| {
                                cells
                                    .iter()
                                    .map(|cell| RegionView {
                                        region: cell.region.clone(),
                                        status: cell.status,
                                        reason: cell.reason.clone(),
                                        last: cell
                                            .last
                                            .as_ref()
                                            .map(|last| (last.at, last.outcome.latency)),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                    }
                })
                .collect();
            let pending = measured.is_empty()
                && !status.is_incident()
                && monitor_views
                    .iter()
                    .all(|monitor: &MonitorView| monitor.last.is_none());
            let view = ComponentView {
                id: component.id.clone(),
                name: component.name.clone(),
                description: component.description.clone(),
                status,
                since,
                days,
                uptime,
                monitors: monitor_views,
                pending,
                depends_on: component.depends_on.clone(),
            };
            match groups
                .iter_mut()
                .find(|group| group.name == component.group)
            {
                Some(group) => group.components.push(view),
                None => groups.push(GroupView {
                    name: component.group.clone(),
                    components: vec![view],
                }),
            }
        }
        let statuses: Vec<ComponentStatus> = groups
            .iter()
            .flat_map(|group| group.components.iter())
            .filter(|component| !component.pending)
            .map(|component| component.status)
            .collect();
        let pending = statuses.is_empty();
        let overall = overall_status(&statuses);
        Self {
            title: config.page.title.clone(),
            description: config.page.description.clone(),
            public_url: config.server.public_url.as_ref().map(ToString::to_string),
            overall,
            pending,
            groups,
            active,
            resolved,
            component_names: config
                .components
                .iter()
                .map(|component| (component.id.clone(), component.name.clone()))
                .collect(),
            generated_at: now,
            history_complete: history.complete,
            stale_since: live.store_fault.clone(),
            maintenance: maintenance_views(&live.maintenance, now),
            postmortems: HashMap::new(),
            subscriptions: config
                .subscribers
                .as_ref()
                .is_some_and(|subscribers| subscribers.email.is_some()),
        }
    }

    pub(crate) fn component_name<'a>(&'a self, incident: &'a Incident) -> &'a str {
        self.component_names
            .get(&incident.component)
            .map(String::as_str)
            .unwrap_or(incident.component.as_str())
    }

    /// A component's name by id (its id when it is no longer configured).
    pub(crate) fn name_of<'a>(&'a self, id: &'a ComponentId) -> &'a str {
        self.component_names
            .get(id)
            .map(String::as_str)
            .unwrap_or(id.as_str())
    }

    /// Why the joined components of an incident are (or were) affected, in a sentence:
    /// "Mail delivery and Mailbox access are affected because Mail store is down."
    pub(crate) fn root_cause_line(&self, incident: &Incident) -> Option<String> {
        let root_status = self
            .component(incident.component.as_str())
            .map(|component| component.status)
            .unwrap_or(incident.impact);
        pharos_core::root_cause::describe(
            incident,
            self.component_name(incident),
            root_status,
            |id| self.name_of(id),
        )
    }

    pub(crate) fn component(&self, id: &str) -> Option<&ComponentView> {
        self.groups
            .iter()
            .flat_map(|group| group.components.iter())
            .find(|component| component.id.as_str() == id)
    }

    pub(crate) fn all_incidents(&self) -> impl Iterator<Item = &Incident> {
        self.active.iter().chain(self.resolved.iter())
    }
}

/// Whether an incident was under way at some point of `date`.
/// The share of `date` (up to `now`, for today) not taken by outages, from incidents alone:
/// a major outage takes its whole time, a partial outage 30% of it (as Statuspage counts);
/// `None` when no outage touched the day.
fn incident_uptime(incidents: &[&Incident], date: NaiveDate, now: DateTime<Utc>) -> Option<f64> {
    let day_start = date.and_hms_opt(0, 0, 0)?.and_utc();
    let day_end = (day_start + ChronoDuration::days(1)).min(now);
    let elapsed = (day_end - day_start).num_milliseconds();
    if elapsed <= 0 {
        return None;
    }
    let mut lost = 0.0;
    let mut touched = false;
    for incident in incidents {
        let weight = match incident.worst_impact {
            ComponentStatus::MajorOutage => 1.0,
            ComponentStatus::PartialOutage => 0.3,
            _ => continue,
        };
        let start = incident.started_at.max(day_start);
        let end = incident.resolved_at.unwrap_or(now).min(day_end);
        if end > start {
            touched = true;
            lost += weight * (end - start).num_milliseconds() as f64;
        }
    }
    touched.then(|| (1.0 - lost / elapsed as f64).max(0.0))
}

fn covers(incident: &Incident, date: NaiveDate, now: DateTime<Utc>) -> bool {
    let start = incident.started_at.date_naive();
    let end = incident.resolved_at.unwrap_or(now).date_naive();
    start <= date && date <= end
}

/// The page's overall status: the worst component's, except that a major outage of some
/// components (not all) is a partial outage of the whole.
pub(crate) fn overall_status(statuses: &[ComponentStatus]) -> ComponentStatus {
    let worst = statuses
        .iter()
        .copied()
        .max()
        .unwrap_or(ComponentStatus::Operational);
    let all_down = statuses
        .iter()
        .all(|status| *status == ComponentStatus::MajorOutage);
    if worst == ComponentStatus::MajorOutage && !all_down {
        ComponentStatus::PartialOutage
    } else {
        worst
    }
}

impl StatusView {
    pub(crate) fn overall_key(&self) -> &'static str {
        if self.pending {
            "pending"
        } else {
            self.overall.as_str()
        }
    }

    pub(crate) fn overall_label(&self) -> &'static str {
        if self.pending {
            return "Checking: no results yet";
        }
        match self.overall {
            ComponentStatus::Operational => "All systems operational",
            ComponentStatus::UnderMaintenance => "Maintenance in progress",
            ComponentStatus::DegradedPerformance => "Degraded performance",
            ComponentStatus::PartialOutage => "Partial system outage",
            ComponentStatus::MajorOutage => "Major system outage",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComponentStatus::*;

    #[test]
    fn the_whole_is_in_major_outage_only_when_every_component_is() {
        assert_eq!(overall_status(&[]), Operational);
        assert_eq!(
            overall_status(&[Operational, DegradedPerformance]),
            DegradedPerformance
        );
        assert_eq!(overall_status(&[Operational, MajorOutage]), PartialOutage);
        assert_eq!(overall_status(&[MajorOutage, MajorOutage]), MajorOutage);
    }

    const CONFIG: &str = r#"
[[components]]
id = "mail"
name = "Mail"

[[components]]
id = "web"
name = "Web"

[[monitors]]
id = "smtp"
name = "SMTP"
component = "mail"
type = "tcp"
host = "127.0.0.1"
port = 25

[[monitors]]
id = "https"
name = "HTTPS"
component = "web"
type = "tcp"
host = "127.0.0.1"
port = 443
"#;

    #[test]
    fn a_component_with_no_result_yet_is_pending_not_operational() {
        let config = pharos_config::parse("pending.toml", CONFIG, &|_| None).unwrap();
        let now = Utc::now();
        let mut live = LiveState::default();
        let view = StatusView::build(&config, &live, vec![], &[], &[], now);
        assert!(view.pending);
        assert_eq!(view.overall_key(), "pending");
        let keys: Vec<_> = view.groups[0]
            .components
            .iter()
            .map(ComponentView::status_key)
            .collect();
        assert_eq!(keys, ["pending", "pending"]);

        live.monitors.insert(
            pharos_core::MonitorId::new("smtp"),
            pharos_engine::LatestResult {
                at: now,
                started_at: now,
                outcome: pharos_core::Outcome::up(Duration::from_millis(2), vec![]),
                confirmed: ProbeStatus::Up,
            },
        );
        let view = StatusView::build(&config, &live, vec![], &[], &[], now);
        assert_eq!(view.overall_key(), "operational");
        let keys: Vec<_> = view.groups[0]
            .components
            .iter()
            .map(ComponentView::status_key)
            .collect();
        assert_eq!(keys, ["operational", "pending"]);
    }

    /// Before: a day whose results had not rolled up yet read "100% uptime" beside a red bar.
    #[test]
    fn uptime_figures_agree_with_the_bars() {
        use chrono::TimeZone;
        let config = pharos_config::parse("u.toml", CONFIG, &|_| None).unwrap();
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).unwrap();
        let daily = vec![pharos_store::DailyCounts {
            monitor: pharos_core::MonitorId::new("smtp"),
            day: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
            counts: ResultCounts {
                total: 100,
                down: 0,
                degraded: 0,
            },
        }];
        let incident = Incident {
            dependents: Vec::new(),
            scope: None,
            id: 1,
            component: ComponentId::new("mail"),
            title: "Mail: major outage".into(),
            phase: pharos_core::IncidentPhase::Investigating,
            impact: MajorOutage,
            worst_impact: MajorOutage,
            started_at: now - ChronoDuration::hours(1),
            detected_at: now - ChronoDuration::hours(1),
            resolved_at: None,
            updates: vec![],
            timeline: vec![],
        };
        let view = StatusView::build(
            &config,
            &LiveState::default(),
            vec![incident],
            &daily,
            &[],
            now,
        );
        let mail = &view.groups[0].components[0];
        let today = mail.days.last().unwrap();
        let expected = 1.0 - 1.0 / 12.0;
        assert!(
            (today.uptime.unwrap() - expected).abs() < 1e-9,
            "{:?}",
            today.uptime
        );
        assert!(
            (mail.uptime.unwrap() - expected).abs() < 1e-9,
            "{:?}",
            mail.uptime
        );
        let page = crate::pages::index(&view).into_string();
        assert!(page.contains("91.67% uptime"), "the figure matches the bar");
        assert!(!page.contains("100% uptime"));
    }
}
