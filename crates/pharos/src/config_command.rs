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

/// A completion script for `shell`, from the command line's own definition.
pub(crate) fn completions(shell: clap_complete::Shell) -> ExitCode {
    use clap::CommandFactory as _;
    let mut command = crate::cli::Cli::command();
    clap_complete::generate(shell, &mut command, "pharos", &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// The manual page, from the command line's own definition.
pub(crate) fn man() -> ExitCode {
    use clap::CommandFactory as _;
    let page = clap_mangen::Man::new(crate::cli::Cli::command());
    match page.render(&mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot write the manual page: {error}");
            exit::code(exit::SOFTWARE)
        }
    }
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
