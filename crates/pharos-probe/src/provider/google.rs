//! The Google Workspace Status Dashboard's `incidents.json`
//! (<https://www.google.com/appsstatus/dashboard/incidents.json>, described in the
//! dashboard's "JSON" link): every incident of the last year; open ones have `end: null`.
//! Incidents are matched by affected product (case-insensitively); `status_impact`
//! (`SERVICE_OUTAGE`, `SERVICE_DISRUPTION`, `SERVICE_INFORMATION`) sets the status.

use super::fetch::{Feed, Problem};
use super::{ProviderIncident, Report};
use pharos_core::ComponentStatus;
use serde::Deserialize;
use url::Url;

#[derive(Deserialize)]
struct Incident {
    id: String,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    external_desc: Option<String>,
    #[serde(default)]
    status_impact: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    affected_products: Vec<Product>,
    #[serde(default)]
    uri: Option<String>,
}

#[derive(Deserialize)]
struct Product {
    title: String,
}

pub(crate) async fn read(feed: &Feed, url: &Url, products: &[String]) -> Result<Report, Problem> {
    let body = feed
        .get(url.as_str(), None)
        .await
        .map_err(|error| error.into_problem())?;
    parse(&body, products)
}

pub(crate) fn parse(body: &[u8], products: &[String]) -> Result<Report, Problem> {
    let incidents: Vec<Incident> = serde_json::from_slice(body)
        .map_err(|error| format!("incidents.json cannot be read: {error}"))?;
    let concerns = |incident: &Incident| {
        products.iter().any(|product| {
            let product = product.trim();
            incident
                .affected_products
                .iter()
                .any(|affected| affected.title.eq_ignore_ascii_case(product))
                || incident
                    .service_name
                    .as_deref()
                    .is_some_and(|service| service.eq_ignore_ascii_case(product))
        })
    };
    let open: Vec<&Incident> = incidents
        .iter()
        .filter(|incident| incident.end.is_none() && concerns(incident))
        .collect();
    let status = open
        .iter()
        .map(|incident| impact(incident))
        .max()
        .unwrap_or(ComponentStatus::Operational);
    Ok(Report {
        provider: "Google".to_owned(),
        service: products.join(", "),
        status,
        incidents: open
            .iter()
            .map(|incident| ProviderIncident {
                id: incident.id.clone(),
                title: incident
                    .external_desc
                    .as_deref()
                    .unwrap_or("an incident")
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                url: incident
                    .uri
                    .as_ref()
                    .map(|uri| format!("https://www.google.com/appsstatus/dashboard/{uri}")),
            })
            .collect(),
    })
}

/// `status_impact` first; `severity` (high, medium, low) when it is missing.
fn impact(incident: &Incident) -> ComponentStatus {
    match incident
        .status_impact
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("SERVICE_OUTAGE") => ComponentStatus::MajorOutage,
        Some("SERVICE_DISRUPTION") => ComponentStatus::PartialOutage,
        Some("SERVICE_INFORMATION") => ComponentStatus::DegradedPerformance,
        _ => match incident
            .severity
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("high") => ComponentStatus::MajorOutage,
            Some("medium") => ComponentStatus::PartialOutage,
            _ => ComponentStatus::DegradedPerformance,
        },
    }
}
