//! Exit codes, after sysexits.h.

use std::process::ExitCode;

/// The command was used wrongly, or the configuration is invalid (EX_USAGE).
pub(crate) const USAGE: u8 = 64;
/// A configuration file could not be read (EX_NOINPUT).
pub(crate) const NO_INPUT: u8 = 66;
/// An internal fault (a task that should run until shutdown stopped).
pub(crate) const SOFTWARE: u8 = 70;
/// The server refused the credentials given (EX_NOPERM).
pub(crate) const NO_PERMISSION: u8 = 77;
/// Something pharos needs is unavailable: the database, a port (EX_UNAVAILABLE).
pub(crate) const UNAVAILABLE: u8 = 69;

pub(crate) fn code(value: u8) -> ExitCode {
    ExitCode::from(value)
}
