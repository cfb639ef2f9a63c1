//! The Statuspage-compatible read API (`/api/v2/…`): the documents Atlassian Statuspage serves,
//! in its shapes and enumerations, so that clients and aggregators written for it read pharos
//! as is. Lists are `[]`, never `null`; ids are strings; times are RFC 3339.

use crate::api::time;
use crate::view::{ComponentView, StatusView};
use chrono::{DateTime, Utc};
use pharos_core::{ComponentStatus, Incident, IncidentPhase};
use serde::Serialize;

/// How many incidents `incidents.json` lists, newest first (as Statuspage does).
const RECENT_INCIDENTS: usize = 50;

/// Which Statuspage document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum V2 {
    Summary,
    Status,
    Components,
    Incidents,
    Unresolved,
    Maintenances,
    UpcomingMaintenances,
    ActiveMaintenances,
}

impl V2 {
    pub(crate) const ALL: [(V2, &'static str); 8] = [
        (V2::Summary, "/api/v2/summary"),
        (V2::Status, "/api/v2/status"),
        (V2::Components, "/api/v2/components"),
        (V2::Incidents, "/api/v2/incidents"),
        (V2::Unresolved, "/api/v2/incidents/unresolved"),
        (V2::Maintenances, "/api/v2/scheduled-maintenances"),
        (
            V2::UpcomingMaintenances,
            "/api/v2/scheduled-maintenances/upcoming",
        ),
        (
            V2::ActiveMaintenances,
            "/api/v2/scheduled-maintenances/active",
        ),
    ];

    pub(crate) fn at(path: &str) -> Option<V2> {
        V2::ALL
            .iter()
            .find(|(_, known)| *known == path)
            .map(|(document, _)| *document)
    }
}

/// The document's JSON.
pub(crate) fn render(view: &StatusView, document: V2) -> String {
    let page = Page::of(view);
    let value = match document {
        V2::Summary => serde_json::to_value(Summary {
            components: components(view, &page.id),
            incidents: unresolved(view, &page),
            scheduled_maintenances: maintenances(view, &page, |_| true),
            status: indicator(view),
            page,
        }),
        V2::Status => serde_json::to_value(StatusOnly {
            status: indicator(view),
            page,
        }),
        V2::Components => serde_json::to_value(ComponentList {
            components: components(view, &page.id),
            page,
        }),
        V2::Incidents => serde_json::to_value(IncidentList {
            incidents: view
                .all_incidents()
                .take(RECENT_INCIDENTS)
                .map(|incident| incident_of(view, incident, &page))
                .collect(),
            page,
        }),
        V2::Unresolved => serde_json::to_value(IncidentList {
            incidents: unresolved(view, &page),
            page,
        }),
        V2::Maintenances | V2::UpcomingMaintenances | V2::ActiveMaintenances => {
            let wanted = |under_way: bool| match document {
                V2::UpcomingMaintenances => !under_way,
                V2::ActiveMaintenances => under_way,
                _ => true,
            };
            serde_json::to_value(MaintenanceList {
                scheduled_maintenances: maintenances(view, &page, wanted),
                page,
            })
        }
    };
    value
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or_else(|_| "{}".to_owned())
}

#[derive(Serialize)]
struct Page {
    id: String,
    name: String,
    url: String,
    time_zone: &'static str,
    updated_at: String,
}

impl Page {
    fn of(view: &StatusView) -> Self {
        Self {
            id: slug(&view.title),
            name: view.title.clone(),
            url: view.public_url.clone().unwrap_or_else(|| "/".to_owned()),
            time_zone: "Etc/UTC",
            updated_at: time(view.generated_at),
        }
    }

