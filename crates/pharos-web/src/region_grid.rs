//! The component × region grid of the status page: for components checked from several
//! regions, what each region sees (status and last latency), so that "is it just us, or
//! everyone?" has an answer at a glance.

use crate::view::{ComponentView, StatusView};
use maud::{html, Markup};
use pharos_core::ProbeStatus;
use std::time::Duration;

/// What one region says of one component: the worst of its monitors there.
struct Cell {
    status: Option<ProbeStatus>,
    latency: Option<Duration>,
    reason: Option<String>,
}

/// The regions any of these components is checked from, in the order met.
fn regions<'a>(components: impl Iterator<Item = &'a ComponentView>) -> Vec<String> {
    let mut regions: Vec<String> = Vec::new();
    for component in components {
        for monitor in &component.monitors {
            for cell in &monitor.regions {
                if !regions.contains(&cell.region) {
                    regions.push(cell.region.clone());
                }
            }
        }
    }
    regions
}

fn is_regional(component: &ComponentView) -> bool {
    component
        .monitors
        .iter()
        .any(|monitor| monitor.regions.len() > 1)
}

fn severity(status: Option<ProbeStatus>) -> u8 {
    match status {
        Some(ProbeStatus::Down) => 4,
        Some(ProbeStatus::Degraded) => 3,
        Some(ProbeStatus::Up) => 1,
        Some(ProbeStatus::Unknown) | None => 0,
    }
}

fn cell(component: &ComponentView, region: &str) -> Option<Cell> {
    let mut found: Option<Cell> = None;
    for monitor in &component.monitors {
        let Some(view) = monitor.regions.iter().find(|view| view.region == region) else {
            continue;
        };
        let latency = view.last.map(|(_, latency)| latency);
        match &mut found {
            None => {
                found = Some(Cell {
                    status: view.status,
                    latency,
                    reason: view.reason.clone(),
                })
            }
            Some(known) => {
                if severity(view.status) > severity(known.status) {
                    known.status = view.status;
                    known.reason = view.reason.clone();
                }
                known.latency = known.latency.max(latency);
            }
        }
    }
    found
}

fn cell_markup(cell: Option<Cell>) -> Markup {
    match cell {
        None => html! { td.small { "–" } },
        Some(cell) => {
            let key = cell.status.map_or("unknown", ProbeStatus::as_str);
            let label = match cell.status {
                None => "no word",
                Some(status) => status.as_str(),
            };
            let title = cell.reason.clone().unwrap_or_default();
            html! {
                td class=(format!("p-{key}")) title=(title) {
                    (label)
                    @if let Some(latency) = cell.latency {
                        br; span.small { (crate::pages::millis(latency)) }
                    }
                }
            }
        }
    }
}

/// The grid of every component checked from several regions; nothing when there is none.
pub(crate) fn overview(view: &StatusView) -> Markup {
    let components: Vec<&ComponentView> = view
        .groups
        .iter()
        .flat_map(|group| group.components.iter())
        .filter(|component| is_regional(component))
        .collect();
    if components.is_empty() {
        return html! {};
    }
    let regions = regions(components.iter().copied());
    html! {
        section.card.regions {
            h2 { "By region" }
            div.scroll {
                table.grid {
                    tr { th { "Component" } @for region in &regions { th { (region) } } }
                    @for component in &components {
                        tr {
                            td { a href=(format!("/components/{}", component.id)) { (component.name) } }
                            @for region in &regions { (cell_markup(cell(component, region))) }
                        }
                    }
                }
            }
        }
    }
}

/// A component's checks × regions, on its own page.
pub(crate) fn component(component: &ComponentView) -> Markup {
    if !is_regional(component) {
        return html! {};
    }
    let regions = regions(std::iter::once(component));
    html! {
        div.scroll {
            table.grid {
                tr { th { "Check" } @for region in &regions { th { (region) } } }
                @for monitor in component.monitors.iter().filter(|monitor| !monitor.regions.is_empty()) {
                    tr {
                        td { (monitor.name) }
                        @for region in &regions {
                            (cell_markup(monitor.regions.iter().find(|view| &view.region == region).map(|view| Cell {
                                status: view.status,
                                latency: view.last.map(|(_, latency)| latency),
                                reason: view.reason.clone(),
                            })))
                        }
                    }
                }
            }
        }
    }
}
