//! The HTML pages: status, history, one incident, not found. maud escapes every value, so
//! nothing a user typed can become markup. No scripts and no external resources.

use crate::view::{ComponentView, DayView, StatusView, HISTORY_DAYS};
use chrono::{DateTime, DurationRound as _, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use pharos_core::Incident;
use std::time::Duration;

const STYLE: &str = include_str!("style.css");

fn layout(view: &StatusView, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="alternate" type="application/atom+xml" title=(format!("{} incidents (Atom)", view.title)) href="/feed.atom";
                link rel="alternate" type="application/rss+xml" title=(format!("{} incidents (RSS)", view.title)) href="/feed.rss";
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    header.page {
                        h1 { a href="/" style="text-decoration:none" { (view.title) } }
                        nav { a href="/history" { "History" } a href="/feed.atom" { "Atom" } a href="/feed.rss" { "RSS" } a href="/api/v1/status.json" { "API" } }
                    }
                    @if let Some(stale) = &view.stale_since {
                        div.stale role="alert" {
                            "pharos cannot save new check results since " (time(stale.since)) "; what this page shows may be out of date."
                        }
                    }
                    (body)
                    // To the minute: a page re-rendered with nothing new keeps its bytes (and
                    // its ETag and compressed form).
                    footer { "Updated " (time(minute(view.generated_at))) " · powered by pharos" }
                }
            }
        }
    }
}

/// Whether a timeline entry is for readers; reminders to operators are not.
pub(crate) fn is_public(entry: &pharos_core::TimelineEntry) -> bool {
    entry.kind != pharos_core::TimelineKind::UpdateOverdue
}

/// A time for readers, to the second (events are often seconds apart), in a `<time>`
/// element that machines can read.
pub(crate) fn time(at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) {
            (at.format("%Y-%m-%d %H:%M:%S UTC"))
        }
    }
}

fn minute(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(chrono::TimeDelta::minutes(1))
        .unwrap_or(at)
}

fn percent(uptime: f64) -> String {
    let value = uptime * 100.0;
    if (99.995..100.0).contains(&value) {
        "99.99%".to_owned()
    } else if value == 100.0 {
        "100%".to_owned()
    } else {
        format!("{value:.2}%")
    }
}

fn duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..=59 => format!("{seconds}s"),
        60..=3599 => format!("{}m {}s", seconds / 60, seconds % 60),
        _ => format!("{}h {}m", seconds / 3600, seconds % 3600 / 60),
    }
}

pub(crate) fn millis(duration: Duration) -> String {
    let value = duration.as_secs_f64() * 1000.0;
    if value < 10.0 {
        format!("{value:.1} ms")
    } else {
        format!("{value:.0} ms")
    }
}

pub(crate) fn index(view: &StatusView) -> Markup {
    let body = html! {
        @if let Some(description) = &view.description { p.lead { (description) } }
        div class=(format!("banner s-{}", view.overall_key())) role="status" { (view.overall_label()) }
        @if !view.active.is_empty() {
            section.card {
                h2 { "Active incidents" }
                @for incident in &view.active { (incident_summary(view, incident, true)) }
            }
        }
        @if !view.maintenance.is_empty() {
            section.card {
                h2 { "Scheduled maintenance" }
                @for window in &view.maintenance { (maintenance_summary(view, window)) }
            }
        }
        (crate::region_grid::overview(view))
        @for group in &view.groups {
            section.card {
                @if let Some(name) = &group.name { h2 { (name) } }
                @for component in &group.components { (component_summary(view.history_complete, component)) }
            }
        }
        section.card {
            h2 { "Recent incidents" }
            @if view.resolved.is_empty() {
                p.incident.small { "No incidents in the last " (HISTORY_DAYS) " days." }
            }
            @for incident in view.resolved.iter().take(5) { (incident_summary(view, incident, false)) }
            @if view.resolved.len() > 5 { p.incident { a href="/history" { "All incidents of the last " (HISTORY_DAYS) " days" } } }
        }
        @if view.subscriptions {
            section.card {
                h2 { "Get updates by email" }
                form.subscribe method="post" action="/subscribe" {
                    label for="subscribe-email" { "Email address" }
                    input #subscribe-email type="email" name="email" required maxlength="254" autocomplete="email";
                    details {
                        summary.small { "Only some components" }
                        @for group in &view.groups {
                            @for component in &group.components {
                                label.small { input type="checkbox" name="component" value=(component.id); " " (component.name) } " "
                            }
                        }
                    }
                    button type="submit" { "Subscribe" }
                    p.small { "We send a link to confirm first. Every message has a link to unsubscribe." }
                }
            }
        }
    };
    layout(view, &view.title, body)
}

