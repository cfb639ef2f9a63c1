//! The public site's documents by path: the status page, one page per component and per
//! incident, history, feeds and the JSON API, each rendered from one view on demand.

use crate::badges::{self, Badge};
use crate::snapshot::Rendered;
use crate::statuspage::{self, V2};
use crate::view::StatusView;
use crate::{api, feeds, pages};

pub(crate) const HTML: &str = "text/html; charset=utf-8";
pub(crate) const JSON: &str = "application/json";

/// One document of the site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Document {
    Index,
    History,
    Atom,
    Rss,
    Status,
    Components,
    Incidents,
    OpenApi,
    Component(String),
    IncidentPage(i64),
    IncidentJson(i64),
    /// An incident's postmortem with its timeline, as Markdown.
    Postmortem(i64),
    /// A document of the Statuspage-compatible API.
    Statuspage(V2),
    Badge(Badge),
    NotFound,
}

/// Paths rendered as soon as a view is ready, so that no reader of the overview waits for
/// a render.
pub(crate) const AHEAD: [&str; 2] = ["/", "/api/v1/status"];

/// The document at `path` (already without a trailing slash), if the view has one there.
/// Every JSON answer is also at `<path>.json`, the form a static export can serve.
pub(crate) fn resolve(view: &StatusView, path: &str) -> Option<Document> {
    if let Some(api_path) = path.strip_suffix(".json") {
        return resolve(view, api_path).filter(|document| document.is_json());
    }
    let document = match path {
        "/" => Document::Index,
        "/history" => Document::History,
        "/feed.atom" => Document::Atom,
        "/feed.rss" => Document::Rss,
        "/api/v1/status" => Document::Status,
        "/api/v1/components" => Document::Components,
        "/api/v1/incidents" => Document::Incidents,
        "/api/v1/openapi" => Document::OpenApi,
        _ => {
            if let Some(document) = V2::at(path) {
                return Some(Document::Statuspage(document));
            }
            if path.starts_with("/badge") {
                return Badge::at(view, path).map(Document::Badge);
            }
            if let Some(id) = path.strip_prefix("/components/") {
                return view
                    .component(id)
                    .map(|_| Document::Component(id.to_owned()));
            }
            if let Some(id) = path.strip_prefix("/api/v1/incidents/") {
                return incident_id(view, id).map(Document::IncidentJson);
            }
            if let Some(id) = path
                .strip_prefix("/incidents/")
                .and_then(|rest| rest.strip_suffix("/postmortem.md"))
            {
                return incident_id(view, id).map(Document::Postmortem);
            }
            if let Some(id) = path.strip_prefix("/incidents/") {
                return incident_id(view, id).map(Document::IncidentPage);
            }
            return None;
        }
    };
    Some(document)
}

fn incident_id(view: &StatusView, text: &str) -> Option<i64> {
    let id: i64 = text.parse().ok()?;
    (id.to_string() == text && view.all_incidents().any(|incident| incident.id == id)).then_some(id)
}

impl Document {
    fn is_json(&self) -> bool {
        matches!(
            self,
            Document::Status
                | Document::Components
                | Document::Incidents
                | Document::OpenApi
                | Document::IncidentJson(_)
                | Document::Statuspage(_)
        )
    }
}

/// Every path of the site, for a static export: pages and feeds, and each JSON answer once,
/// at its `.json` form.
pub(crate) fn paths(view: &StatusView) -> Vec<String> {
    let mut paths: Vec<String> = ["/", "/history", "/feed.atom", "/feed.rss"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    paths.extend(
        [
            "/api/v1/status.json",
            "/api/v1/components.json",
            "/api/v1/incidents.json",
            "/api/v1/openapi.json",
        ]
        .into_iter()
        .map(str::to_owned),
    );
    paths.extend(V2::ALL.iter().map(|(_, path)| format!("{path}.json")));
    paths.extend(Badge::paths(view));
    for group in &view.groups {
        for component in &group.components {
            paths.push(format!("/components/{}", component.id));
        }
    }
    for incident in view.all_incidents() {
        paths.push(format!("/incidents/{}", incident.id));
        paths.push(format!("/incidents/{}/postmortem.md", incident.id));
        paths.push(format!("/api/v1/incidents/{}.json", incident.id));
    }
    paths
}

/// Renders one document.
pub(crate) fn render(view: &StatusView, document: &Document) -> Rendered {
    match document {
        Document::Index => Rendered::new(HTML, pages::index(view).into_string()),
        Document::History => Rendered::new(HTML, pages::history(view).into_string()),
        Document::Atom => Rendered::new("application/atom+xml; charset=utf-8", feeds::atom(view)),
        Document::Rss => Rendered::new("application/rss+xml; charset=utf-8", feeds::rss(view)),
        Document::Status => Rendered::new(JSON, json(&api::status(view))),
        Document::Components => Rendered::new(JSON, json(&api::components(view))),
        Document::Incidents => Rendered::new(JSON, json(&api::incidents(view))),
        Document::OpenApi => Rendered::new(JSON, include_str!("openapi.json").to_owned()),
        Document::Component(id) => match view.component(id) {
            Some(component) => {
                Rendered::new(HTML, pages::component_page(view, component).into_string())
            }
            None => not_found(view),
        },
        Document::Postmortem(id) => match view.all_incidents().find(|found| found.id == *id) {
            Some(incident) => Rendered::new(
                "text/markdown; charset=utf-8",
                pharos_core::postmortem::markdown(
                    incident,
                    view.component_name(incident),
                    view.postmortems
                        .get(id)
                        .map(|written| written.text.as_str()),
                ),
            ),
            None => not_found(view),
        },
        Document::IncidentPage(id) => match view.all_incidents().find(|found| found.id == *id) {
            Some(incident) => {
                Rendered::new(HTML, pages::incident_page(view, incident).into_string())
            }
            None => not_found(view),
        },
        Document::IncidentJson(id) => match view.all_incidents().find(|found| found.id == *id) {
            Some(incident) => Rendered::new(JSON, json(&api::incident_dto(view, incident, true))),
            None => not_found(view),
        },
        Document::Statuspage(document) => Rendered::new(JSON, statuspage::render(view, *document)),
        Document::Badge(badge) => match badge.render(view) {
            Some(svg) => Rendered::new(badges::SVG, svg),
            None => not_found(view),
        },
        Document::NotFound => not_found(view),
    }
}

fn not_found(view: &StatusView) -> Rendered {
    Rendered::with_status(HTML, pages::not_found(view).into_string(), 404)
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_owned())
}
