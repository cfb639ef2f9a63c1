//! pharos configuration: TOML read with spans, validated in one pass into a typed `Config`,
//! with every problem reported at file:line:col.

mod assignment;
mod channel_model;
mod channels;
mod dependencies;
mod maintenance;
mod model;
mod problems;
mod providers;
mod reader;
mod subscribers;
mod validate;

pub use assignment::{Assignment, Assignments};
pub use channel_model::*;
pub use model::*;
pub use problems::{ConfigErrors, Problem};
pub use reader::{has_control_characters, EnvLookup, MissingEnv};
pub use subscribers::SubscribersConfig;
pub use validate::{is_region_name, parse, parse_with};

/// A fully commented example configuration, printed by `pharos config example`.
pub const EXAMPLE: &str = include_str!("../example.toml");

/// Reads and validates a configuration file, resolving `${NAME}` from the process environment.
pub fn load(path: &std::path::Path) -> Result<Config, LoadError> {
    load_with(path, MissingEnv::Error).map(|(config, _)| config)
}

/// Like `load`, with the choice of what an unset variable is; returns the warnings too.
pub fn load_with(
    path: &std::path::Path,
    missing_env: MissingEnv,
) -> Result<(Config, Vec<Problem>), LoadError> {
    let source = std::fs::read_to_string(path).map_err(|error| LoadError::Read {
        path: path.display().to_string(),
        error,
    })?;
    let env = |name: &str| std::env::var(name).ok();
    parse_with(&path.display().to_string(), &source, &env, missing_env).map_err(LoadError::Invalid)
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{0}")]
    Invalid(ConfigErrors),
}
