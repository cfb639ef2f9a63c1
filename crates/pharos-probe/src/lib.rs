//! pharos probes: one module per protocol. A probe checks its target the way users use it and
//! always ends in an `Outcome` (never an error, never a panic), within its timeout. Probes do
//! not know about detection, incidents or the store.

mod clock;
mod dns;
mod http;
mod https;
mod mail;
mod net;
mod provider;
pub use https::{https_client, HttpsClient};
pub use net::set_source_address;
mod redact;
mod resolver_health;
mod tcp;
mod tls;
mod tls_setup;
pub mod watch;

pub use tls_setup::install_crypto_provider;
pub use watch::WatchEnd;

use clock::PhaseClock;
use pharos_config::{Monitor, ProbeSpec};
use pharos_core::{Outcome, ProbeStatus};
use std::time::Duration;

/// A monitor's probe, prepared once (TLS roots and resolvers built, CA files read) and run many
/// times.
pub struct Prober {
    kind: PreparedProbe,
    timeout: Duration,
    degraded_above: Option<Duration>,
    /// The monitor's secrets, hidden from whatever the probe reports.
    redactor: redact::Redactor,
}

/// Large probes are boxed so that the many small (TCP) ones stay small.
enum PreparedProbe {
    Http(Box<http::HttpProbe>),
    Tcp(tcp::TcpProbe),
    Dns(Box<dns::DnsProbe>),
    Tls(Box<tls::TlsProbe>),
    Smtp(Box<mail::smtp_probe::SmtpProbe>),
    Imap(Box<mail::imap_probe::ImapProbe>),
    Pop3(Box<mail::pop3::Pop3Probe>),
    Mailflow(Box<mail::flow::MailflowProbe>),
    MailDomain(Box<mail::domain::MailDomainProbe>),
    Provider(Box<provider::ProviderProbe>),
}

/// A probe that cannot even be prepared, such as an unreadable CA file.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot read CA file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("cannot set up the DNS resolver: {0}")]
    Resolver(String),
}

impl Prober {
    pub fn new(monitor: &Monitor) -> Result<Self, SetupError> {
        let kind = match &monitor.probe {
            ProbeSpec::Http(spec) => PreparedProbe::Http(Box::new(http::HttpProbe::new(spec)?)),
            ProbeSpec::Tcp(spec) => PreparedProbe::Tcp(tcp::TcpProbe::new(spec)),
            ProbeSpec::Dns(spec) => {
                PreparedProbe::Dns(Box::new(dns::DnsProbe::new(spec, monitor.timeout)?))
            }
            ProbeSpec::Tls(spec) => PreparedProbe::Tls(Box::new(tls::TlsProbe::new(spec)?)),
            ProbeSpec::Smtp(spec) => {
                PreparedProbe::Smtp(Box::new(mail::smtp_probe::SmtpProbe::new(spec)?))
            }
            ProbeSpec::Imap(spec) => {
                PreparedProbe::Imap(Box::new(mail::imap_probe::ImapProbe::new(spec)?))
            }
            ProbeSpec::Pop3(spec) => {
                PreparedProbe::Pop3(Box::new(mail::pop3::Pop3Probe::new(spec)?))
            }
            ProbeSpec::Mailflow(spec) => PreparedProbe::Mailflow(Box::new(
                mail::flow::MailflowProbe::new(spec, monitor.id.as_str())?,
            )),
            ProbeSpec::MailDomain(spec) => PreparedProbe::MailDomain(Box::new(
                mail::domain::MailDomainProbe::new(spec, monitor.timeout)?,
            )),
            ProbeSpec::Provider(spec) => {
                PreparedProbe::Provider(Box::new(provider::ProviderProbe::new(spec)))
            }
        };
        Ok(Self {
            kind,
            redactor: redact::Redactor::for_probe(&monitor.probe),
            timeout: monitor.timeout,
            degraded_above: monitor.degraded_above,
        })
    }

    /// Runs the probe once. Ends within the monitor's timeout, whatever the target does.
    pub async fn run(&self) -> Outcome {
        let mut clock = PhaseClock::start();
        let verdict = tokio::time::timeout(self.timeout, self.run_inner(&mut clock)).await;
        let outcome = match verdict {
            Ok(verdict) => clock.finish(verdict),
            Err(_) => {
                let phase = clock.current_phase();
                let reason = format!(
                    "timed out after {} during {phase}",
                    net::describe_duration(self.timeout)
                );
                if matches!(self.kind, PreparedProbe::Provider(_)) {
                    // A provider's feed not answering says nothing about its service.
                    clock.finish(Verdict::Unknown(format!("the status feed {reason}")))
                } else {
                    clock.finish(Verdict::Down(reason))
                }
            }
        };
        self.redact(self.apply_latency_threshold(own_fault_is_unknown(outcome)))
    }

    /// Replaces the monitor's secrets in the reason and detail with `[redacted]`.
    fn redact(&self, mut outcome: Outcome) -> Outcome {
        if self.redactor.is_empty() {
            return outcome;
        }
        outcome.reason = outcome.reason.map(|reason| self.redactor.apply(&reason));
        outcome.detail = outcome.detail.map(|detail| self.redactor.apply(&detail));
        outcome
    }

    async fn run_inner(&self, clock: &mut PhaseClock) -> Verdict {
        match &self.kind {
            PreparedProbe::Http(probe) => probe.run(clock).await,
            PreparedProbe::Tcp(probe) => probe.run(clock).await,
            PreparedProbe::Dns(probe) => probe.run(clock).await,
            PreparedProbe::Tls(probe) => probe.run(clock).await,
            PreparedProbe::Smtp(probe) => probe.run(clock).await,
            PreparedProbe::Imap(probe) => probe.run(clock).await,
            PreparedProbe::Pop3(probe) => probe.run(clock).await,
            PreparedProbe::Mailflow(probe) => probe.run(clock).await,
            PreparedProbe::MailDomain(probe) => probe.run(clock).await,
            PreparedProbe::Provider(probe) => probe.run(clock).await,
        }
    }

    fn apply_latency_threshold(&self, outcome: Outcome) -> Outcome {
        match self.degraded_above {
            Some(threshold) if outcome.status == ProbeStatus::Up && outcome.latency > threshold => {
                let reason = format!(
                    "slow: took {}, above {}",
                    net::describe_duration(outcome.latency),
                    net::describe_duration(threshold)
                );
                Outcome::degraded(outcome.latency, outcome.phases, reason)
            }
            _ => outcome,
        }
    }
}

/// A failure that was pharos's own (however a protocol module worded around it) is
/// `unknown`, not `down`.
fn own_fault_is_unknown(outcome: Outcome) -> Outcome {
    match &outcome.reason {
        Some(reason) if outcome.status == ProbeStatus::Down => match reason.find(net::OWN_FAULT) {
            Some(start) => {
                let reason = reason[start..].to_owned();
                Outcome::unknown(outcome.latency, outcome.phases, reason)
                    .with_detail(outcome.detail)
            }
            None => outcome,
        },
        _ => outcome,
    }
}

/// What a protocol module concludes; the clock adds latency and phases to make an `Outcome`.
pub(crate) enum Verdict {
    Up,
    Degraded(String),
    Down(String),
    /// The check says nothing about the target (a provider's feed that cannot be read).
    Unknown(String),
}
