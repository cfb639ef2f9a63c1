//! The POP3 probe: greeting, STLS or implicit TLS, USER/PASS, STAT, QUIT.

use super::smtp_probe::{certificate_warning, tls_for};
use super::stream::{quote, MailError, MailStream};
use crate::clock::PhaseClock;
use crate::tls_setup::TlsSetup;
use crate::{SetupError, Verdict};
use pharos_config::{Pop3Spec, TlsMode};
use secrecy::ExposeSecret;

pub(crate) struct Pop3Probe {
    spec: Pop3Spec,
    tls: TlsSetup,
}

impl Pop3Probe {
    pub(crate) fn new(spec: &Pop3Spec) -> Result<Self, SetupError> {
        Ok(Self {
            tls: tls_for(&spec.endpoint)?,
            spec: spec.clone(),
        })
    }

    pub(crate) async fn run(&self, clock: &mut PhaseClock) -> Verdict {
        match self.session(clock).await {
            Ok(Some(warning)) => Verdict::Degraded(warning),
            Ok(None) => Verdict::Up,
            Err(error) => Verdict::Down(error.to_string()),
        }
    }

    async fn session(&self, clock: &mut PhaseClock) -> Result<Option<String>, MailError> {
        let endpoint = &self.spec.endpoint;
        let mut stream = MailStream::connect(clock, endpoint, &self.tls).await?;
        let greeting = clock.time("greeting", status(&mut stream)).await?;
        clock.set_detail(format!("greeting: {greeting}"));
        if endpoint.tls == TlsMode::StartTls {
            command(&mut stream, "STLS")
                .await
                .map_err(|error| match error {
                    MailError::Temporary(text) | MailError::Permanent(text) => {
                        MailError::Tls(format!("STLS refused: {text}"))
                    }
                    other => other,
                })?;
            stream = stream.start_tls(clock, &self.tls, &endpoint.host).await?;
        }
        if let (Some(username), Some(password)) = (&endpoint.username, &endpoint.password) {
            let login = async {
                command(&mut stream, &format!("USER {username}")).await?;
                command(&mut stream, &format!("PASS {}", password.expose_secret())).await
            };
            clock
                .time("login", login)
                .await
                .map_err(|error| match error {
                    MailError::Temporary(text) | MailError::Permanent(text) => {
                        MailError::Authentication(text)
                    }
                    other => other,
                })?;
            let stat = clock.time("stat", command(&mut stream, "STAT")).await?;
            let count = stat.split_whitespace().next().unwrap_or("?");
            clock.set_detail(format!("{count} messages"));
        }
        let warning = certificate_warning(&stream, endpoint);
        let _ = clock.time("quit", command(&mut stream, "QUIT")).await;
        Ok(warning)
    }
}

async fn command(stream: &mut MailStream, line: &str) -> Result<String, MailError> {
    stream.send_line(line).await?;
    status(stream).await
}

/// Reads a `+OK` / `-ERR` status line; returns the text after `+OK`.
async fn status(stream: &mut MailStream) -> Result<String, MailError> {
    let line = stream.read_line().await?;
    if let Some(text) = line.strip_prefix("+OK") {
        return Ok(quote(text.trim()));
    }
    if let Some(text) = line.strip_prefix("-ERR") {
        let text = quote(text.trim());
        // POP3 has no temporary/permanent distinction except the RFC 3206 codes.
        return Err(
            if text.starts_with("[IN-USE]") || text.starts_with("[SYS/TEMP]") {
                MailError::Temporary(format!("-ERR {text}"))
            } else {
                MailError::Permanent(format!("-ERR {text}"))
            },
        );
    }
    Err(MailError::Protocol(format!(
        "not a POP3 answer: `{}`",
        quote(&line)
    )))
}
