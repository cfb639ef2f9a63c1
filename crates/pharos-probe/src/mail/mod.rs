//! Email probes: SMTP, IMAP and POP3 sessions timed phase by phase, the end-to-end mail-flow
//! check, and mail-domain health. The protocol clients are written here rather than taken
//! from a library because each phase (greeting, EHLO, STARTTLS, AUTH, envelope…) must be
//! timed and each failure classified.

mod auth;
pub(crate) mod domain;
pub(crate) mod flow;
pub(crate) mod imap;
pub(crate) mod imap_probe;
pub(crate) mod pop3;
pub(crate) mod smtp;
pub(crate) mod smtp_probe;
pub(crate) mod stream;
