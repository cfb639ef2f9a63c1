//! The admin's pages, server-rendered: log in, the live overview, one incident with its
//! update form, API tokens and the audit log. maud escapes every value; no scripts; every
//! form carries the session's CSRF token and works without JavaScript.

use crate::operator::Operator;
use crate::pages::{millis, time};
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use pharos_core::{ComponentStatus, Incident, IncidentPhase, Permission};
use pharos_engine::{EngineHandle, LiveState};
use pharos_store::{ApiTokenRecord, AuditEntry};

const STYLE: &str = include_str!("style.css");
const ADMIN_STYLE: &str = "form.stack{display:grid;gap:.6rem;padding:1rem}form.inline{display:inline}\
label{font-weight:600;font-size:.9rem}input,select,textarea,button{font:inherit;padding:.55rem .6rem;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg);width:100%}\
textarea{min-height:8rem}button{background:var(--fg);color:var(--bg);font-weight:600;cursor:pointer;width:auto}\
button.link{background:none;color:var(--muted);border:0;padding:0;text-decoration:underline}\
.notice{border:2px solid var(--ok);border-radius:8px;padding:.75rem 1rem;margin:1rem 0}\
.problem{border:2px solid var(--major);border-radius:8px;padding:.75rem 1rem;margin:1rem 0}\
.secret{font-family:ui-monospace,monospace;word-break:break-all;user-select:all}.checks label{font-weight:400;margin-right:1rem}fieldset.affected{border:1px solid var(--line);border-radius:6px;margin:.5rem 0}fieldset.affected label{display:flex;justify-content:space-between;gap:.5rem;align-items:center;font-weight:400}fieldset.affected select{width:auto;max-width:60%}.checks input{width:auto}\
td.wrap{word-break:break-word}header.page nav{display:flex;flex-wrap:wrap;gap:0 1rem}header.page nav a{margin-left:0;white-space:nowrap}.row{flex-wrap:wrap}.tag{white-space:nowrap}.who{margin:.5rem 0 1rem}button.link{font-weight:400;font-size:inherit}.tag{font-size:.75rem;color:var(--muted);border:1px solid var(--line);border-radius:4px;padding:0 .3rem;margin-left:.3rem}";

/// A page of the admin, with the navigation and the logout button when logged in.
pub(crate) fn layout(title: &str, operator: Option<&Operator>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " · pharos admin" }
                style { (PreEscaped(STYLE)) (PreEscaped(ADMIN_STYLE)) }
            }
            body {
                main {
                    header.page {
                        h1 { a href="/admin" style="text-decoration:none" { "pharos admin" } }
                        @if operator.is_some() {
                            nav {
                                a href="/admin" { "Overview" }
                                a href="/admin/maintenance" { "Maintenance" }
                                a href="/admin/audit" { "Audit log" }
                                a href="/admin/tokens" { "API tokens" }
                                @if operator.is_some_and(|operator| operator.may(Permission::Admin)) {
                                    a href="/admin/users" { "Users" }
                                }
                                a href="/" { "Public page" }
                            }
                        }
                    }
                    @if let Some(operator) = operator {
                        div.small.who {
                            "Logged in as " b { (operator.name) } " (" (operator.role) ") · "
                            a href="/admin/password" { "Change password" } " · "
                            form.inline method="post" action="/admin/logout" {
                                input type="hidden" name="csrf" value=(operator.csrf());
                                button.link type="submit" { "Log out" }
                            }
                        }
                    }
                    (body)
                }
            }
        }
    }
}

pub(crate) fn login(problem: Option<&str>, name: &str) -> Markup {
    layout(
        "Log in",
        None,
        html! {
            @if let Some(problem) = problem {
                div.problem role="alert" { (problem) }
            }
            section.card {
                h2 { "Log in" }
                form.stack method="post" action="/admin/login" {
                    label for="name" { "Name" }
                    input #name name="name" value=(name) autocomplete="username" required autofocus;
                    label for="password" { "Password" }
                    input #password name="password" type="password" autocomplete="current-password" required;
                    button type="submit" { "Log in" }
                }
            }
        },
    )
}

