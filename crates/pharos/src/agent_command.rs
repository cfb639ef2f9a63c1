//! `pharos agent`: checks a server's monitors from another region and reports back
//! (`pharos_agent`). Stops on Ctrl-C or SIGTERM, keeping what the server has not taken yet,
//! and, when a server started it as its own (the demo's agents), once that server is gone.

use crate::exit;
use pharos_agent::{AgentError, AgentOptions};
use secrecy::SecretString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

/// Set by a server that starts agents of its own to its process id: such an agent stops when
/// its parent is no longer that server, even one killed before it could stop them.
pub(crate) const EXIT_WITH_PARENT: &str = "PHAROS_AGENT_EXIT_WITH_PARENT";

/// How often an agent started by a server looks whether that server is still there.
const PARENT_CHECK: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) struct AgentArgs {
    pub(crate) servers: Vec<url::Url>,
    pub(crate) region: String,
    pub(crate) token_file: PathBuf,
    pub(crate) state_dir: PathBuf,
    pub(crate) source_address: Option<std::net::IpAddr>,
    pub(crate) buffer: usize,
}

pub(crate) async fn run(args: AgentArgs) -> ExitCode {
    if !pharos_config::is_region_name(&args.region) {
        eprintln!(
            "error: `--region` is 1 to 32 lower-case letters, digits, `-` or `_`, found `{}`",
            args.region
        );
        return exit::code(exit::USAGE);
    }
    let token = match std::fs::read_to_string(&args.token_file) {
        Ok(token) if !token.trim().is_empty() => SecretString::from(token.trim().to_owned()),
        Ok(_) => {
            eprintln!(
                "error: {} is empty; put the token of `pharos agent-token create` in it",
                args.token_file.display()
            );
            return exit::code(exit::USAGE);
        }
        Err(error) => {
            eprintln!("error: cannot read {}: {error}", args.token_file.display());
            return exit::code(exit::NO_INPUT);
        }
    };
    if let Some(address) = args.source_address {
        pharos_probe::set_source_address(address);
    }
    let (stop, shutdown) = watch::channel(false);
    let stop = Arc::new(stop);
    tokio::spawn(crate::serve::wait_for_signal(stop.clone()));
    if let Some(parent) = std::env::var(EXIT_WITH_PARENT)
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
    {
        tokio::spawn(stop_without(parent, stop));
    }
    let servers = args
        .servers
        .iter()
        .map(url::Url::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    tracing::info!(
        region = args.region,
        server = servers,
        "pharos agent {} checking for region {} of {servers}",
        env!("CARGO_PKG_VERSION"),
        args.region,
    );
    let options = AgentOptions {
        servers: args.servers,
        region: args.region,
        token,
        state_dir: args.state_dir,
        buffer_limit: args.buffer,
    };
    match pharos_agent::run(options, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error @ AgentError::Buffer { .. }) => {
            eprintln!("error: {error}");
            exit::code(exit::UNAVAILABLE)
        }
        Err(error) => {
            eprintln!("error: {error}");
            exit::code(exit::SOFTWARE)
        }
    }
}

/// Stops the agent once its parent process is no longer `parent` (it was re-parented when
/// that server died).
async fn stop_without(parent: u32, stop: Arc<watch::Sender<bool>>) {
    let mut tick = tokio::time::interval(PARENT_CHECK);
    loop {
        tick.tick().await;
        if std::os::unix::process::parent_id() != parent {
            tracing::info!(
                parent,
                "the server that started this agent is gone; stopping"
            );
            let _ = stop.send(true);
            return;
        }
    }
}