/// Text with its web addresses as links (a provider's incident page, say): only `http://` and
/// `https://` addresses become links, everything is escaped, and a trailing full stop or
/// closing bracket stays text.
pub(crate) fn linked(text: &str) -> Markup {
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut rest = text;
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        let length = rest[start..]
            .find(|character: char| character.is_whitespace() || "<>\"'".contains(character))
            .unwrap_or(rest.len() - start);
        let address = rest[start..start + length].trim_end_matches(['.', ',', ';', ':', ')', ']']);
        parts.push((false, &rest[..start]));
        parts.push((true, address));
        rest = &rest[start + address.len()..];
    }
    parts.push((false, rest));
    html! {
        @for (is_link, part) in parts {
            @if is_link && part.len() > "https://".len() {
                a href=(part) rel="nofollow noopener noreferrer" { (part) }
            } @else {
                (part)
            }
        }
    }
}

/// A maintenance window on the overview: when, what it touches, what readers should know.
fn maintenance_summary(view: &StatusView, window: &crate::view::MaintenanceView) -> Markup {
    let names: Vec<&str> = window
        .components
        .iter()
        .map(|id| view.name_of(id))
        .collect();
    html! {
        article class=(if window.under_way { "incident s-under_maintenance" } else { "incident" }) id=(format!("maintenance-{}", window.id)) {
            h3 { (window.title) }
            div.small {
                @if window.under_way { "In progress, until " (time(window.end)) }
                @else { (time(window.start)) " to " (time(window.end)) }
                " · affects " (pharos_core::root_cause::list(&names))
            }
            @if let Some(message) = &window.message { p.update { (linked(message)) } }
        }
    }
}

/// A component on the overview: its status and its days as one small drawing, linking to
/// its own page (day by day, its checks, their latency). A few hundred bytes whatever its
/// history, so that a page of 500 components stays light.
fn component_summary(history_complete: bool, component: &ComponentView) -> Markup {
    let days_with_incidents = component
        .days
        .iter()
        .filter(|day| !day.incidents.is_empty())
        .count();
    let uptime = match component.uptime {
        Some(uptime) => format!("{} uptime", percent(uptime)),
        None if !history_complete => "reading history…".to_owned(),
        None => "no data yet".to_owned(),
    };
    let label = format!(
        "{}: {uptime} over the last {HISTORY_DAYS} days, {days_with_incidents} with incidents",
        component.name
    );
    html! {
        div class=(format!("component s-{}", component.status_key())) id=(format!("component-{}", component.id)) data-status=(component.status_key()) {
            div.row {
                a.name href=(format!("/components/{}", component.id)) { (component.name) }
                span.status { (component.status_label()) }
            }
            @if let Some(description) = &component.description { div.desc { (description) } }
            svg.strip viewBox=(format!("0 0 {HISTORY_DAYS} 1")) preserveAspectRatio="none" role="img" aria-label=(label) {
                title { (label) }
                @for (class, path) in day_strip(&component.days) { path class=(class) d=(path) {} }
            }
            div.legend {
                span { (HISTORY_DAYS) " days ago" }
                span { (uptime) }
                span { "today" }
            }
        }
    }
}

