//! `pharos export`: the status page as static files, to host somewhere independent.

use crate::config_command::report_load_error;
use crate::exit;
use pharos_store::SqliteStore;
use std::path::Path;
use std::process::ExitCode;

pub(crate) async fn run(config: &Path, out: &Path) -> ExitCode {
    let config = match pharos_config::load(config) {
        Ok(config) => config,
        Err(error) => return report_load_error(&error),
    };
    let store = match SqliteStore::open(&config.server.database).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!(
                "error: cannot open the database {}: {error}",
                config.server.database
            );
            return exit::code(exit::UNAVAILABLE);
        }
    };
    match pharos_web::export(&config, &store, out).await {
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
