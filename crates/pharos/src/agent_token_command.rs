//! `pharos agent-token create|list|revoke`: probe agents' tokens, in the server's database
//! (run on the server's machine). A token is printed once, when made; the database keeps
//! only its digest. A running server refuses a revoked token within seconds.

use crate::config_command::{print_warnings, report_load_error};
use crate::exit;
use pharos_store::{OpenMode, Store, StoreError};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub(crate) async fn open(config: &Path) -> Result<Arc<dyn Store>, ExitCode> {
    let config = match pharos_config::load_with(config, pharos_config::MissingEnv::Warn) {
        Ok((config, warnings)) => {
            print_warnings(&warnings);
            config
        }
        Err(error) => return Err(report_load_error(&error)),
    };
    pharos_store::open(&config.server.database, OpenMode::CreateIfMissing)
        .await
        .map_err(|error| {
            eprintln!("error: cannot open {}: {error}", config.server.database);
            exit::code(exit::UNAVAILABLE)
        })
}

pub(crate) async fn create(config: &Path, name: &str) -> ExitCode {
    if !pharos_config::is_region_name(name) {
        eprintln!("error: an agent's name is 1 to 32 lower-case letters, digits, `-` or `_`, found `{name}`");
        return exit::code(exit::USAGE);
    }
    let store = match open(config).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let token = pharos_wire::token::generate();
    match store
        .create_agent(
            name,
            &pharos_wire::token::digest(&token),
            chrono::Utc::now(),
        )
        .await
    {
        Ok(()) => {
            eprintln!("Agent `{name}` may report now. Its token, shown this once (give it to `pharos agent --token-file`):");
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(StoreError::Conflict(message)) => {
            eprintln!("error: {message}");
            exit::code(exit::USAGE)
        }
        Err(error) => {
            eprintln!("error: cannot save the agent: {error}");
            exit::code(exit::UNAVAILABLE)
        }
    }
}

pub(crate) async fn list(config: &Path) -> ExitCode {
    let store = match open(config).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let agents = match store.agents().await {
        Ok(agents) => agents,
        Err(error) => {
            eprintln!("error: cannot read the agents: {error}");
            return exit::code(exit::UNAVAILABLE);
        }
    };
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map(|at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "—".to_owned())
    };
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "Agent",
        "State",
        "Region",
        "Last seen",
        "Results",
        "Created",
    ]);
    for agent in &agents {
        table.add_row([
            agent.name.clone(),
            if agent.revoked_at.is_some() {
                "revoked"
            } else {
                "allowed"
            }
            .to_owned(),
            agent.region.clone().unwrap_or_else(|| "—".to_owned()),
            time(agent.last_seen_at),
            agent.last_seq.to_string(),
            time(Some(agent.created_at)),
        ]);
    }
    println!("{table}");
    println!("{} agents", agents.len());
    ExitCode::SUCCESS
}

pub(crate) async fn revoke(config: &Path, name: &str) -> ExitCode {
    let store = match open(config).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    match store.revoke_agent(name, chrono::Utc::now()).await {
        Ok(true) => {
            eprintln!("Agent `{name}` is revoked: a running server refuses it within seconds.");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("error: no allowed agent is named `{name}` (see `pharos agent-token list`)");
            exit::code(exit::NO_INPUT)
        }
        Err(error) => {
            eprintln!("error: cannot revoke the agent: {error}");
            exit::code(exit::UNAVAILABLE)
        }
    }
}
