//! `/metrics`: the engine's state in the Prometheus text format, for scraping with the admin
//! bearer token. Rendered from what is already in memory (the live view and the scheduler's
//! counters), so no global metrics recorder is needed.

use crate::admin::{admit, ApiError};
use crate::router::WebState;
use axum::extract::{ConnectInfo, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use pharos_core::{ComponentStatus, ProbeStatus};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

pub(crate) async fn metrics(
    State(state): State<WebState>,
    headers: HeaderMap,
    client: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
) -> Result<Response, ApiError> {
    admit(&state, &headers, client, pharos_core::Permission::Read).await?;
    let body = render(&state);
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response())
}

fn render(state: &WebState) -> String {
    let current = state.current();
    let engine = &current.engine;
    let live = engine
        .live
        .read()
        .map(|live| live.clone())
        .unwrap_or_default();
    let mut out = String::with_capacity(256 + 160 * engine.topology.monitors.len());

    family(
        &mut out,
        "pharos_monitor_up",
        "gauge",
        "Confirmed status of a monitor: 1 up, 0.5 degraded, 0 down.",
    );
    for monitor in &engine.topology.monitors {
        let component = &engine.topology.components[monitor.component].id;
        let value = match live
            .monitors
            .get(&monitor.id)
            .map(|latest| latest.confirmed)
            .unwrap_or(ProbeStatus::Up)
        {
            ProbeStatus::Up => "1",
            ProbeStatus::Degraded => "0.5",
            ProbeStatus::Down => "0",
            ProbeStatus::Unknown => "NaN",
        };
        let _ = writeln!(
            out,
            "pharos_monitor_up{{monitor=\"{}\",component=\"{}\"}} {value}",
            label(monitor.id.as_str()),
            label(component.as_str())
        );
    }
    family(
        &mut out,
        "pharos_monitor_last_latency_seconds",
        "gauge",
        "Latency of a monitor's last run (for a mail flow, the delivery latency).",
    );
    for monitor in &engine.topology.monitors {
        if let Some(latest) = live.monitors.get(&monitor.id) {
            let _ = writeln!(
                out,
                "pharos_monitor_last_latency_seconds{{monitor=\"{}\"}} {}",
                label(monitor.id.as_str()),
                latest.outcome.latency.as_secs_f64()
            );
        }
    }
    family(&mut out, "pharos_component_status", "gauge", "Component status: 0 operational, 1 under maintenance, 2 degraded performance, 3 partial outage, 4 major outage.");
    for component in &engine.topology.components {
        let status = live
            .components
            .get(&component.id)
            .map(|(status, _)| *status)
            .unwrap_or(ComponentStatus::Operational);
        let ordinal = ComponentStatus::ALL
            .iter()
            .position(|known| *known == status)
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "pharos_component_status{{component=\"{}\"}} {ordinal}",
            label(component.id.as_str())
        );
    }
    single(
        &mut out,
        "pharos_open_incidents",
        "gauge",
        "Incidents open now.",
        live.open_incidents.len(),
    );

    let metrics = &engine.metrics;
    single(
        &mut out,
        "pharos_probes_started_total",
        "counter",
        "Probe runs started.",
        metrics.probes_started.load(Ordering::Relaxed),
    );
    single(
        &mut out,
        "pharos_probes_finished_total",
        "counter",
        "Probe runs finished.",
        metrics.probes_finished.load(Ordering::Relaxed),
    );
    single(
        &mut out,
        "pharos_scheduler_skipped_slots_total",
        "counter",
        "Scheduled runs skipped because the previous run of the monitor was still going.",
        metrics.slots_skipped.load(Ordering::Relaxed),
    );
    if let Some(replica) = &current.replica {
        family(
            &mut out,
            "pharos_leader",
            "gauge",
            "1 while this replica holds the engine's lease (probes, incidents, notifications), 0 while it follows.",
        );
        let _ = writeln!(
            out,
            "pharos_leader{{replica=\"{}\"}} {}",
            label(&replica.id),
            u8::from(replica.leading)
        );
    }
    single(
        &mut out,
        "pharos_watches_open",
        "gauge",
        "Watch connections held open now (monitors with watch = true).",
        metrics.watches_open.load(Ordering::Relaxed),
    );
    single(
        &mut out,
        "pharos_watches_lost_total",
        "counter",
        "Watch connections lost; each asks for a check at once.",
        metrics.watches_lost.load(Ordering::Relaxed),
    );
    family(
        &mut out,
        "pharos_scheduler_lateness_seconds",
        "summary",
        "How late probe runs start after their due time, since start.",
    );
    for quantile in [0.5, 0.9, 0.99] {
        if let Some(lateness) = metrics.lateness_quantile(quantile) {
            let _ = writeln!(
                out,
                "pharos_scheduler_lateness_seconds{{quantile=\"{quantile}\"}} {}",
                lateness.as_secs_f64()
            );
        }
    }
    channel_health(&mut out, &engine.topology.notifier.health().snapshot());
    out
}

/// Each notification channel's health and delivery counts.
fn channel_health(out: &mut String, channels: &[(String, String, pharos_notify::Health)]) {
    family(
        out,
        "pharos_channel_healthy",
        "gauge",
        "1 while a notification channel delivers, 0 once it keeps failing.",
    );
    for (id, kind, health) in channels {
        let _ = writeln!(
            out,
            "pharos_channel_healthy{{channel=\"{}\",type=\"{kind}\"}} {}",
            label(id),
            u8::from(!health.unhealthy)
        );
    }
    family(
        out,
        "pharos_channel_consecutive_failures",
        "gauge",
        "Failed delivery attempts in a row, per channel.",
    );
    for (id, _, health) in channels {
        let _ = writeln!(
            out,
            "pharos_channel_consecutive_failures{{channel=\"{}\"}} {}",
            label(id),
            health.consecutive_failures
        );
    }
    family(
        out,
        "pharos_channel_attempts_total",
        "counter",
        "Delivery attempts since start, per channel and outcome.",
    );
    for (id, _, health) in channels {
        for (outcome, count) in [("delivered", health.delivered), ("failed", health.failed)] {
            let _ = writeln!(
                out,
                "pharos_channel_attempts_total{{channel=\"{}\",outcome=\"{outcome}\"}} {count}",
                label(id)
            );
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// A metric without labels: its family header and its one value.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// A label value escaped per the exposition format.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
