//! `pharos export`: the status page as static files, to host somewhere independent.

use crate::config_command::{print_warnings, report_load_error};
use crate::exit;
use pharos_store::{OpenMode, StoreError};
use std::path::Path;
use std::process::ExitCode;

pub(crate) async fn run(config: &Path, out: &Path) -> ExitCode {
    // Export uses no secret: a variable only a secret needs may be unset here.
    let config = match pharos_config::load_with(config, pharos_config::MissingEnv::Warn) {
        Ok((config, warnings)) => {
            print_warnings(&warnings);
            config
        }
        Err(error) => return report_load_error(&error),
    };
    let store = match pharos_store::open(&config.server.database, OpenMode::Existing).await {
        Ok(store) => store,
        Err(StoreError::Missing(location)) => {
            eprintln!("error: there is no database at {location}: nothing to export (is `[server] database` the one `pharos serve` uses?)");
            return exit::code(exit::NO_INPUT);
        }
        Err(error) => {
            eprintln!(
                "error: cannot open the database {}: {error}",
                config.server.database
            );
            return exit::code(exit::UNAVAILABLE);
        }
    };
    match pharos_web::export(&config, store.as_ref(), out).await {
        Ok(files) => {
            println!("wrote {} files to {}", files.len(), out.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            exit::code(exit::UNAVAILABLE)
        }
    }
}
