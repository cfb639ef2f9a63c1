//! `pharos config`: the example, validation, and secret generation.

use crate::exit;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pharos_config::LoadError;
use rand::RngCore;
use std::path::Path;
use std::process::ExitCode;

pub(crate) fn example() -> ExitCode {
    print!("{}", pharos_config::EXAMPLE);
    ExitCode::SUCCESS
}

pub(crate) fn validate(file: &Path) -> ExitCode {
    match pharos_config::load_with(file, pharos_config::MissingEnv::Warn) {
        Ok((config, warnings)) => {
            print_warnings(&warnings);
            println!(
                "{}: valid ({} components, {} monitors, {} channels)",
                file.display(),
                config.components.len(),
                config.monitors.len(),
                config.channels.len()
            );
            ExitCode::SUCCESS
        }
        Err(error) => report_load_error(&error),
    }
}

/// Prints what does not stop a configuration from loading here (unset variables that
/// `serve` will need).
pub(crate) fn print_warnings(warnings: &[pharos_config::Problem]) {
    for warning in warnings {
        eprintln!("{warning} (warning)");
    }
}

/// Prints a configuration error and returns the exit code it calls for.
pub(crate) fn report_load_error(error: &LoadError) -> ExitCode {
    match error {
        LoadError::Read { .. } => {
            eprintln!("error: {error}");
            exit::code(exit::NO_INPUT)
        }
        LoadError::Invalid(errors) => {
            eprintln!("{errors}");
            let count = errors.problems.len();
            eprintln!(
                "error: the configuration has {count} problem{}",
                if count == 1 { "" } else { "s" }
            );
            exit::code(exit::USAGE)
        }
    }
}

pub(crate) fn secret() -> ExitCode {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    println!("whsec_{}", STANDARD.encode(key));
    ExitCode::SUCCESS
}
