//! `pharos db migrate-from`: copies a SQLite database into the PostgreSQL database the
//! configuration names, with a progress bar; Ctrl-C (or any interruption) leaves a copy that
//! the same command resumes.

use crate::config_command::{print_warnings, report_load_error};
use crate::exit;
use indicatif::{ProgressBar, ProgressStyle};
use pharos_core::{Backend, DatabaseUrl};
use pharos_store::migrate::{sqlite_to_postgres, MigrateError};
use pharos_store::{PostgresStore, SqliteStore, StoreError};
use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub(crate) async fn migrate_from(source: &str, config: &Path) -> ExitCode {
    let config = match pharos_config::load_with(config, pharos_config::MissingEnv::Warn) {
        Ok((config, warnings)) => {
            print_warnings(&warnings);
            config
        }
        Err(error) => return report_load_error(&error),
    };
    let target = &config.server.database;
    if target.backend() != Backend::Postgres {
        eprintln!(
            "error: `[server] database` is {target}, not a PostgreSQL URL: name the PostgreSQL database to copy into (postgres://user@host/db)"
        );
        return exit::code(exit::USAGE);
    }
    let source_url = DatabaseUrl::new(source);
    if source_url.backend() != Backend::Sqlite {
        eprintln!("error: {source_url} is not a SQLite database (a path or sqlite:// URL)");
        return exit::code(exit::USAGE);
    }
    let source_store = match SqliteStore::open_existing(source_url.expose()).await {
        Ok(store) => store,
        Err(StoreError::Missing(location)) => {
            eprintln!("error: there is no database at {location}");
            return exit::code(exit::NO_INPUT);
        }
        Err(error) => {
            eprintln!("error: cannot open {source_url}: {error}");
            return exit::code(exit::UNAVAILABLE);
        }
    };
    let target_store = match PostgresStore::open(target.expose()).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: cannot open {target}: {error}");
            return exit::code(exit::UNAVAILABLE);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let asked = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            asked.store(true, Ordering::SeqCst);
        }
    });
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{msg:>18} {wide_bar} {pos}/{len} rows {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut current = "";
    let outcome = sqlite_to_postgres(&source_store, &target_store, &mut |copy| {
        if copy.table != current {
            current = copy.table;
            bar.set_message(copy.table);
            bar.set_length(copy.total);
        }
        bar.set_position(copy.copied);
        if stop.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .await;
    bar.finish_and_clear();
    match outcome {
        Ok(counts) => {
            for copy in &counts {
                println!("{:<18} {:>10} rows", copy.table, copy.copied);
            }
            println!(
                "copied {source_url} into {target}: every table's rows counted equal on both sides"
            );
            ExitCode::SUCCESS
        }
        Err(error @ (MigrateError::Interrupted | MigrateError::Store(_))) => {
            eprintln!("error: {error}");
            if !matches!(error, MigrateError::Interrupted) {
                eprintln!(
                    "what was copied stays; run the same command again to go on where it stopped"
                );
            }
            exit::code(exit::UNAVAILABLE)
        }
        Err(error) => {
            eprintln!("error: {error}");
            exit::code(exit::USAGE)
        }
    }
}
