//! `pharos agent`: checks a server's monitors from another region and reports back
//! (`pharos_agent`). Stops on Ctrl-C or SIGTERM, keeping what the server has not taken yet.

use crate::exit;
use pharos_agent::{AgentError, AgentOptions};
use secrecy::SecretString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::watch;

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
    tokio::spawn(crate::serve::wait_for_signal(Arc::new(stop)));
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
