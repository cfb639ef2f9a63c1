//! The IMAP probe: greeting, CAPABILITY, TLS, login, SELECT (message count), LOGOUT.

use super::imap::ImapSession;
use super::smtp_probe::{certificate_warning, tls_for};
use crate::clock::PhaseClock;
use crate::tls_setup::TlsSetup;
use crate::{SetupError, Verdict};
use pharos_config::ImapSpec;
use secrecy::ExposeSecret;

pub(crate) struct ImapProbe {
    spec: ImapSpec,
    tls: TlsSetup,
}

impl ImapProbe {
    /// What a watch session needs.
    pub(crate) fn parts(&self) -> (&ImapSpec, &TlsSetup) {
        (&self.spec, &self.tls)
    }

    pub(crate) fn new(spec: &ImapSpec) -> Result<Self, SetupError> {
        Ok(Self {
            tls: tls_for(&spec.endpoint)?,
            spec: spec.clone(),
        })
    }

    pub(crate) async fn run(&self, clock: &mut PhaseClock) -> Verdict {
        let endpoint = &self.spec.endpoint;
        let mut session = match ImapSession::open(clock, endpoint, &self.tls).await {
            Ok(session) => session,
            Err(error) => return Verdict::Down(error.to_string()),
        };
        clock.set_detail(format!("greeting: {}", session.greeting));
        if let (Some(username), Some(password)) = (&endpoint.username, &endpoint.password) {
            if let Err(error) = clock
                .time("login", session.login(username, password.expose_secret()))
                .await
            {
                return Verdict::Down(error.to_string());
            }
            match clock
                .time("select", session.select(&self.spec.mailbox))
                .await
            {
                Ok(count) => clock.set_detail(format!("{}: {count} messages", self.spec.mailbox)),
                Err(error) => {
                    return Verdict::Down(format!("SELECT {}: {error}", self.spec.mailbox))
                }
            }
        }
        let warning = certificate_warning(session.stream(), endpoint);
        clock.time("logout", session.logout()).await;
        match warning {
            Some(warning) => Verdict::Degraded(warning),
            None => Verdict::Up,
        }
    }
}
