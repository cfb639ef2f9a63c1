//! The admin's pages, server-rendered: log in, the live overview, one incident with its
//! update form, API tokens and the audit log. maud escapes every value; no scripts; every
//! form carries the session's CSRF token and works without JavaScript.

use crate::operator::Operator;
use crate::pages::{millis, time};
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use pharos_core::{Incident, IncidentPhase, Permission};
use pharos_engine::{EngineHandle, LiveState};
use pharos_store::{ApiTokenRecord, AuditEntry};

const STYLE: &str = include_str!("style.css");
const ADMIN_STYLE: &str = "form.stack{display:grid;gap:.6rem;padding:1rem}form.inline{display:inline}\
label{font-weight:600;font-size:.9rem}input,select,textarea,button{font:inherit;padding:.55rem .6rem;border:1px solid var(--line);border-radius:6px;background:var(--card);color:var(--fg);width:100%}\
textarea{min-height:8rem}button{background:var(--fg);color:var(--bg);font-weight:600;cursor:pointer;width:auto}\
button.link{background:none;color:var(--muted);border:0;padding:0;text-decoration:underline}\
.notice{border:2px solid var(--ok);border-radius:8px;padding:.75rem 1rem;margin:1rem 0}\
.problem{border:2px solid var(--major);border-radius:8px;padding:.75rem 1rem;margin:1rem 0}\
.secret{font-family:ui-monospace,monospace;word-break:break-all;user-select:all}.checks label{font-weight:400;margin-right:1rem}.checks input{width:auto}\
td.wrap{word-break:break-word}.tag{font-size:.75rem;color:var(--muted);border:1px solid var(--line);border-radius:4px;padding:0 .3rem;margin-left:.3rem}";

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
                                a href="/admin/audit" { "Audit log" }
                                a href="/admin/tokens" { "API tokens" }
                                a href="/" { "Public page" }
                            }
                        }
                    }
                    @if let Some(operator) = operator {
                        p.small {
                            "Logged in as " b { (operator.name) } " (" (operator.role) ") · "
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

/// One incident: its facts, every update, and (when open and allowed) the update form.
pub(crate) fn incident(
    operator: &Operator,
    incident: &Incident,
    notice: Option<&str>,
    problem: Option<&str>,
) -> Markup {
    layout(
        &incident.title,
        Some(operator),
        html! {
            @if let Some(notice) = notice { div.notice role="status" { (notice) } }
            @if let Some(problem) = problem { div.problem role="alert" { (problem) } }
            section.card.(status_class(incident.impact.as_str())) {
                h2 { (incident.title) }
                div.incident {
                    div.row {
                        span { "Impact: " span.status { (incident.impact.label()) } }
                        span { (incident.phase.label()) }
                    }
                    p.small {
                        "Started " (time(incident.started_at)) " · detected " (time(incident.detected_at))
                        @if let Some(resolved) = incident.resolved_at { " · resolved " (time(resolved)) }
                    }
                    p.small { a href=(format!("/incidents/{}", incident.id)) { "Public page" } }
                }
            }
            @if incident.is_open() && operator.may(Permission::Incidents) {
                section.card {
                    h2 { "Post an update" }
                    form.stack method="post" action=(format!("/admin/incidents/{}/updates", incident.id)) {
                        input type="hidden" name="csrf" value=(operator.csrf());
                        label for="status" { "Status" }
                        select #status name="status" {
                            @for phase in [IncidentPhase::Investigating, IncidentPhase::Identified, IncidentPhase::Monitoring] {
                                option value=(phase.as_str()) selected[phase == incident.phase] { (phase.label()) }
                            }
                        }
                        label for="message" { "Message (shown on the public page and sent to subscribers)" }
                        textarea #message name="message" required maxlength="5000" {}
                        button type="submit" { "Post update" }
                    }
                }
            }
            section.card {
                h2 { "Updates" }
                @for update in incident.updates.iter().rev() {
                    div.incident {
                        div.row {
                            b { (update.phase.label()) }
                            span.small {
                                (time(update.at))
                                span.tag { @if update.automatic { "automatic" } @else { "operator" } }
                            }
                        }
                        p style="white-space:pre-wrap;margin:.25rem 0 0" { (update.message) }
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
