//! Any Statuspage-compatible page: `GET <page>/api/v2/summary.json`
//! (<https://developer.statuspage.io/>, "Summary": the page, its components with their
//! status, and its unresolved incidents). Components are matched by name (case-insensitively)
//! or id; without any, the page's overall indicator counts.

use super::fetch::{Feed, Problem};
use super::{ProviderIncident, Report};
use pharos_core::ComponentStatus;
use serde::Deserialize;
use url::Url;

#[derive(Deserialize)]
struct Summary {
    page: Page,
    #[serde(default)]
    components: Vec<Component>,
    #[serde(default)]
    incidents: Vec<Incident>,
    status: Option<Indicator>,
}

#[derive(Deserialize)]
struct Page {
    name: String,
}

#[derive(Deserialize)]
struct Component {
    id: String,
    name: String,
    status: String,
}

#[derive(Deserialize)]
struct Incident {
    id: String,
    name: String,
    #[serde(default)]
    shortlink: Option<String>,
    #[serde(default)]
    components: Vec<IncidentComponent>,
}

#[derive(Deserialize)]
struct IncidentComponent {
    id: String,
}

#[derive(Deserialize)]
struct Indicator {
    indicator: String,
}

pub(crate) async fn read(feed: &Feed, page: &Url, wanted: &[String]) -> Result<Report, Problem> {
    let url = page
        .join("api/v2/summary.json")
        .map_err(|error| format!("cannot build the summary address: {error}"))?;
    let body = feed
        .get(url.as_str(), None)
        .await
        .map_err(|error| error.into_problem())?;
    parse(&body, wanted)
}

pub(crate) fn parse(body: &[u8], wanted: &[String]) -> Result<Report, Problem> {
    let summary: Summary = serde_json::from_slice(body)
        .map_err(|error| format!("the page's summary.json cannot be read: {error}"))?;
    let provider = summary.page.name.clone();
    if wanted.is_empty() {
        let status = summary
            .status
            .as_ref()
            .map(|status| indicator(&status.indicator))
            .unwrap_or(ComponentStatus::Operational);
        let incidents = summary.incidents.iter().map(incident).collect();
        return Ok(Report {
            service: provider.clone(),
            provider,
            status,
            incidents,
        });
    }
    let mut matched = Vec::new();
    for name in wanted {
        let found = summary.components.iter().find(|component| {
            component.id == *name || component.name.eq_ignore_ascii_case(name.trim())
        });
        match found {
            Some(component) => matched.push(component),
            None => {
                let known: Vec<&str> = summary
                    .components
                    .iter()
                    .map(|component| component.name.as_str())
                    .take(20)
                    .collect();
                return Err(format!(
                    "{provider}'s page has no component `{name}` (it has: {})",
                    known.join(", ")
                ));
            }
        }
    }
    let status = matched
        .iter()
        .map(|component| component_status(&component.status))
        .max()
        .unwrap_or(ComponentStatus::Operational);
    let ids: Vec<&str> = matched
        .iter()
        .map(|component| component.id.as_str())
        .collect();
    let incidents = summary
        .incidents
        .iter()
        .filter(|open| {
            open.components.is_empty()
                || open
                    .components
                    .iter()
                    .any(|component| ids.contains(&component.id.as_str()))
        })
        .map(incident)
        .collect();
    Ok(Report {
        provider,
        service: matched
            .iter()
            .map(|component| component.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        status,
        incidents,
    })
}

fn incident(open: &Incident) -> ProviderIncident {
    ProviderIncident {
        id: open.id.clone(),
        title: open.name.clone(),
        url: open.shortlink.clone(),
    }
}

/// A component's status; one this reader does not know counts as degraded (the page says
/// something is not right).
fn component_status(status: &str) -> ComponentStatus {
    match status.to_ascii_lowercase().as_str() {
        "operational" => ComponentStatus::Operational,
        "under_maintenance" => ComponentStatus::UnderMaintenance,
        "partial_outage" => ComponentStatus::PartialOutage,
        "major_outage" => ComponentStatus::MajorOutage,
        _ => ComponentStatus::DegradedPerformance,
    }
}

/// The page's overall indicator: none, minor, major, critical (and maintenance).
fn indicator(indicator: &str) -> ComponentStatus {
    match indicator.to_ascii_lowercase().as_str() {
        "none" => ComponentStatus::Operational,
        "maintenance" => ComponentStatus::UnderMaintenance,
        "minor" => ComponentStatus::DegradedPerformance,
        "major" => ComponentStatus::PartialOutage,
        "critical" => ComponentStatus::MajorOutage,
        _ => ComponentStatus::DegradedPerformance,
    }
}