/// A short page saying what went wrong (or what happened), with a way back.
pub(crate) fn message(operator: Option<&Operator>, title: &str, text: &str, back: &str) -> Markup {
    layout(
        title,
        operator,
        html! {
            div.problem role="alert" { (text) }
            p { a href=(back) { "Back" } }
        },
    )
}

fn status_class(status: &str) -> String {
    format!("s-{status}")
}

/// Everything live: open incidents, then each component with its monitors' latest checks.
pub(crate) fn overview(
    operator: &Operator,
    engine: &EngineHandle,
    live: &LiveState,
    recent: &[Incident],
) -> Markup {
    let topology = &engine.topology;
    layout(
        "Overview",
        Some(operator),
        html! {
            @if operator.may(Permission::Incidents) {
                p { a href="/admin/incidents/new" { "Open an incident by hand" } }
            }
            section.card {
                h2 { "Open incidents (" (live.open_incidents.len()) ")" }
                @if live.open_incidents.is_empty() {
                    p.incident.small { "None: every component is as it should be, or nobody noticed yet." }
                }
                @for incident in &live.open_incidents {
                    (incident_row(incident))
                }
            }
            section.card {
                h2 { "Components" }
                @for component in &topology.components {
                    @let status = live.components.get(&component.id);
                    div.component.(status_class(status.map_or("pending", |(status, _)| status.as_str()))) {
                        div.row {
                            span.name { (component.name) }
                            span.status {
                                (status.map_or("Pending", |(status, _)| status.label()))
                            }
                        }
                        @if let Some((_, since)) = status {
                            div.small { "since " (time(*since)) }
                        }
                        div.scroll {
                            table {
                                tr { th { "Monitor" } th { "Status" } th { "Last check" } th { "Latency" } th { "Reason" } }
                                @for index in &component.monitors {
                                    @let monitor = &topology.monitors[*index];
                                    @let latest = live.monitors.get(&monitor.id);
                                    tr {
                                        td { (monitor.name) }
                                        @match latest {
                                            Some(latest) => {
                                                td.(format!("p-{}", latest.confirmed.as_str())) { (latest.confirmed.as_str()) }
                                                td { (time(latest.at)) }
                                                td { (millis(latest.outcome.latency)) }
                                                td.wrap { (latest.outcome.reason.as_deref().unwrap_or("")) }
                                            }
                                            None => { td.small colspan="4" { "not checked yet" } }
                                        }
                                    }
                                    @if let Some(cells) = live.regions.get(&monitor.id) {
                                        @for cell in cells {
                                            tr.small {
                                                td { "↳ " (cell.region) }
                                                td { (cell.status.map_or("unknown", |status| status.as_str())) }
                                                td { @if let Some(last) = &cell.last { (time(last.at)) } }
                                                td { @if let Some(last) = &cell.last { (millis(last.outcome.latency)) } }
                                                td.wrap { (cell.reason.as_deref().unwrap_or("")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { "Recently resolved" }
                @if recent.is_empty() {
                    p.incident.small { "No incident yet." }
                }
                @for incident in recent {
                    (incident_row(incident))
                }
            }
        },
    )
}

fn incident_row(incident: &Incident) -> Markup {
    html! {
        div.incident.(status_class(incident.impact.as_str())) {
            h3 { a href=(format!("/admin/incidents/{}", incident.id)) { (incident.title) } }
            div.small {
                span.status { (incident.impact.label()) } " · " (incident.phase.label())
                " · started " (time(incident.started_at))
                @if let Some(resolved) = incident.resolved_at { " · resolved " (time(resolved)) }
            }
        }
    }
}

/// What an operator has typed into an incident form, kept when it is refused so that nothing
/// is lost, or filled in from a template.
#[derive(Clone, Debug, Default)]
pub(crate) struct Draft {
    pub(crate) component: String,
    pub(crate) title: String,
    pub(crate) impact: String,
    pub(crate) status: String,
    pub(crate) message: String,
    pub(crate) expected_by: String,
    pub(crate) next_update_by: String,
    /// Other components' impacts as chosen (`affected.<id>` fields; empty: not affected).
    pub(crate) affected: Vec<(String, String)>,
}

/// The ready-made words an operator starts from, one click each: (name, label, status,
/// message).
pub(crate) const TEMPLATES: [(&str, &str, &str, &str); 3] = [
    ("acknowledge", "Acknowledge", "investigating", "We are aware of the problem and are investigating. We will post an update as soon as we know more."),
    ("identified", "Cause found", "identified", "We have identified the cause and are working on a fix."),
    ("monitoring", "Fix applied", "monitoring", "A fix has been applied and we are monitoring the results."),
];

impl Draft {
    pub(crate) fn from_template(name: Option<&str>) -> Self {
        let template = TEMPLATES.iter().find(|(key, ..)| Some(*key) == name);
        Draft {
            status: template
                .map_or("investigating", |(_, _, status, _)| status)
                .to_owned(),
            message: template.map_or("", |(_, _, _, message)| message).to_owned(),
            ..Draft::default()
        }
    }

    pub(crate) fn from_fields(fields: &[(String, String)]) -> Self {
        let get = |name: &str| {
            fields
                .iter()
                .find(|(key, _)| key == name)
                .map_or_else(String::new, |(_, value)| value.clone())
        };
        Draft {
            component: get("component"),
            title: get("title"),
            impact: get("impact"),
            status: get("status"),
            message: get("message"),
            expected_by: get("expected_by"),
            next_update_by: get("next_update_by"),
            affected: fields
                .iter()
                .filter_map(|(key, value)| {
                    key.strip_prefix("affected.")
                        .map(|id| (id.to_owned(), value.clone()))
                })
                .collect(),
        }
    }

    /// What was chosen for `component` among the other affected ones, if the form had it.
    fn affected_choice(&self, component: &str) -> Option<&str> {
        self.affected
            .iter()
            .find(|(id, _)| id == component)
            .map(|(_, value)| value.as_str())
    }
}

/// A choice of impact for each component but `skip` ("Not affected" first), for an incident
/// opened by hand; `current` gives each one's impact now.
fn affected_selects(
    components: &[(String, String)],
    skip: &str,
    current: impl Fn(&str) -> String,
) -> Markup {
    html! {
        fieldset.affected {
            legend { "Other affected components" }
            @for (id, name) in components.iter().filter(|(id, _)| id != skip) {
                @let chosen = current(id);
                label {
                    span { (name) }
                    select name=(format!("affected.{id}")) aria-label=(format!("Impact on {name}")) {
                        option value="" selected[chosen.is_empty()] { "Not affected" }
                        @for status in [ComponentStatus::DegradedPerformance, ComponentStatus::PartialOutage, ComponentStatus::MajorOutage] {
                            option value=(status.as_str()) selected[chosen == status.as_str()] { (status.label()) }
                        }
                    }
                }
            }
        }
    }
}

fn template_links(base: &str) -> Markup {
    html! {
        p.small {
            "Start from: "
            @for (name, label, ..) in TEMPLATES {
                a href=(format!("{base}?template={name}")) { (label) } " "
            }
        }
    }
}

fn phase_select(selected: &str) -> Markup {
    html! {
        label for="status" { "Status" }
        select #status name="status" {
            @for phase in [IncidentPhase::Investigating, IncidentPhase::Identified, IncidentPhase::Monitoring] {
                option value=(phase.as_str()) selected[phase.as_str() == selected] { (phase.label()) }
            }
        }
    }
}

fn impact_select(selected: &str) -> Markup {
    html! {
        label for="impact" { "Impact" }
        select #impact name="impact" {
            @for status in [ComponentStatus::DegradedPerformance, ComponentStatus::PartialOutage, ComponentStatus::MajorOutage] {
                option value=(status.as_str()) selected[status.as_str() == selected] { (status.label()) }
            }
        }
    }
}

fn message_and_times(draft: &Draft) -> Markup {
    html! {
        label for="message" { "Message (public: on the page, in the feeds and notifications; Markdown)" }
        textarea #message name="message" required maxlength="5000" { (draft.message) }
        label for="expected_by" { "Expected back by (UTC, optional)" }
        input #expected_by name="expected_by" type="datetime-local" value=(draft.expected_by);
        label for="next_update_by" { "Next update by (UTC, optional)" }
        input #next_update_by name="next_update_by" type="datetime-local" value=(draft.next_update_by);
    }
}

/// The form to open an incident by hand.
pub(crate) fn new_incident(
    operator: &Operator,
    components: &[(String, String)],
    draft: &Draft,
    problem: Option<&str>,
) -> Markup {
    layout(
        "Open an incident",
        Some(operator),
        html! {
            @if let Some(problem) = problem { div.problem role="alert" { (problem) } }
            section.card {
                h2 { "Open an incident" }
                div.incident { (template_links("/admin/incidents/new")) }
                form.stack method="post" action="/admin/incidents" {
                    input type="hidden" name="csrf" value=(operator.csrf());
                    label for="component" { "Component" }
                    select #component name="component" {
                        @for (id, name) in components {
                            option value=(id) selected[*id == draft.component] { (name) }
                        }
                    }
                    label for="title" { "Title" }
                    input #title name="title" required maxlength="200" value=(draft.title);
                    (impact_select(&draft.impact))
                    @if components.len() > 1 {
                        (affected_selects(components, "", |id| draft.affected_choice(id).unwrap_or("").to_owned()))
                    }
                    (phase_select(&draft.status))
                    (message_and_times(draft))
                    button type="submit" { "Open incident" }
                }
            }
        },
    )
}

/// One incident: its facts, every update, and (when allowed) the forms to update, resolve or
/// reopen it.
pub(crate) fn incident(
    operator: &Operator,
    incident: &Incident,
    components: &[(String, String)],
    component_name: &str,
    written: Option<&pharos_store::Postmortem>,
    draft: &Draft,
    problem: Option<&str>,
) -> Markup {
    let base = format!("/admin/incidents/{}", incident.id);
    let (expected_by, next_update_by) = incident.promised_times();
    let may = operator.may(Permission::Incidents);
    layout(
        &incident.title,
        Some(operator),
        html! {
            @if let Some(problem) = problem { div.problem role="alert" { (problem) } }
            section.card.(status_class(incident.impact.as_str())) {
                h2 { (incident.title) }
                div.incident {
                    div.row {
                        span { (component_name) ": " span.status { (incident.impact.label()) } }
                        span {
                            (incident.phase.label())
                            @if incident.is_declared() { span.tag { "opened by hand" } }
                            @if incident.is_false_alarm() { span.tag { "false alarm" } }
                        }
                    }
                    p.small {
                        "Started " (time(incident.started_at)) " · detected " (time(incident.detected_at))
                        @if let Some(resolved) = incident.resolved_at { " · resolved " (time(resolved)) }
                    }
                    @let others: Vec<_> = incident.affected_dependents().collect();
                    @if !others.is_empty() {
                        p {
                            "Also affected: "
                            @for (index, dependent) in others.iter().enumerate() {
                                @if index > 0 { ", " }
                                (components.iter().find(|(id, _)| id == dependent.component.as_str()).map_or(dependent.component.as_str(), |(_, name)| name.as_str()))
                                " (" (dependent.status.label().to_lowercase()) ")"
                            }
                        }
                    }
                    @if expected_by.is_some() || next_update_by.is_some() {
                        p {
                            @if let Some(at) = expected_by { "Expected back by " (time(at)) }
                            @if expected_by.is_some() && next_update_by.is_some() { " · " }
                            @if let Some(at) = next_update_by { "next update by " (time(at)) }
                        }
                    }
                    p.small { a href=(format!("/incidents/{}", incident.id)) { "Public page" } }
                }
            }
            @if incident.is_open() && may {
                section.card {
                    h2 { "Post an update" }
                    div.incident { (template_links(&base)) }
                    form.stack method="post" action=(format!("{base}/updates")) {
                        input type="hidden" name="csrf" value=(operator.csrf());
                        (phase_select(&draft.status))
                        (message_and_times(draft))
                        label for="title" { "Title" }
                        input #title name="title" maxlength="200" value=(if draft.title.is_empty() { incident.title.as_str() } else { draft.title.as_str() });
                        @if incident.is_declared() {
                            (impact_select(if draft.impact.is_empty() { incident.impact.as_str() } else { draft.impact.as_str() }))
                            @if components.len() > 1 {
                                (affected_selects(components, incident.component.as_str(), |id| match draft.affected_choice(id) {
                                    Some(chosen) => chosen.to_owned(),
                                    None => incident
                                        .affected_dependents()
                                        .find(|dependent| dependent.component.as_str() == id)
                                        .map_or_else(String::new, |dependent| dependent.status.as_str().to_owned()),
                                }))
                            }
                        }
                        button type="submit" { "Post update" }
                    }
                }
                section.card {
                    h2 { "Resolve" }
                    form.stack method="post" action=(format!("{base}/resolve")) {
                        input type="hidden" name="csrf" value=(operator.csrf());
                        label for="resolution" { "Message" }
                        textarea #resolution name="message" required maxlength="5000" { "The problem is resolved and the service is operating normally." }
                        button type="submit" { "Resolve incident" }
                    }
                }
            }
            @if !incident.is_open() && may {
                section.card {
                    h2 { "Reopen" }
                    form.stack method="post" action=(format!("{base}/reopen")) {
                        input type="hidden" name="csrf" value=(operator.csrf());
                        (phase_select(&draft.status))
                        (message_and_times(draft))
                        button type="submit" { "Reopen incident" }
                    }
                }
            }
            section.card {
                h2 { "Updates" }
                @for (index, update) in incident.updates.iter().enumerate().rev() {
                    div.incident {
                        div.row {
                            b { (update.phase.label()) }
                            span.small {
                                (time(update.at))
                                span.tag { @if update.automatic { "automatic" } @else { "operator" } }
                                @if update.edited_at.is_some() { span.tag { "edited" } }
                            }
                        }
                        p style="white-space:pre-wrap;margin:.25rem 0 0" { (update.message) }
                        @if may {
                            details {
                                summary.small { "Correct or delete" }
                                form.stack method="post" action=(format!("{base}/updates/{}/edit", index + 1)) {
                                    input type="hidden" name="csrf" value=(operator.csrf());
                                    textarea name="message" required maxlength="5000" aria-label="Corrected message" { (update.message) }
                                    button type="submit" { "Save correction" }
                                }
                                @if index > 0 {
                                    form.stack method="post" action=(format!("{base}/updates/{}/delete", index + 1)) {
                                        input type="hidden" name="csrf" value=(operator.csrf());
                                        button type="submit" { "Delete this update" }
                                    }
                                }
                            }
                        }
                        @if update.expected_by.is_some() || update.next_update_by.is_some() {
                            p.small {
                                @if let Some(at) = update.expected_by { "Expected back by " (time(at)) " " }
                                @if let Some(at) = update.next_update_by { "Next update by " (time(at)) }
                            }
                        }
                    }
                }
            }
            @if may && !incident.is_false_alarm() {
                section.card {
                    h2 { "False alarm?" }
                    form.stack method="post" action=(format!("{base}/false-alarm")) {
                        input type="hidden" name="csrf" value=(operator.csrf());
                        label for="reason" { "Why the checks were wrong (kept in the timeline and the audit log; the incident leaves the public page, feeds and APIs)" }
                        input #reason name="reason" required maxlength="200";
                        button type="submit" { "Mark as a false alarm" }
                    }
                }
            }
            section.card {
                h2 { "Postmortem" }
                div.incident {
                    p.small {
                        "Time to detect " (pharos_core::postmortem::span(incident.time_to_detect()))
                        " · to acknowledge " (incident.time_to_acknowledge().map_or_else(|| "—".to_owned(), pharos_core::postmortem::span))
                        " · to recover " (incident.time_to_recover().map_or_else(|| "—".to_owned(), pharos_core::postmortem::span))
                        " · " a href=(format!("/incidents/{}/postmortem.md", incident.id)) { "Markdown export" }
                    }
                }
                @if may {
                    form.stack method="post" action=(format!("{base}/postmortem")) {
                        input type="hidden" name="csrf" value=(operator.csrf());
                        label for="postmortem" { "What happened, why, and what changes (Markdown; public on the incident's page)" }
                        textarea #postmortem name="postmortem" maxlength="50000" { (written.map_or("", |written| written.text.as_str())) }
                        button type="submit" { "Save postmortem" }
                    }
                } @else if let Some(written) = written {
                    p style="white-space:pre-wrap" { (written.text) }
                }
            }
            section.card {
                h2 { "Timeline" }
                ul.timeline.incident {
                    @for entry in &incident.timeline {
                        li { (time(entry.at)) " · " (entry.detail) }
                    }
                }
            }
        },
    )
}

/// The operator's API tokens (every user's, for an admin), a new one shown once, and the
/// form to make one.
pub(crate) fn tokens(
    operator: &Operator,
    tokens: &[ApiTokenRecord],
    new_token: Option<&str>,
    problem: Option<&str>,
) -> Markup {
    let when =
        |at: Option<DateTime<Utc>>| html! { @if let Some(at) = at { (time(at)) } @else { "—" } };
    layout(
        "API tokens",
        Some(operator),
        html! {
            @if let Some(token) = new_token {
                div.notice role="status" {
                    p { "Your new token, shown this once: copy it now." }
                    p.secret { (token) }
                }
            }
            @if let Some(problem) = problem { div.problem role="alert" { (problem) } }
            section.card {
                h2 { "Make a token" }
                form.stack method="post" action="/admin/tokens" {
                    input type="hidden" name="csrf" value=(operator.csrf());
                    label for="label" { "What it is for" }
                    input #label name="label" required maxlength="100" placeholder="the on-call laptop's CLI";
                    div.checks {
                        @for scope in Permission::ALL {
                            @if operator.role.allows(scope) {
                                label { input type="checkbox" name="scope" value=(scope.as_str()) checked[scope == Permission::Read]; " " (scope.as_str()) }
                            }
                        }
                    }
                    button type="submit" { "Make token" }
                }
            }
            section.card {
                h2 { "Tokens" }
                div.scroll {
                    table {
                        tr { th { "Id" } th { "Owner" } th { "For" } th { "Scopes" } th { "Made" } th { "Last used" } th { "" } }
                        @for token in tokens {
                            tr {
                                td { code { (token.id) } }
                                td { (token.user) }
                                td.wrap { (token.label) }
                                td { (Permission::join(&token.scopes)) }
                                td { (time(token.created_at)) }
                                td { (when(token.last_used_at)) }
                                td {
                                    @if let Some(revoked) = token.revoked_at {
                                        "revoked " (time(revoked))
                                    } @else {
                                        form.inline method="post" action=(format!("/admin/tokens/{}/revoke", token.id)) {
                                            input type="hidden" name="csrf" value=(operator.csrf());
                                            button.link type="submit" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The newest entries of the audit log, with a link to older ones.
pub(crate) fn audit(operator: &Operator, entries: &[AuditEntry], older: Option<i64>) -> Markup {
    layout(
        "Audit log",
        Some(operator),
        html! {
            section.card {
                h2 { "Audit log" }
                div.scroll {
                    table {
                        tr { th { "When" } th { "Who" } th { "What" } th { "On" } th { "Detail" } th { "From" } }
                        @for entry in entries {
                            tr {
                                td { (time(entry.at)) }
                                td { (entry.actor) }
                                td { (entry.action) }
                                td { (entry.target.as_deref().unwrap_or("")) }
                                td.wrap { (entry.detail.as_deref().unwrap_or("")) }
                                td { (entry.address.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
                @if let Some(before) = older {
                    p.incident { a href=(format!("/admin/audit?before={before}")) { "Older entries" } }
                }
            }
        },
    )
}

/// Every maintenance window, and (when allowed) the form to schedule one and buttons to
/// cancel scheduled ones.
pub(crate) fn maintenance(
    operator: &Operator,
    windows: &[(pharos_core::maintenance::MaintenanceWindow, bool)],
    components: &[(String, String)],
    request: &crate::maintenance_api::WindowRequest,
    problem: Option<&str>,
) -> Markup {
    let now = Utc::now();
    let may = operator.may(Permission::Incidents);
    layout(
        "Maintenance",
        Some(operator),
        html! {
            @if let Some(problem) = problem { div.problem role="alert" { (problem) } }
            section.card {
                h2 { "Maintenance windows" }
                @if windows.is_empty() { p.incident.small { "None scheduled." } }
                @for (window, scheduled) in windows {
                    div.incident {
                        div.row {
                            b { (window.title) }
                            span.small {
                                @if *scheduled { "scheduled" } @else { span.tag { "configuration file" } }
                            }
                        }
                        p.small {
                            @match window.current_or_next(now) {
                                Some(next) if next.is_under_way(now) => { "Under way until " (time(next.end)) }
                                Some(next) => { "Next: " (time(next.start)) " to " (time(next.end)) }
                                None => { "Over" }
                            }
                            @if let Some(every) = window.every { " · every " (pharos_core::postmortem::span(every.to_std().unwrap_or_default())) }
                            " · " (window.components.iter().map(|id| id.as_str()).collect::<Vec<_>>().join(", "))
                        }
                        @if let Some(message) = &window.message { p.small { (message) } }
                        @if *scheduled && may {
                            form.inline method="post" action=(format!("/admin/maintenance/{}/cancel", window.id)) {
                                input type="hidden" name="csrf" value=(operator.csrf());
                                button.link type="submit" { "Cancel this window" }
                            }
                        }
                    }
                }
            }
            @if may {
                section.card {
                    h2 { "Schedule maintenance" }
                    form.stack method="post" action="/admin/maintenance" {
                        input type="hidden" name="csrf" value=(operator.csrf());
                        label for="title" { "Title" }
                        input #title name="title" required maxlength="200" value=(request.title);
                        div.checks {
                            @for (id, name) in components {
                                label { input type="checkbox" name="component" value=(id) checked[request.components.contains(id)]; " " (name) }
                            }
                        }
                        label for="start" { "Starts (UTC)" }
                        input #start name="start" type="datetime-local" required value=(request.start);
                        label for="duration" { "Lasts (30m, 2h)" }
                        input #duration name="duration" required value=(request.duration.as_deref().unwrap_or(""));
                        label for="every" { "Repeats every (7d; empty: once)" }
                        input #every name="every" value=(request.every.as_deref().unwrap_or(""));
                        label for="message" { "What readers should know" }
                        textarea #message name="message" maxlength="5000" { (request.message.as_deref().unwrap_or("")) }
                        button type="submit" { "Schedule" }
                    }
                }
            }
        },
    )
}
