//! The public JSON API's answers: its own types, so storage and domain types can change
//! without changing what API users see.

use crate::view::{ComponentView, StatusView};
use chrono::{DateTime, SecondsFormat, Utc};
use pharos_core::{ComponentId, Incident};
use serde::Serialize;
use std::collections::BTreeMap;

/// The one timestamp form of every JSON answer: RFC 3339 in UTC with milliseconds.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn millis(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

#[derive(Serialize)]
pub(crate) struct StatusSummary<'a> {
    page: PageInfo<'a>,
    status: &'static str,
    description: &'static str,
    components: Vec<ComponentSummary<'a>>,
    active_incidents: Vec<IncidentDto<'a>>,
    updated_at: String,
}

#[derive(Serialize)]
struct PageInfo<'a> {
    title: &'a str,
    url: Option<&'a str>,
}

#[derive(Serialize)]
struct ComponentSummary<'a> {
    id: &'a str,
    name: &'a str,
    group: Option<&'a str>,
    status: &'static str,
    status_since: String,
}

#[derive(Serialize)]
pub(crate) struct ComponentDetail<'a> {
    id: &'a str,
    name: &'a str,
    group: Option<&'a str>,
    description: Option<&'a str>,
    status: &'static str,
    status_since: String,
    uptime_90d: Option<f64>,
    daily_uptime: Vec<DailyUptime>,
    monitors: Vec<MonitorDto<'a>>,
    /// The ids of the components it needs.
    depends_on: Vec<&'a str>,
}

#[derive(Serialize)]
struct DailyUptime {
    date: String,
    uptime: Option<f64>,
    incidents: Vec<i64>,
}

#[derive(Serialize)]
struct MonitorDto<'a> {
    id: &'a str,
    name: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    status: &'static str,
    last_check: Option<CheckDto<'a>>,
    latency_last_hour: Vec<LatencyDto>,
    /// For a monitor checked from several regions, what each says.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    regions: Vec<RegionDto<'a>>,
}

#[derive(Serialize)]
struct RegionDto<'a> {
    region: &'a str,
    /// up, degraded, down, or unknown when the region cannot say (its agent is silent).
    status: &'static str,
    reason: Option<&'a str>,
    last_check_at: Option<String>,
    latency_ms: Option<f64>,
}

#[derive(Serialize)]
struct LatencyDto {
    minute: String,
    average_ms: f64,
    p95_ms: f64,
}

#[derive(Serialize)]
struct CheckDto<'a> {
    /// When the run ended.
    at: String,
    started_at: String,
    status: &'static str,
    latency_ms: f64,
    reason: Option<&'a str>,
    detail: Option<&'a str>,
    phases_ms: BTreeMap<&'a str, f64>,
}

#[derive(Serialize)]
pub(crate) struct IncidentDto<'a> {
    id: i64,
    title: &'a str,
    status: &'static str,
    /// The impact now.
    impact: &'static str,
    /// The worst impact it reached, which its title names.
    worst_impact: &'static str,
    component: ComponentRef<'a>,
    started_at: String,
    detected_at: String,
    resolved_at: Option<String>,
    time_to_detect_seconds: f64,
    time_to_recover_seconds: Option<f64>,
    updates: Vec<UpdateDto<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<Vec<TimelineDto<'a>>>,
    /// Components that failed because of this incident's component (the probable root
    /// cause) and joined it.
    dependents: Vec<DependentDto<'a>>,
    /// Why the dependents are affected, in a sentence.
    root_cause: Option<String>,
    /// How far the problem reaches, when its component is checked from several regions.
    scope: Option<&'a pharos_core::regions::Scope>,
}

#[derive(Serialize)]
struct DependentDto<'a> {
    component: ComponentRef<'a>,
    status: &'static str,
    joined_at: String,
    recovered_at: Option<String>,
    split_into: Option<i64>,
}

#[derive(Serialize)]
struct ComponentRef<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct UpdateDto<'a> {
    at: String,
    status: &'static str,
    message: &'a str,
    automatic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_update_by: Option<String>,
}

#[derive(Serialize)]
struct TimelineDto<'a> {
    at: String,
    kind: &'static str,
    detail: &'a str,
}

#[derive(Serialize)]
pub(crate) struct IncidentList<'a> {
    incidents: Vec<IncidentDto<'a>>,
}

pub(crate) fn status<'a>(view: &'a StatusView) -> StatusSummary<'a> {
    StatusSummary {
        page: PageInfo {
            title: &view.title,
            url: view.public_url.as_deref(),
        },
        status: view.overall_key(),
        description: view.overall_label(),
        components: view
            .groups
            .iter()
            .flat_map(|group| {
                group.components.iter().map(|component| ComponentSummary {
                    id: component.id.as_str(),
                    name: &component.name,
                    group: group.name.as_deref(),
                    status: component.status_key(),
                    status_since: time(component.since),
                })
            })
            .collect(),
        active_incidents: view
            .active
            .iter()
            .map(|incident| incident_dto(view, incident, false))
            .collect(),
        updated_at: time(view.generated_at),
    }
}

