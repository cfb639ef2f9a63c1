//! The TLS certificate probe: the chain is valid, the name matches, and expiry is far enough.

use crate::clock::PhaseClock;
use crate::net::resolve_and_connect;
use crate::tls_setup::{describe_tls_error, CertificateFacts, TlsSetup};
use crate::{SetupError, Verdict};
use pharos_config::TlsSpec;
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

pub(crate) struct TlsProbe {
    host: String,
    port: u16,
    server_name: String,
    warn_days: u32,
    setup: TlsSetup,
}

impl TlsProbe {
    pub(crate) fn new(spec: &TlsSpec) -> Result<Self, SetupError> {
        Ok(Self {
            host: spec.host.clone(),
            port: spec.port,
            server_name: spec
                .server_name
                .clone()
                .unwrap_or_else(|| spec.host.clone()),
            warn_days: spec.warn_days,
            setup: TlsSetup::new(spec.ca_file.as_deref(), &spec.pin_sha256, true, &[])?,
        })
    }

    pub(crate) async fn run(&self, clock: &mut PhaseClock) -> Verdict {
        let stream = match resolve_and_connect(clock, &self.host, self.port).await {
            Ok(stream) => stream,
            Err(reason) => return Verdict::Down(reason),
        };
        let Ok(name) = ServerName::try_from(self.server_name.clone()) else {
            return Verdict::Down(format!(
                "`{}` is not a valid TLS server name",
                self.server_name
            ));
        };
        let (config, verifier) = self.setup.connection_config();
        let handshake = clock
            .time("tls", TlsConnector::from(config).connect(name, stream))
            .await;
        if let Err(error) = handshake {
            return Verdict::Down(describe_tls_error(
                &error,
                verifier.presented().as_ref(),
                &self.server_name,
            ));
        }
        let Some(facts) = verifier
            .presented()
            .as_ref()
            .and_then(CertificateFacts::read)
        else {
            return Verdict::Down("the server's certificate cannot be parsed".to_owned());
        };
        let days_left = facts.days_left();
        if days_left < i64::from(self.warn_days) {
            return Verdict::Degraded(match days_left {
                0 => "TLS certificate expires today".to_owned(),
                1 => "TLS certificate expires in 1 day".to_owned(),
                days => format!("TLS certificate expires in {days} days"),
            });
        }
        Verdict::Up
    }
}
