//! The pharos binary: argument parsing and wiring; the work lives in the library crates.

mod agent_command;
mod agent_token_command;
mod api_client;
mod check;
mod cli;
mod config_command;
mod db_command;
mod demo_admin;
mod demo_agents;
mod exit;
mod export_command;
mod generation;
mod incident_command;
mod leadership;
mod logging;
mod maintenance_command;
mod notify_command;
mod reload;
mod serve;
mod supervise;
mod user_command;

use clap::Parser;
use cli::{
    AgentTokenAction, Cli, Command, ConfigAction, DbAction, IncidentAction, MaintenanceAction,
    NotifyAction, UserAction,
};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Config {
            action: ConfigAction::Example,
        } => return config_command::example(),
        Command::Config {
            action: ConfigAction::Validate { file },
        } => return config_command::validate(&file),
        Command::Config {
            action: ConfigAction::Secret,
        } => return config_command::secret(),
        Command::Completions { shell } => return config_command::completions(shell),
        Command::Man => return config_command::man(),
        Command::Version => {
            println!("pharos {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    logging::init(cli.log_format);
    pharos_probe::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return exit::code(exit::UNAVAILABLE);
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Serve {
                config,
                demo,
                listen,
                publish,
            } => serve::run(config, demo, listen, publish).await,
            Command::Check { config } => check::run(&config).await,
            Command::Export { config, out } => export_command::run(&config, &out).await,
            Command::Incident {
                action: IncidentAction::List { server, json },
            } => incident_command::list(&server, json).await,
            Command::Incident {
                action: IncidentAction::Show { id, server, json },
            } => incident_command::show(&server, id, json).await,
            Command::Incident {
                action:
                    IncidentAction::Update {
                        id,
                        status,
                        message,
                        times,
                        title,
                        impact,
                        affected,
                        access,
                    },
            } => {
                incident_command::update(
                    &access,
                    id,
                    incident_command::Words {
                        status,
                        message,
                        times,
                    },
                    title,
                    impact,
                    &affected,
                )
                .await
            }
            Command::Incident {
                action:
                    IncidentAction::Open {
                        component,
                        title,
                        impact,
                        affected,
                        message,
                        status,
                        times,
                        access,
                    },
            } => {
                incident_command::open(
                    &access,
                    &component,
                    &title,
                    &impact,
                    &affected,
                    incident_command::Words {
                        status,
                        message,
                        times,
                    },
                )
                .await
            }
            Command::Incident {
                action:
                    IncidentAction::Resolve {
                        id,
                        message,
                        access,
                    },
            } => incident_command::resolve(&access, id, &message).await,
            Command::Notify {
                action: NotifyAction::Test { channel, config },
            } => notify_command::test(&config, &channel).await,
            Command::Db {
                action: DbAction::MigrateFrom { source, config },
            } => db_command::migrate_from(&source, &config).await,
            Command::Agent {
                server,
                region,
                token_file,
                state_dir,
                source_address,
                buffer,
            } => {
                agent_command::run(agent_command::AgentArgs {
                    servers: server,
                    region,
                    token_file,
                    state_dir,
                    source_address,
                    buffer,
                })
                .await
            }
            Command::AgentToken { action } => match action {
                AgentTokenAction::Create { name, config } => {
                    agent_token_command::create(&config, &name).await
                }
                AgentTokenAction::List { config } => agent_token_command::list(&config).await,
                AgentTokenAction::Revoke { name, config } => {
                    agent_token_command::revoke(&config, &name).await
                }
            },
            Command::Maintenance { action } => match action {
                MaintenanceAction::Schedule {
                    title,
                    components,
                    start,
                    duration,
                    every,
                    message,
                    access,
                } => {
                    maintenance_command::schedule(
                        &access,
                        maintenance_command::Schedule {
                            title,
                            components,
                            start,
                            duration,
                            every,
                            message,
                        },
                    )
                    .await
                }
                MaintenanceAction::List { access } => maintenance_command::list(&access).await,
                MaintenanceAction::Cancel { id, access } => {
                    maintenance_command::cancel(&access, &id).await
                }
            },
            Command::User { action } => match action {
                UserAction::Add {
                    name,
                    role,
                    password_stdin,
                    config,
                } => user_command::add(&config, &name, &role, password_stdin).await,
                UserAction::List { config } => user_command::list(&config).await,
                UserAction::Remove { name, config } => user_command::remove(&config, &name).await,
                UserAction::Passwd {
                    name,
                    role,
                    password_stdin,
                    config,
                } => user_command::passwd(&config, &name, role.as_deref(), password_stdin).await,
            },
            Command::Config { .. }
            | Command::Completions { .. }
            | Command::Man
            | Command::Version => unreachable!("handled above"),
        }
    })
}