pub(crate) fn components<'a>(view: &'a StatusView) -> Vec<ComponentDetail<'a>> {
    view.groups
        .iter()
        .flat_map(|group| {
            group
                .components
                .iter()
                .map(move |component| component_detail(group.name.as_deref(), component))
        })
        .collect()
}

fn component_detail<'a>(
    group: Option<&'a str>,
    component: &'a ComponentView,
) -> ComponentDetail<'a> {
    ComponentDetail {
        id: component.id.as_str(),
        name: &component.name,
        group,
        description: component.description.as_deref(),
        status: component.status_key(),
        status_since: time(component.since),
        uptime_90d: component.uptime,
        depends_on: component
            .depends_on
            .iter()
            .map(ComponentId::as_str)
            .collect(),
        daily_uptime: component
            .days
            .iter()
            .map(|day| DailyUptime {
                date: day.date.to_string(),
                uptime: day.uptime,
                incidents: day.incidents.iter().map(|(id, _)| *id).collect(),
            })
            .collect(),
        monitors: component
            .monitors
            .iter()
            .map(|monitor| MonitorDto {
                id: &monitor.id,
                name: &monitor.name,
                kind: monitor.kind,
                status: if monitor.last.is_some() {
                    monitor.confirmed.as_str()
                } else {
                    "pending"
                },
                last_check: monitor.last.as_ref().map(|last| CheckDto {
                    at: time(last.at),
                    started_at: time(last.started_at),
                    status: last.status.as_str(),
                    latency_ms: millis(last.latency),
                    reason: last.reason.as_deref(),
                    detail: last.detail.as_deref(),
                    phases_ms: last
                        .phases
                        .iter()
                        .map(|(name, took)| (name.as_str(), millis(*took)))
                        .collect(),
                }),
                latency_last_hour: monitor
                    .recent_latency
                    .iter()
                    .map(|point| LatencyDto {
                        minute: time(point.at),
                        average_ms: millis(point.average),
                        p95_ms: millis(point.p95),
                    })
                    .collect(),
                regions: monitor
                    .regions
                    .iter()
                    .map(|cell| RegionDto {
                        region: &cell.region,
                        status: cell
                            .status
                            .map_or("unknown", pharos_core::ProbeStatus::as_str),
                        reason: cell.reason.as_deref(),
                        last_check_at: cell.last.map(|(at, _)| time(at)),
                        latency_ms: cell.last.map(|(_, latency)| millis(latency)),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub(crate) fn incident_dto<'a>(
    view: &'a StatusView,
    incident: &'a Incident,
    with_timeline: bool,
) -> IncidentDto<'a> {
    IncidentDto {
        id: incident.id,
        title: &incident.title,
        status: incident.phase.as_str(),
        impact: incident.impact.as_str(),
        worst_impact: incident.worst_impact.as_str(),
        component: ComponentRef {
            id: incident.component.as_str(),
            name: view.component_name(incident),
        },
        started_at: time(incident.started_at),
        detected_at: time(incident.detected_at),
        resolved_at: incident.resolved_at.map(time),
        time_to_detect_seconds: incident.time_to_detect().as_secs_f64(),
        time_to_recover_seconds: incident
            .time_to_recover()
            .map(|duration| duration.as_secs_f64()),
        updates: incident
            .updates
            .iter()
            .map(|update| UpdateDto {
                at: time(update.at),
                status: update.phase.as_str(),
                message: &update.message,
                automatic: update.automatic,
                expected_by: update.expected_by.map(time),
                next_update_by: update.next_update_by.map(time),
            })
            .collect(),
        dependents: incident
            .dependents
            .iter()
            .map(|dependent| DependentDto {
                component: ComponentRef {
                    id: dependent.component.as_str(),
                    name: view.name_of(&dependent.component),
                },
                status: if dependent.recovered_at.is_some() {
                    "operational"
                } else {
                    dependent.status.as_str()
                },
                joined_at: time(dependent.joined_at),
                recovered_at: dependent.recovered_at.map(time),
                split_into: dependent.split_into,
            })
            .collect(),
        root_cause: view.root_cause_line(incident),
        scope: incident.scope.as_ref(),
        timeline: with_timeline.then(|| {
            incident
                .timeline
                .iter()
                .filter(|entry| crate::pages::is_public(entry))
                .map(|entry| TimelineDto {
                    at: time(entry.at),
                    kind: entry.kind.as_str(),
                    detail: &entry.detail,
                })
                .collect()
        }),
    }
}

pub(crate) fn incidents<'a>(view: &'a StatusView) -> IncidentList<'a> {
    IncidentList {
        incidents: view
            .all_incidents()
            .map(|incident| incident_dto(view, incident, false))
            .collect(),
    }
}
