//! `pharos check`: run every monitor once, show progress, print a table of results.

use crate::config_command::report_load_error;
use crate::exit;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, Color, Table};
use indicatif::{ProgressBar, ProgressStyle};
use pharos_core::{Outcome, ProbeStatus};
use pharos_probe::Prober;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::Semaphore;

const CONCURRENCY: usize = 64;

pub(crate) async fn run(path: &Path) -> ExitCode {
    let config = match pharos_config::load(path) {
        Ok(config) => config,
        Err(error) => return report_load_error(&error),
    };
    let mut probers = Vec::new();
    for monitor in &config.monitors {
        match Prober::new(monitor) {
            Ok(prober) => probers.push(Arc::new(prober)),
            Err(error) => {
                eprintln!("error: monitor `{}`: {error}", monitor.id);
                return exit::code(exit::USAGE);
            }
        }
    }
    let progress = ProgressBar::new(probers.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{spinner} checking {pos}/{len} {wide_bar} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let limit = Arc::new(Semaphore::new(CONCURRENCY));
    let runs: Vec<_> = probers
        .iter()
        .map(|prober| {
            let prober = prober.clone();
            let limit = limit.clone();
            let progress = progress.clone();
            tokio::spawn(async move {
                let _permit = limit.acquire_owned().await;
                let outcome = prober.run().await;
                progress.inc(1);
                outcome
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(runs.len());
    for run in runs {
        outcomes.push(run.await.unwrap_or_else(|_| {
            Outcome::down(
                Default::default(),
                vec![],
                "internal error: the probe stopped",
            )
        }));
    }
    progress.finish_and_clear();

    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "Monitor",
        "Type",
        "Target",
        "Status",
        "Latency",
        "Reason / detail",
    ]);
    for (monitor, outcome) in config.monitors.iter().zip(&outcomes) {
        let color = match outcome.status {
            ProbeStatus::Up => Color::Green,
            ProbeStatus::Degraded => Color::Yellow,
            ProbeStatus::Down => Color::Red,
            ProbeStatus::Unknown => Color::Magenta,
        };
        table.add_row(vec![
            Cell::new(&monitor.id),
            Cell::new(monitor.probe.kind()),
            Cell::new(monitor.probe.target()),
            Cell::new(outcome.status.as_str()).fg(color),
            Cell::new(format!("{:.1} ms", outcome.latency.as_secs_f64() * 1000.0)),
            Cell::new(reason_and_detail(outcome)),
        ]);
    }
    println!("{table}");
    let down = outcomes
        .iter()
        .filter(|outcome| outcome.status == ProbeStatus::Down)
        .count();
    let degraded = outcomes
        .iter()
        .filter(|outcome| outcome.status == ProbeStatus::Degraded)
        .count();
    let unknown = outcomes
        .iter()
        .filter(|outcome| outcome.status == ProbeStatus::Unknown)
        .count();
    let up = outcomes.len() - down - degraded - unknown;
    if unknown > 0 {
        println!(
            "{} monitors: {up} up, {degraded} degraded, {down} down, {unknown} not run (pharos's own fault)",
            outcomes.len()
        );
    } else {
        println!(
            "{} monitors: {up} up, {degraded} degraded, {down} down",
            outcomes.len()
        );
    }
    if down > 0 || unknown > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The reason, then the detail lines that do not repeat it.
fn reason_and_detail(outcome: &Outcome) -> String {
    let reason = outcome.reason.as_deref().unwrap_or("");
    let mut lines: Vec<&str> = Vec::new();
    if !reason.is_empty() {
        lines.push(reason);
    }
    for line in outcome.detail.as_deref().unwrap_or("").lines() {
        let text = line
            .strip_prefix("problem: ")
            .or_else(|| line.strip_prefix("warning: "))
            .unwrap_or(line);
        if reason.is_empty() || !reason.contains(text) {
            lines.push(line);
        }
    }
    lines.join("\n")
}
