//! The SMTP probe: greeting, EHLO, STARTTLS with certificate checks, optional AUTH, optional
//! envelope (MAIL FROM / RCPT TO, then RSET: nothing is sent).

use super::smtp::SmtpSession;
use super::stream::MailStream;
use crate::clock::PhaseClock;
use crate::tls_setup::TlsSetup;
use crate::{SetupError, Verdict};
use pharos_config::{MailEndpoint, SmtpSpec, TlsMode};
use secrecy::ExposeSecret;

pub(crate) struct SmtpProbe {
    spec: SmtpSpec,
    tls: TlsSetup,
}

impl SmtpProbe {
    /// What a watch session needs.
    pub(crate) fn parts(&self) -> (&SmtpSpec, &TlsSetup) {
        (&self.spec, &self.tls)
    }

    pub(crate) fn new(spec: &SmtpSpec) -> Result<Self, SetupError> {
        Ok(Self {
            tls: tls_for(&spec.endpoint)?,
            spec: spec.clone(),
        })
    }

    pub(crate) async fn run(&self, clock: &mut PhaseClock) -> Verdict {
        let endpoint = &self.spec.endpoint;
        let mut session = match SmtpSession::open(clock, endpoint, &self.tls, &self.spec.helo).await
        {
            Ok(session) => session,
            Err(error) => return Verdict::Down(error.to_string()),
        };
        clock.set_detail(format!("greeting: {}", session.greeting));
        if let (Some(username), Some(password)) = (&endpoint.username, &endpoint.password) {
            if let Err(error) = clock
                .time(
                    "auth",
                    session.authenticate(username, password.expose_secret()),
                )
                .await
            {
                return Verdict::Down(error.to_string());
            }
        }
        if let (Some(from), Some(to)) = (&self.spec.mail_from, &self.spec.rcpt_to) {
            if let Err(error) = clock.time("envelope", session.envelope(from, to)).await {
                return Verdict::Down(error.to_string());
            }
            let _ = session.command("RSET").await;
        }
        let warning = certificate_warning(&session.stream, endpoint);
        clock.time("quit", session.quit()).await;
        match warning {
            Some(warning) => Verdict::Degraded(warning),
            None => Verdict::Up,
        }
    }
}

/// The TLS set-up for a mail endpoint: its CA file and whether certificates are checked.
pub(crate) fn tls_for(endpoint: &MailEndpoint) -> Result<TlsSetup, SetupError> {
    TlsSetup::new(
        endpoint.ca_file.as_deref(),
        &endpoint.pin_sha256,
        endpoint.verify_tls,
        &[],
    )
}

/// A warning when the server's certificate expires within the endpoint's warning window.
pub(crate) fn certificate_warning(stream: &MailStream, endpoint: &MailEndpoint) -> Option<String> {
    if endpoint.tls == TlsMode::None || !endpoint.verify_tls {
        return None;
    }
    let days = stream.certificate.as_ref()?.days_left();
    (days < i64::from(endpoint.warn_days)).then(|| match days {
        0 => "TLS certificate expires today".to_owned(),
        1 => "TLS certificate expires in 1 day".to_owned(),
        days => format!("TLS certificate expires in {days} days"),
    })
}
