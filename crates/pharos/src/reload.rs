//! Reloading the configuration (SIGHUP or `POST /api/v1/admin/reload`): the file is validated
//! first, and applied whole or not at all. An invalid file, or one whose probes cannot be
//! prepared, leaves the running configuration untouched.

use crate::generation::{Generation, Shared};
use pharos_config::{Config, LoadError};
use pharos_probe::Prober;
use pharos_web::{ReloadRefused, ReloadSummary};
use std::path::Path;
use std::sync::Arc;

/// Reads and checks `path` against the running configuration.
pub(crate) fn prepare(path: &Path, running: &Config) -> Result<Config, ReloadRefused> {
    let config = match pharos_config::load(path) {
        Ok(config) => config,
        Err(LoadError::Invalid(errors)) => {
            return Err(ReloadRefused::Invalid(
                errors.problems.iter().map(ToString::to_string).collect(),
            ))
        }
        Err(error @ LoadError::Read { .. }) => {
            return Err(ReloadRefused::Invalid(vec![error.to_string()]))
        }
    };
    if config.server.database != running.server.database {
        return Err(ReloadRefused::Failed(format!(
            "`database` cannot change while pharos runs (it is {}); restart pharos to move it",
            running.server.database
        )));
    }
    if config.server.listen != running.server.listen {
        tracing::warn!(
            "`listen` changed to {}; it takes effect at the next start",
            config.server.listen
        );
    }
    for monitor in &config.monitors {
        Prober::new(monitor)
            .map_err(|error| ReloadRefused::Failed(format!("monitor `{}`: {error}", monitor.id)))?;
    }
    Ok(config)
}

/// Replaces the running generation with one of `config`. If the new one cannot start, the
/// previous configuration is started again; only if that fails too is there an error.
pub(crate) async fn apply(
    running: Generation,
    config: Config,
    shared: &Shared,
) -> anyhow::Result<(Generation, Result<ReloadSummary, ReloadRefused>)> {
    let previous = running.config.clone();
    let role = running.role;
    running.stop().await;
    let summary = ReloadSummary {
        components: config.components.len(),
        monitors: config.monitors.len(),
        channels: config.channels.len(),
    };
    match Generation::start(Arc::new(config), shared, role).await {
        Ok(next) => Ok((next, Ok(summary))),
        Err(error) => {
            tracing::error!("cannot start the reloaded configuration: {error:#}; going back to the previous one");
            let back = Generation::start(previous, shared, role).await?;
            Ok((back, Err(ReloadRefused::Failed(format!("{error:#}")))))
        }
    }
}
