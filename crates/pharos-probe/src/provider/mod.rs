//! Providers' official status feeds read as checks: what Microsoft, Google or any
//! Statuspage-compatible page says about a service. Each feed is read with `If-None-Match` /
//! `If-Modified-Since` and a 304 reuses the last answer; `Retry-After` is honoured. A feed
//! that cannot be read (no answer, 401, 429, 5xx, a malformed or truncated body) is
//! `unknown`: it says nothing about the service.

mod fetch;
mod google;
mod microsoft;
mod statuspage;

use crate::clock::PhaseClock;
use crate::Verdict;
use fetch::Feed;
use pharos_config::ProviderSpec;
use pharos_core::ComponentStatus;

/// What a provider says about the service: its status and the incidents it admits.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Report {
    /// Who says it, e.g. "Microsoft" or "GitHub".
    pub(crate) provider: String,
    /// What it is about, e.g. "Exchange Online".
    pub(crate) service: String,
    pub(crate) status: ComponentStatus,
    pub(crate) incidents: Vec<ProviderIncident>,
}

/// An open incident (or advisory) as the provider words it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ProviderIncident {
    /// The provider's own id, e.g. "EX123456".
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) url: Option<String>,
}

impl Report {
    /// "Microsoft reports EX123456: Users may be unable to access email via Outlook", or the
    /// status alone when the provider names no incident.
    fn summary(&self) -> String {
        match self.incidents.first() {
            Some(incident) => {
                let more = match self.incidents.len() {
                    1 => String::new(),
                    count => format!(" (and {} more)", count - 1),
                };
                format!(
                    "{} reports {}: {}{more}",
                    self.provider, incident.id, incident.title
                )
            }
            None => format!(
                "{} reports {} as {}",
                self.provider,
                self.service,
                self.status.label().to_lowercase()
            ),
        }
    }

    fn verdict(&self, clock: &mut PhaseClock) -> Verdict {
        let links: Vec<&str> = self
            .incidents
            .iter()
            .filter_map(|incident| incident.url.as_deref())
            .collect();
        let summary = self.summary();
        if links.is_empty() {
            clock.set_detail(summary.clone());
        } else {
            clock.set_detail(format!("{summary} ({})", links.join(", ")));
        }
        match self.status {
            ComponentStatus::Operational | ComponentStatus::UnderMaintenance => Verdict::Up,
            ComponentStatus::DegradedPerformance => Verdict::Degraded(summary),
            ComponentStatus::PartialOutage | ComponentStatus::MajorOutage => Verdict::Down(
                format!("{summary} ({})", self.status.label().to_lowercase()),
            ),
        }
    }
}

/// A provider feed, prepared once; remembers validators, the last report and tokens
/// between runs.
pub(crate) struct ProviderProbe {
    spec: ProviderSpec,
    feed: Feed,
    microsoft: microsoft::Session,
}

impl ProviderProbe {
    pub(crate) fn new(spec: &ProviderSpec) -> Self {
        Self {
            spec: spec.clone(),
            feed: Feed::new(),
            microsoft: microsoft::Session::default(),
        }
    }

    pub(crate) async fn run(&self, clock: &mut PhaseClock) -> Verdict {
        let read = async {
            match &self.spec {
                ProviderSpec::Statuspage { url, components } => {
                    statuspage::read(&self.feed, url, components).await
                }
                ProviderSpec::GoogleWorkspace { url, products } => {
                    google::read(&self.feed, url, products).await
                }
                ProviderSpec::Microsoft365 { .. } => {
                    microsoft::read(&self.feed, &self.microsoft, &self.spec).await
                }
            }
        };
        let report = clock.time("fetch", read).await;
        match report {
            Ok(report) => report.verdict(clock),
            Err(problem) => Verdict::Unknown(problem),
        }
    }
}