    /// An absolute link when the public address is known, else one from the site's root.
    fn link(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }
}

#[derive(Serialize)]
struct Summary {
    page: Page,
    components: Vec<Component>,
    incidents: Vec<StatuspageIncident>,
    scheduled_maintenances: Vec<Maintenance>,
    status: Indicator,
}

#[derive(Serialize)]
struct StatusOnly {
    page: Page,
    status: Indicator,
}

#[derive(Serialize)]
struct ComponentList {
    page: Page,
    components: Vec<Component>,
}

#[derive(Serialize)]
struct IncidentList {
    page: Page,
    incidents: Vec<StatuspageIncident>,
}

#[derive(Serialize)]
struct MaintenanceList {
    page: Page,
    scheduled_maintenances: Vec<Maintenance>,
}

/// A scheduled maintenance: an incident's shape with when it is scheduled.
#[derive(Serialize)]
struct Maintenance {
    #[serde(flatten)]
    incident: StatuspageIncident,
    scheduled_for: String,
    scheduled_until: String,
}

#[derive(Serialize)]
struct Indicator {
    indicator: &'static str,
    description: &'static str,
}

#[derive(Clone, Serialize)]
struct Component {
    id: String,
    name: String,
    status: &'static str,
    created_at: String,
    updated_at: String,
    position: usize,
    description: Option<String>,
    showcase: bool,
    start_date: Option<String>,
    group_id: Option<String>,
    page_id: String,
    group: bool,
    only_show_if_degraded: bool,
    /// A group's members, by id (groups only).
    #[serde(skip_serializing_if = "Option::is_none")]
    components: Option<Vec<String>>,
}

#[derive(Serialize)]
struct StatuspageIncident {
    id: String,
    name: String,
    status: &'static str,
    created_at: String,
    updated_at: String,
    monitoring_at: Option<String>,
    resolved_at: Option<String>,
    impact: &'static str,
    shortlink: String,
    started_at: String,
    page_id: String,
    incident_updates: Vec<StatuspageUpdate>,
    components: Vec<Component>,
}

#[derive(Serialize)]
struct StatuspageUpdate {
    id: String,
    status: &'static str,
    body: String,
    incident_id: String,
    created_at: String,
    updated_at: String,
    display_at: String,
    affected_components: Vec<AffectedComponent>,
    deliver_notifications: bool,
    custom_tweet: Option<String>,
    tweet_id: Option<String>,
}

#[derive(Serialize)]
struct AffectedComponent {
    code: String,
    name: String,
    old_status: &'static str,
    new_status: &'static str,
}

/// The page's indicator: its components' worst status, and at least as bad as the impact of
/// the worst open incident.
fn indicator(view: &StatusView) -> Indicator {
    let worst_open = view.active.iter().map(|incident| incident.impact).max();
    let worst = worst_open.map_or(view.overall, |impact| impact.max(view.overall));
    let (indicator, description) = match worst {
        ComponentStatus::Operational => ("none", "All Systems Operational"),
        ComponentStatus::UnderMaintenance => ("maintenance", "Service Under Maintenance"),
        ComponentStatus::DegradedPerformance => ("minor", "Minor Service Outage"),
        ComponentStatus::PartialOutage => ("major", "Partial System Outage"),
        ComponentStatus::MajorOutage => ("critical", "Major Service Outage"),
    };
    Indicator {
        indicator,
        description,
    }
}

/// An incident's impact in Statuspage's words.
fn impact(status: ComponentStatus) -> &'static str {
    match status {
        ComponentStatus::Operational | ComponentStatus::UnderMaintenance => "none",
        ComponentStatus::DegradedPerformance => "minor",
        ComponentStatus::PartialOutage => "major",
        ComponentStatus::MajorOutage => "critical",
    }
}

/// A component's status as Statuspage's enumeration has it; one not checked yet counts as
/// operational (the enumeration has no "unknown").
fn component_status(component: &ComponentView) -> &'static str {
    if component.pending {
        "operational"
    } else {
        component.status.as_str()
    }
}

/// Every component, and each named group as a group component listing its members.
fn components(view: &StatusView, page_id: &str) -> Vec<Component> {
    let mut all = Vec::new();
    let mut position = 0;
    for group in &view.groups {
        let group_id = group
            .name
            .as_deref()
            .map(|name| format!("group-{}", slug(name)));
        if let (Some(name), Some(id)) = (&group.name, &group_id) {
            position += 1;
            let worst = group
                .components
                .iter()
                .filter(|component| !component.pending)
                .map(|component| component.status)
                .max()
                .unwrap_or(ComponentStatus::Operational);
            let since = group
                .components
                .iter()
                .map(|component| component.since)
                .max()
                .unwrap_or(view.generated_at);
            all.push(Component {
                id: id.clone(),
                name: name.clone(),
                status: worst.as_str(),
                created_at: time(since),
                updated_at: time(since),
                position,
                description: None,
                showcase: false,
                start_date: None,
                group_id: None,
                page_id: page_id.to_owned(),
                group: true,
                only_show_if_degraded: false,
                components: Some(
                    group
                        .components
                        .iter()
                        .map(|component| component.id.as_str().to_owned())
                        .collect(),
                ),
            });
        }
        for component in &group.components {
            position += 1;
            all.push(component_of(component, position, group_id.clone(), page_id));
        }
    }
    all
}

fn component_of(
    component: &ComponentView,
    position: usize,
    group_id: Option<String>,
    page_id: &str,
) -> Component {
    Component {
        id: component.id.as_str().to_owned(),
        name: component.name.clone(),
        status: component_status(component),
        created_at: time(component.since),
        updated_at: time(component.since),
        position,
        description: component.description.clone(),
        showcase: true,
        start_date: None,
        group_id,
        page_id: page_id.to_owned(),
        group: false,
        only_show_if_degraded: false,
        components: None,
    }
}