/// The days as runs of one colour each, one SVG path per colour: `M<x> .5h<days>` for the
/// first run, `m<gap> 0h<days>` for the next. Its size grows with changes of colour, not
/// with days.
fn day_strip(days: &[DayView]) -> Vec<(&'static str, String)> {
    let mut paths: Vec<(&'static str, String, usize)> = Vec::new();
    let mut index = 0;
    while index < days.len() {
        let class = day_class(&days[index]);
        let start = index;
        while index < days.len() && day_class(&days[index]) == class {
            index += 1;
        }
        let length = index - start;
        match paths.iter_mut().find(|(known, _, _)| *known == class) {
            Some((_, path, end)) => {
                use std::fmt::Write as _;
                let _ = write!(path, "m{} 0h{length}", start - *end);
                *end = index;
            }
            None => paths.push((class, format!("M{start} .5h{length}"), index)),
        }
    }
    paths
        .into_iter()
        .map(|(class, path, _)| (class, path))
        .collect()
}

/// The colour class of a day, as on the day bars.
fn day_class(day: &DayView) -> &'static str {
    match day.uptime {
        None if !day.incidents.is_empty() => "u-partial",
        None => "u-none",
        Some(uptime) if uptime >= 0.999 && day.incidents.is_empty() => "u-ok",
        Some(uptime) if uptime >= 0.99 => "u-minor",
        Some(uptime) if uptime >= 0.95 => "u-partial",
        Some(_) => "u-major",
    }
}

/// A component's own page: the overview's line, then every day with its incidents, the
/// checks' last results and the last hour's latency.
pub(crate) fn component_page(view: &StatusView, component: &ComponentView) -> Markup {
    let incidents: Vec<&Incident> = view
        .all_incidents()
        .filter(|incident| {
            incident.component == component.id
                || incident
                    .dependents
                    .iter()
                    .any(|dependent| dependent.component == component.id)
        })
        .collect();
    let body = html! {
        section.card {
            h2 { (component.name) }
            (component_block(view.generated_at, component))
            @if !component.depends_on.is_empty() {
                p.incident.small {
                    "Depends on: "
                    @for (index, id) in component.depends_on.iter().enumerate() {
                        @if index > 0 { ", " }
                        a href=(format!("/components/{id}")) { (view.name_of(id)) }
                    }
                }
            }
        }
        section.card {
            h2 { "Incidents of the last " (HISTORY_DAYS) " days" }
            @if incidents.is_empty() { p.incident.small { "None." } }
            @for incident in incidents { (incident_summary(view, incident, incident.is_open())) }
        }
        p { a href="/" { "← Current status" } }
    };
    layout(view, &format!("{} · {}", component.name, view.title), body)
}

