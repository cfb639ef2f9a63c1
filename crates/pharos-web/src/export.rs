//! Static export: the whole site written to a directory from the database alone (no probing),
//! to be hosted somewhere that does not share the fate of what it reports on.

use crate::renderer::{LATENCY_WINDOW_MINUTES, MAX_INCIDENTS};
use crate::snapshot::{PageSet, Rendered};
use crate::view::{StatusView, HISTORY_DAYS};
use chrono::{Duration as ChronoDuration, Utc};
use pharos_config::Config;
use pharos_engine::{LatestResult, LiveState};
use pharos_store::{IncidentQuery, Resolution, Store, StoreError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {error}")]
    Write { path: String, error: std::io::Error },
}

/// Writes every page, feed and API answer under `directory`; returns the files written.
/// Pages go to `<path>/index.html`, so that `/history` and `/incidents/7` work from any static
/// host; JSON answers to `<path>.json` (`api/v1/status.json`); feeds keep their names.
pub async fn export(
    config: &Config,
    store: &dyn Store,
    directory: &Path,
) -> Result<Vec<PathBuf>, ExportError> {
    let now = Utc::now();
    let state = store.load_engine_state().await?;
    let mut live = LiveState {
        components: state.component_status,
        open_incidents: state.open_incidents,
        maintenance: config
            .maintenance
            .iter()
            .cloned()
            .chain(state.maintenance)
            .collect(),
        ..LiveState::default()
    };
    for monitor in &config.monitors {
        if let Some(latest) = store.recent_results(&monitor.id, 1).await?.pop() {
            let confirmed = state
                .monitor_health
                .get(&monitor.id)
                .map(|health| health.confirmed)
                .unwrap_or(latest.outcome.status);
            live.monitors.insert(
                monitor.id.clone(),
                LatestResult {
                    at: latest.at,
                    started_at: latest.at
                        - chrono::Duration::from_std(latest.outcome.latency).unwrap_or_default(),
                    outcome: latest.outcome,
                    confirmed,
                },
            );
        }
    }
    let since = now - ChronoDuration::days(HISTORY_DAYS);
    let incidents = store
        .incidents(IncidentQuery {
            since: Some(since),
            limit: MAX_INCIDENTS,
        })
        .await?;
    let daily = store.daily_counts(since).await?;
    let minutes = store
        .rollups(
            Resolution::Minute,
            now - ChronoDuration::minutes(LATENCY_WINDOW_MINUTES),
        )
        .await?;
    let mut view = StatusView::build(config, &live, incidents, &daily, &minutes, now);
    // A static host cannot take sign-ups: no form that would post into the void.
    view.subscriptions = false;
    let (mut documents, not_found) = PageSet::render_all(std::sync::Arc::new(view));
    documents.sort_by(|(left, _), (right, _)| left.cmp(right));

    let mut written = Vec::new();
    for (path, rendered) in &documents {
        written.push(write(&file_for(directory, path, rendered), &rendered.body)?);
    }
    // The name most static hosts look for.
    written.push(write(&directory.join("404.html"), &not_found.body)?);
    Ok(written)
}

/// Where the document at `path` goes under `directory`: pages as `<path>/index.html`, anything
/// else under its own name.
pub(crate) fn file_for(directory: &Path, path: &str, rendered: &Rendered) -> PathBuf {
    let relative = path.trim_start_matches('/');
    if rendered.content_type.starts_with("text/html") {
        directory.join(relative).join("index.html")
    } else {
        directory.join(relative)
    }
}

fn write(file: &Path, contents: &[u8]) -> Result<PathBuf, ExportError> {
    let write_error = |error: std::io::Error| ExportError::Write {
        path: file.display().to_string(),
        error,
    };
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    std::fs::write(file, contents).map_err(write_error)?;
    Ok(file.to_path_buf())
}