/// The maintenance announced on the page (under way or upcoming) that `wanted` keeps, by
/// whether it is under way.
fn maintenances(view: &StatusView, page: &Page, wanted: impl Fn(bool) -> bool) -> Vec<Maintenance> {
    view.maintenance
        .iter()
        .filter(|window| wanted(window.under_way))
        .map(|window| {
            let status = if window.under_way {
                "in_progress"
            } else {
                "scheduled"
            };
            let affected: Vec<Component> = window
                .components
                .iter()
                .filter_map(|id| view.component(id.as_str()))
                .enumerate()
                .map(|(index, component)| component_of(component, index + 1, None, &page.id))
                .collect();
            let id = format!("{}-{}", window.id, window.start.timestamp());
            let update = StatuspageUpdate {
                id: format!("{id}-1"),
                status,
                body: window
                    .message
                    .clone()
                    .unwrap_or_else(|| window.title.clone()),
                incident_id: id.clone(),
                created_at: time(window.start),
                updated_at: time(window.start),
                display_at: time(window.start),
                affected_components: affected
                    .iter()
                    .map(|component| AffectedComponent {
                        code: component.id.clone(),
                        name: component.name.clone(),
                        old_status: "operational",
                        new_status: "under_maintenance",
                    })
                    .collect(),
                deliver_notifications: true,
                custom_tweet: None,
                tweet_id: None,
            };
            Maintenance {
                incident: StatuspageIncident {
                    name: window.title.clone(),
                    status,
                    created_at: time(window.start),
                    updated_at: time(window.start),
                    monitoring_at: None,
                    resolved_at: None,
                    impact: "maintenance",
                    shortlink: page.link(&format!("/#maintenance-{}", window.id)),
                    started_at: time(window.start),
                    page_id: page.id.clone(),
                    incident_updates: vec![update],
                    components: affected,
                    id,
                },
                scheduled_for: time(window.start),
                scheduled_until: time(window.end),
            }
        })
        .collect()
}

fn unresolved(view: &StatusView, page: &Page) -> Vec<StatuspageIncident> {
    view.active
        .iter()
        .map(|incident| incident_of(view, incident, page))
        .collect()
}

fn incident_of(view: &StatusView, incident: &Incident, page: &Page) -> StatuspageIncident {
    let id = incident.id.to_string();
    // The components it affects: its own and those that joined it and have not recovered
    // (all that ever joined, once it is over).
    let affected: Vec<Component> = std::iter::once(&incident.component)
        .chain(
            incident
                .dependents
                .iter()
                .filter(|dependent| !incident.is_open() || dependent.is_affected())
                .map(|dependent| &dependent.component),
        )
        .filter_map(|component| view.component(component.as_str()))
        .enumerate()
        .map(|(index, component)| component_of(component, index + 1, None, &page.id))
        .collect();
    let impact_then = if incident.is_open() {
        incident.impact
    } else {
        incident.worst_impact
    };
    let mut previous = ComponentStatus::Operational;
    let mut updates: Vec<StatuspageUpdate> = incident
        .updates
        .iter()
        .enumerate()
        .map(|(index, update)| {
            let new_status = if update.phase == IncidentPhase::Resolved {
                ComponentStatus::Operational
            } else {
                impact_then
            };
            let affected_components = affected
                .iter()
                .take(1)
                .map(|component| AffectedComponent {
                    code: component.id.clone(),
                    name: component.name.clone(),
                    old_status: previous.as_str(),
                    new_status: new_status.as_str(),
                })
                .collect();
            previous = new_status;
            StatuspageUpdate {
                id: format!("{id}-{}", index + 1),
                status: update.phase.as_str(),
                body: update.message.clone(),
                incident_id: id.clone(),
                created_at: time(update.at),
                updated_at: time(update.at),
                display_at: time(update.at),
                affected_components,
                deliver_notifications: true,
                custom_tweet: None,
                tweet_id: None,
            }
        })
        .collect();
    // Statuspage lists updates newest first.
    updates.reverse();
    let updated_at: DateTime<Utc> = incident
        .updates
        .iter()
        .map(|update| update.at)
        .chain(incident.resolved_at)
        .max()
        .unwrap_or(incident.detected_at);
    StatuspageIncident {
        name: incident.title.clone(),
        status: incident.phase.as_str(),
        created_at: time(incident.detected_at),
        updated_at: time(updated_at),
        monitoring_at: incident
            .updates
            .iter()
            .find(|update| update.phase == IncidentPhase::Monitoring)
            .map(|update| time(update.at)),
        resolved_at: incident.resolved_at.map(time),
        impact: impact(impact_then),
        shortlink: page.link(&format!("/incidents/{id}")),
        started_at: time(incident.started_at),
        page_id: page.id.clone(),
        incident_updates: updates,
        components: affected,
        id,
    }
}

/// "Example Mail Status" → "example-mail-status".
fn slug(text: &str) -> String {
    let mut slug = String::new();
    for character in text.chars() {
        if character.is_ascii_alphanumeric() {
            slug.push(character.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "pharos".to_owned()
    } else {
        slug.to_owned()
    }
}