fn component_block(generated_at: DateTime<Utc>, component: &ComponentView) -> Markup {
    html! {
        div class=(format!("component s-{}", component.status_key())) id=(format!("component-{}", component.id)) data-status=(component.status_key()) {
            div.row {
                span.name { (component.name) }
                span.status { (component.status_label()) " since " (time(component.since)) }
            }
            @if let Some(description) = &component.description { div.desc { (description) } }
            div.bars aria-label=(format!("{} uptime, last {HISTORY_DAYS} days", component.name)) {
                @for day in &component.days { (day_bar(day)) }
            }
            div.legend {
                span { span.full { (HISTORY_DAYS) " days ago" } span.short { "30 days ago" } }
                span { @if let Some(uptime) = component.uptime { (percent(uptime)) " uptime" } @else { "no data yet" } }
                span { "today" }
            }
            @if !component.monitors.is_empty() {
                div.monitors {
                    h3 { "Checks (" (component.monitors.len()) ")" }
                    (crate::region_grid::component(component))
                    (latency_chart(generated_at, component))
                    table {
                        tr { th { "Check" } th { "Status" } th { "Latency" } th { "Last checked" } }
                        @for monitor in &component.monitors {
                            tr {
                                td { (monitor.name) " " span.small { "(" (monitor.kind) ")" } }
                                @match &monitor.last {
                                    Some(last) => {
                                        td class=(format!("p-{}", last.status.as_str())) {
                                            (last.status.as_str())
                                            @if let Some(reason) = &last.reason { br; span.small { (reason) } }
                                            @if let Some(detail) = &last.detail { br; span.small { (detail) } }
                                        }
                                        td title=(last.phases.iter().map(|(name, took)| format!("{name} {}", millis(*took))).collect::<Vec<_>>().join(", ")) { (millis(last.latency)) }
                                        td { (time(last.at)) }
                                    }
                                    None => { td class=(format!("p-{}", monitor.confirmed.as_str())) { "pending" } td { "–" } td { "–" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The last hour's per-minute latency of a component's monitors, as an SVG line chart.
fn latency_chart(view_time: DateTime<Utc>, component: &ComponentView) -> Markup {
    const WIDTH: f64 = 600.0;
    const HEIGHT: f64 = 80.0;
    let charted: Vec<_> = component
        .monitors
        .iter()
        .filter(|monitor| monitor.recent_latency.len() >= 2)
        .collect();
    if charted.is_empty() {
        return html! {};
    }
    let highest = charted
        .iter()
        .flat_map(|monitor| monitor.recent_latency.iter().map(|point| point.average))
        .max()
        .unwrap_or_default()
        .max(Duration::from_millis(1));
    let x = |at: DateTime<Utc>| {
        let age = (view_time - at).num_seconds().clamp(0, 3600) as f64;
        WIDTH * (1.0 - age / 3600.0)
    };
    let y = |latency: Duration| {
        HEIGHT - HEIGHT * 0.92 * (latency.as_secs_f64() / highest.as_secs_f64())
    };
    html! {
        figure.chart {
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) preserveAspectRatio="none" role="img"
                aria-label=(format!("Response time of {} over the last hour", component.name)) {
                @for (index, monitor) in charted.iter().enumerate() {
                    polyline class=(format!("line l{}", index % 4))
                        points=(monitor.recent_latency.iter().map(|point| format!("{:.1},{:.1}", x(point.at), y(point.average))).collect::<Vec<_>>().join(" ")) {}
                }
            }
            figcaption.small {
                "Average response time per minute, last hour (top: " (millis(highest)) "). "
                @for (index, monitor) in charted.iter().enumerate() {
                    span class=(format!("key l{}", index % 4)) { "■" } " " (monitor.name) " "
                }
            }
        }
    }
}

fn day_bar(day: &DayView) -> Markup {
    let class = format!("bar {}", day_class(day));
    let summary = match day.uptime {
        Some(uptime) => format!("{}: {} uptime", day.date, percent(uptime)),
        None => format!("{}: no data", day.date),
    };
    html! {
        span class=(class) tabindex="0" title=(summary) {
            span.tip {
                (summary)
                @for (id, title) in &day.incidents { br; "Incident #" (id) ": " (title) }
            }
        }
    }
}

fn incident_summary(view: &StatusView, incident: &Incident, active: bool) -> Markup {
    let latest = incident.updates.last();
    html! {
        article class=(if active { format!("incident s-{}", incident.impact.as_str()) } else { "incident".to_owned() }) {
            h3 { a href=(format!("/incidents/{}", incident.id)) { (incident.title) } }
            div.small {
                (view.component_name(incident)) " · " (incident.worst_impact.label())
                @if active && incident.impact != incident.worst_impact { " (now " (incident.impact.label().to_lowercase()) ")" }
                " · started " (time(incident.started_at))
                @if let Some(resolved) = incident.resolved_at { " · resolved " (time(resolved)) " (" (duration(incident.time_to_recover().unwrap_or_default())) ")" }
            }
            @if let Some(line) = view.root_cause_line(incident) { p.cause { (line) } }
            @if let Some(scope) = &incident.scope { p.scope.small { (scope_line(scope)) } }
            @if active {
                (promise(incident))
                @for update in incident.updates.iter().rev() {
                    (update_block(update, false))
                }
            } @else if let Some(update) = latest {
                (update_block(update, false))
            }
        }
    }
}

/// One update: its phase, its words (an operator's as safe Markdown, pharos's own as text
/// with links), when, and the times it promised.
fn update_block(update: &pharos_core::IncidentUpdate, detailed: bool) -> Markup {
    html! {
        div.update {
            b { (update.phase.label()) }
            @if update.automatic { (linked(&update.message)) } @else { div.md { (crate::markdown::render(&update.message)) } }
            span.small {
                (time(update.at))
                @if detailed && update.automatic { " · automatic" }
                @if update.edited_at.is_some() { " · edited" }
                @if let Some(at) = update.expected_by { " · expected back by " (short_time(at)) }
                @if let Some(at) = update.next_update_by { " · next update by " (short_time(at)) }
            }
        }
    }
}

/// "Expected back by 14:00 UTC · next update by 13:30 UTC", while the incident is open and
/// an operator said so.
fn promise(incident: &Incident) -> Markup {
    let (expected_by, next_update_by) = incident.promised_times();
    html! {
        @if expected_by.is_some() || next_update_by.is_some() {
            p.promise {
                @if let Some(at) = expected_by { "Expected back by " (short_time(at)) }
                @if expected_by.is_some() && next_update_by.is_some() { " · " }
                @if let Some(at) = next_update_by {
                    @if expected_by.is_some() { "next update by " } @else { "Next update by " }
                    (short_time(at))
                }
            }
        }
    }
}

/// A promised time, to the minute ("14:00 UTC", with the date when not today's).
fn short_time(at: DateTime<Utc>) -> Markup {
    let text = if at.date_naive() == Utc::now().date_naive() {
        at.format("%H:%M UTC").to_string()
    } else {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    };
    html! { time datetime=(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) { (text) } }
}

/// "Localized: seen from eu-west (1 of 3 regions)".
fn scope_line(scope: &pharos_core::regions::Scope) -> String {
    format!(
        "{}: seen from {} ({} of {} regions)",
        scope.reach.label(),
        scope.region_list(),
        scope.regions.len(),
        scope.of
    )
}

pub(crate) fn incident_page(view: &StatusView, incident: &Incident) -> Markup {
    let body = html! {
        section class=(format!("card active s-{}", incident.impact.as_str())) {
            h2 { (incident.title) }
            div.incident {
                p.small {
                    "Component: " (view.component_name(incident)) " · Impact: " (incident.worst_impact.label())
                    @if incident.is_open() && incident.impact != incident.worst_impact { " (now " (incident.impact.label().to_lowercase()) ")" }
                    " · Status: " strong { (incident.phase.label()) }
                }
                p.small {
                    "First failure " (time(incident.started_at)) " · detected " (time(incident.detected_at))
                    " (after " (duration(incident.time_to_detect())) ")"
                    @if let Some(resolved) = incident.resolved_at { " · resolved " (time(resolved)) " (after " (duration(incident.time_to_recover().unwrap_or_default())) ")" }
                }
                @if let Some(line) = view.root_cause_line(incident) { p.cause { (line) } }
                @if let Some(scope) = &incident.scope { p.scope { (scope_line(scope)) } }
                @if !incident.dependents.is_empty() {
                    @if incident.is_declared() {
                        h3 { "Also affected" }
                    } @else {
                        h3 { "Affected because of " (view.component_name(incident)) }
                    }
                    ul.dependents {
                        @for dependent in &incident.dependents {
                            li {
                                (view.name_of(&dependent.component)) " — "
                                @if let Some(into) = dependent.split_into {
                                    "still failing after the root cause recovered: see " a href=(format!("/incidents/{into}")) { "incident #" (into) }
                                } @else if let Some(recovered) = dependent.recovered_at {
                                    "recovered " (time(recovered))
                                } @else {
                                    (dependent.status.label().to_lowercase()) " since " (time(dependent.joined_at))
                                }
                            }
                        }
                    }
                }
                (promise(incident))
                p.small {
                    "Time to detect " (duration(incident.time_to_detect()))
                    @if let Some(acknowledged) = incident.time_to_acknowledge() { " · to acknowledge " (duration(acknowledged)) }
                    @if let Some(recovered) = incident.time_to_recover() { " · to recover " (duration(recovered)) }
                }
                @if let Some(written) = view.postmortems.get(&incident.id) {
                    h3 { "Postmortem" }
                    div.md.postmortem { (crate::markdown::render(&written.text)) }
                }
                h3 { "Updates" }
                @for update in incident.updates.iter().rev() {
                    (update_block(update, true))
                }
                h3 { "Timeline" }
                ol.timeline {
                    @for entry in incident.timeline.iter().filter(|entry| is_public(entry)) {
                        li { span.small { (time(entry.at)) } " — " (entry.detail) }
                    }
                }
                p.small { a href=(format!("/incidents/{}/postmortem.md", incident.id)) { "Timeline and postmortem as Markdown" } }
            }
        }
        p { a href="/" { "← Current status" } }
    };
    layout(view, &format!("{} · {}", incident.title, view.title), body)
}

pub(crate) fn history(view: &StatusView) -> Markup {
    let body = html! {
        section.card {
            h2 { "Incident history (last " (HISTORY_DAYS) " days)" }
            @if view.active.is_empty() && view.resolved.is_empty() { p.incident.small { "No incidents." } }
            @for incident in view.all_incidents() { (incident_summary(view, incident, incident.is_open())) }
        }
    };
    layout(view, &format!("History · {}", view.title), body)
}

pub(crate) fn not_found(view: &StatusView) -> Markup {
    let body = html! {
        section.card { h2 { "Not found" } p.incident { "There is no such page. " a href="/" { "Current status" } } }
    };
    layout(view, &format!("Not found · {}", view.title), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::{LatencyPoint, MonitorView};
    use chrono::TimeZone;
    use pharos_core::{ComponentId, ComponentStatus, ProbeStatus};

    #[test]
    fn web_addresses_in_updates_become_links_and_nothing_else_does() {
        let html = linked(
            "Microsoft reports EX123456 (https://portal.office.com/adminportal/home#/servicehealth/:/alerts/EX123456). <script>alert(1)</script> javascript:alert(2) see http://a.test/x?y=1&z=\"q\"",
        )
        .into_string();
        assert_eq!(
            html,
            "Microsoft reports EX123456 (<a href=\"https://portal.office.com/adminportal/home#/servicehealth/:/alerts/EX123456\" rel=\"nofollow noopener noreferrer\">https://portal.office.com/adminportal/home#/servicehealth/:/alerts/EX123456</a>). &lt;script&gt;alert(1)&lt;/script&gt; javascript:alert(2) see <a href=\"http://a.test/x?y=1&amp;z=\" rel=\"nofollow noopener noreferrer\">http://a.test/x?y=1&amp;z=</a>&quot;q&quot;"
        );
        assert_eq!(linked("no address here").into_string(), "no address here");
        assert_eq!(linked("https://").into_string(), "https://");
    }

    fn component(points: usize) -> ComponentView {
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).unwrap();
        ComponentView {
            id: ComponentId::new("delivery"),
            name: "Mail delivery".into(),
            description: None,
            depends_on: vec![],
            status: ComponentStatus::Operational,
            since: now,
            days: vec![],
            uptime: None,
            monitors: vec![MonitorView {
                id: "flow".into(),
                name: "Round <trip>".into(),
                kind: "mailflow",
                confirmed: ProbeStatus::Up,
                last: None,
                recent_latency: (0..points)
                    .map(|minute| LatencyPoint {
                        at: now - chrono::Duration::minutes(10 - minute as i64),
                        average: Duration::from_millis(20 + 10 * minute as u64),
                        p95: Duration::from_millis(40),
                    })
                    .collect(),
                regions: Vec::new(),
            }],
            pending: false,
        }
    }

    #[test]
    fn reminders_to_operators_stay_off_the_public_incident_page() {
        let config = pharos_config::parse(
            "p.toml",
            "[[components]]\nid = \"mail\"\nname = \"Mail\"\n",
            &|_| None,
        )
        .unwrap();
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).unwrap();
        let entry = |kind, detail: &str| pharos_core::TimelineEntry {
            at: now,
            kind,
            detail: detail.into(),
        };
        let incident = pharos_core::Incident {
            dependents: Vec::new(),
            scope: None,
            id: 3,
            component: ComponentId::new("mail"),
            title: "Mail: major outage".into(),
            phase: pharos_core::IncidentPhase::Investigating,
            impact: ComponentStatus::MajorOutage,
            worst_impact: ComponentStatus::MajorOutage,
            started_at: now,
            detected_at: now,
            resolved_at: None,
            updates: vec![],
            timeline: vec![
                entry(
                    pharos_core::TimelineKind::Detected,
                    "Mail confirmed in major outage",
                ),
                entry(
                    pharos_core::TimelineKind::UpdateOverdue,
                    "No update for 31 min: readers are waiting for news.",
                ),
            ],
        };
        let view = crate::view::StatusView::build(
            &config,
            &Default::default(),
            vec![incident.clone()],
            &[],
            &[],
            now,
        );
        let page = incident_page(&view, &incident).into_string();
        assert!(page.contains("Mail confirmed in major outage"));
        assert!(!page.contains("readers are waiting"), "{page}");
    }

    #[test]
    fn an_incident_page_names_the_root_cause_and_each_dependent_escaped() {
        let config = pharos_config::parse(
            "p.toml",
            "[[components]]\nid = \"store\"\nname = \"Mail <store>\"\n\n\
             [[components]]\nid = \"imap\"\nname = \"Mailbox access\"\ndepends_on = [\"store\"]\n\n\
             [[components]]\nid = \"flow\"\nname = \"Mail delivery\"\ndepends_on = [\"store\"]\n",
            &|_| None,
        )
        .unwrap();
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).unwrap();
        let dependent = |id: &str, recovered_at| pharos_core::Dependent {
            component: ComponentId::new(id),
            status: ComponentStatus::MajorOutage,
            joined_at: now,
            recovered_at,
            split_into: None,
            by_hand: false,
        };
        let mut incident = pharos_core::Incident {
            dependents: vec![dependent("imap", None), dependent("flow", None)],
            scope: None,
            id: 4,
            component: ComponentId::new("store"),
            title: "Mail store: major outage".into(),
            phase: pharos_core::IncidentPhase::Investigating,
            impact: ComponentStatus::MajorOutage,
            worst_impact: ComponentStatus::MajorOutage,
            started_at: now,
            detected_at: now,
            resolved_at: None,
            updates: vec![],
            timeline: vec![],
        };
        let mut live = pharos_engine::LiveState::default();
        live.components.insert(
            ComponentId::new("store"),
            (ComponentStatus::MajorOutage, now),
        );
        let view =
            crate::view::StatusView::build(&config, &live, vec![incident.clone()], &[], &[], now);
        let page = incident_page(&view, &incident).into_string();
        assert!(
            page.contains(
                "Mailbox access and Mail delivery are affected because Mail &lt;store&gt; is down."
            ),
            "{page}"
        );
        assert!(
            page.contains("Mailbox access — major outage since"),
            "{page}"
        );

        incident.dependents[1].recovered_at = Some(now);
        incident.resolved_at = Some(now);
        let page = incident_page(&view, &incident).into_string();
        assert!(
            page.contains(
                "Mailbox access and Mail delivery were affected because Mail &lt;store&gt; failed."
            ),
            "{page}"
        );
        assert!(page.contains("Mail delivery — recovered"), "{page}");
    }

    #[test]
    fn the_latency_chart_draws_each_monitor_and_escapes_its_name() {
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).unwrap();
        let html = latency_chart(now, &component(3)).into_string();
        assert!(
            html.contains("<polyline class=\"line l0\" points=\""),
            "{html}"
        );
        assert_eq!(
            html.matches(',').count() - html.matches(", ").count(),
            3,
            "three points: {html}"
        );
        assert!(html.contains("top: 40 ms"), "{html}");
        assert!(html.contains("Round &lt;trip&gt;"), "{html}");
        assert_eq!(
            latency_chart(now, &component(1)).into_string(),
            "",
            "one point is no line"
        );
    }
}
