//! The validated configuration: every duration parsed, every reference resolved, every id
//! unique. Code downstream of `pharos-config` never sees raw TOML.

use crate::channel_model::{Channel, Route};
use pharos_core::{ComponentId, DetectionPolicy, IncidentTemplates, MonitorId};
use regex::Regex;
use secrecy::SecretString;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

#[derive(Debug)]
pub struct Config {
    pub server: ServerConfig,
    pub page: PageConfig,
    /// Where the public site is kept up to date as static files, if anywhere.
    pub publish: PublishConfig,
    pub retention: RetentionConfig,
    pub incidents: IncidentConfig,
    pub components: Vec<Component>,
    pub monitors: Vec<Monitor>,
    pub channels: Vec<Channel>,
    /// Which events go to which channels, each through an ordered fallback chain; without
    /// routes every channel takes the events it lists.
    pub routes: Vec<Route>,
    /// Scheduled maintenance windows.
    pub maintenance: Vec<pharos_core::maintenance::MaintenanceWindow>,
    /// What the probe agents of each other region check.
    pub assignments: crate::assignment::Assignments,
    /// Whether readers may subscribe, and how they are mailed (`[subscribers]`).
    pub subscribers: Option<crate::SubscribersConfig>,
}

#[derive(Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where the data lives: a SQLite file path (or `sqlite://` URL).
    pub database: pharos_core::DatabaseUrl,
    /// The address readers use to reach the status page, for links in feeds and webhooks.
    pub public_url: Option<Url>,
    /// Bearer token for the admin API; without one, admin endpoints are disabled.
    pub admin_token: Option<SecretString>,
    /// Reverse proxies whose `X-Forwarded-For` names the real client (for rate limits).
    pub trusted_proxies: Vec<IpNet>,
    /// The name of the region the server itself probes from.
    pub region: String,
}

/// An address or a network in CIDR form, such as `10.0.0.0/8`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpNet {
    pub address: std::net::IpAddr,
    pub prefix: u8,
}

impl IpNet {
    /// Parses `192.0.2.1`, `10.0.0.0/8` or `::1/128`.
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix.parse::<u8>().ok()?)),
            None => (text, None),
        };
        let address: std::net::IpAddr = address.trim().parse().ok()?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Self { address, prefix })
    }

    pub fn contains(&self, address: std::net::IpAddr) -> bool {
        match (self.address, address) {
            (std::net::IpAddr::V4(net), std::net::IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(address) & mask
            }
            (std::net::IpAddr::V6(net), std::net::IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

#[derive(Debug)]
pub struct PageConfig {
    pub title: String,
    pub description: Option<String>,
}

/// `[publish]`: the whole public site kept as files in `dir`, rewritten (atomically) on every
/// change, and `hook` run after each publish.
#[derive(Clone, Debug, Default)]
pub struct PublishConfig {
    pub dir: Option<std::path::PathBuf>,
    /// A program and its arguments, run after each publish (an upload, say).
    pub hook: Vec<String>,
}

#[derive(Debug)]
pub struct RetentionConfig {
    /// How long raw probe results are kept before only their roll-ups remain.
    pub raw_results: Duration,
    /// How long per-minute, per-hour and per-day roll-ups are kept.
    pub rollups: Duration,
}

#[derive(Debug)]
pub struct IncidentConfig {
    /// Operators are reminded (an `incident.update_overdue` notification) when an open
    /// incident has had no update for this long.
    pub update_every: Duration,
    /// Impact changes this soon after an incident's last update are folded into one update
    /// once the impact has settled.
    pub settle: Duration,
    /// A dependent failing this close to one of its dependencies (before or after) joins the
    /// dependency's incident instead of opening its own; a dependent still failing this long
    /// after its root recovered is split into its own incident.
    pub correlation_window: Duration,
}

#[derive(Debug)]
pub struct Component {
    pub id: ComponentId,
    pub name: String,
    pub group: Option<String>,
    pub description: Option<String>,
    pub templates: IncidentTemplates,
    /// The components this one needs to work (direct dependencies; acyclic, validated).
    pub depends_on: Vec<ComponentId>,
}

#[derive(Debug)]
pub struct Monitor {
    pub id: MonitorId,
    pub name: String,
    pub component: ComponentId,
    pub interval: Duration,
    pub timeout: Duration,
    pub policy: DetectionPolicy,
    /// Latency above this turns an otherwise good result into a degraded one.
    pub degraded_above: Option<Duration>,
    /// The regions that check it, in order (the server's own region when none is named: an
    /// empty list here means just that).
    pub regions: Vec<String>,
    /// How many of those regions must see it down before it is down.
    pub quorum: pharos_core::regions::Quorum,
    /// Where in its interval it runs, counted from the UTC clock's epoch (`phase`); none
    /// means anywhere (a random phase spreads the load).
    pub phase: Option<Duration>,
    /// Hold a connection open to its target and check at once when it is lost (`watch`).
    pub watch: bool,
    pub probe: ProbeSpec,
}

impl Monitor {
    /// Where in its interval region number `slot` of `count` runs it: the regions take
    /// turns, evenly spaced (three regions at 30 s look every 10 s), from the configured
    /// `phase` or one derived from the monitor's id (the same on every host).
    pub fn region_phase(&self, slot: usize, count: usize) -> Duration {
        let interval = self.interval.as_nanos().max(1);
        let base = match self.phase {
            Some(phase) => phase.as_nanos(),
            None => {
                // FNV-1a of the id: stable across hosts and releases.
                let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
                for byte in self.id.as_str().bytes() {
                    hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
                }
                u128::from(hash)
            }
        };
        let step = interval * slot as u128 / count.max(1) as u128;
        Duration::from_nanos(((base + step) % interval) as u64)
    }

    /// The regions that check it, the server's own region standing for an empty list.
    pub fn regions<'a>(&'a self, home: &'a str) -> Vec<&'a str> {
        if self.regions.is_empty() {
            vec![home]
        } else {
            self.regions.iter().map(String::as_str).collect()
        }
    }
}

#[derive(Debug)]
pub enum ProbeSpec {
    Http(HttpSpec),
    Tcp(TcpSpec),
    Dns(DnsSpec),
    Tls(TlsSpec),
    Smtp(SmtpSpec),
    Imap(ImapSpec),
    Pop3(Pop3Spec),
    Mailflow(MailflowSpec),
    MailDomain(MailDomainSpec),
    Provider(ProviderSpec),
}

impl ProbeSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeSpec::Http(_) => "http",
            ProbeSpec::Tcp(_) => "tcp",
            ProbeSpec::Dns(_) => "dns",
            ProbeSpec::Tls(_) => "tls",
            ProbeSpec::Smtp(_) => "smtp",
            ProbeSpec::Imap(_) => "imap",
            ProbeSpec::Pop3(_) => "pop3",
            ProbeSpec::Mailflow(_) => "mailflow",
            ProbeSpec::MailDomain(_) => "maildomain",
            ProbeSpec::Provider(_) => "provider",
        }
    }

    /// What the probe looks at, for tables and logs.
    pub fn target(&self) -> String {
        match self {
            ProbeSpec::Http(spec) => spec.shown_url(),
            ProbeSpec::Tcp(spec) => format!("{}:{}", spec.host, spec.port),
            ProbeSpec::Dns(spec) => format!("{} {}", spec.record.as_str(), spec.name),
            ProbeSpec::Tls(spec) => format!("{}:{}", spec.host, spec.port),
            ProbeSpec::Smtp(spec) => spec.endpoint.to_string(),
            ProbeSpec::Imap(spec) => spec.endpoint.to_string(),
            ProbeSpec::Pop3(spec) => spec.endpoint.to_string(),
            ProbeSpec::Mailflow(spec) => format!("{} → {}", spec.send, spec.receive),
            ProbeSpec::MailDomain(spec) => spec.domain.clone(),
            ProbeSpec::Provider(spec) => spec.describe(),
        }
    }
}

/// An inclusive range of accepted HTTP status codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusRange {
    pub low: u16,
    pub high: u16,
}

impl StatusRange {
    pub fn contains(&self, status: u16) -> bool {
        (self.low..=self.high).contains(&status)
    }
}

impl fmt::Display for StatusRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else if self.high - self.low == 99 && self.low.is_multiple_of(100) {
            write!(f, "{}xx", self.low / 100)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

/// A header whose value may hold a credential, so `Debug` never shows it.
#[derive(Clone)]
pub struct Header {
    pub name: String,
    pub value: SecretString,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: [redacted]", self.name)
    }
}

impl HttpSpec {
    /// The URL as it may be shown: a password, and query values that came from the
    /// environment, read `[redacted]`.
    pub fn shown_url(&self) -> String {
        let mut url = self.url.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some("[redacted]"));
        }
        if !self.secret_query_keys.is_empty() {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(key, value)| {
                    let value = if self.secret_query_keys.iter().any(|secret| *secret == key) {
                        "[redacted]".to_owned()
                    } else {
                        value.into_owned()
                    };
                    (key.into_owned(), value)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url.to_string().replace("%5Bredacted%5D", "[redacted]")
    }

    /// The values of query parameters that came from the environment.
    pub fn secret_query_values(&self) -> Vec<String> {
        self.url
            .query_pairs()
            .filter(|(key, _)| self.secret_query_keys.iter().any(|secret| secret == key))
            .map(|(_, value)| value.into_owned())
            .collect()
    }
}

#[derive(Clone, Debug)]
pub struct HttpSpec {
    pub url: Url,
    /// Query parameters whose values come from `${NAME}`: secrets, never shown.
    pub secret_query_keys: Vec<String>,
    pub method: String,
    pub headers: Vec<Header>,
    pub body: Option<String>,
    pub accept_status: Vec<StatusRange>,
    pub body_contains: Option<String>,
    pub body_regex: Option<Regex>,
    pub follow_redirects: bool,
    pub max_redirects: u32,
    pub verify_tls: bool,
    pub ca_file: Option<PathBuf>,
    /// SHA-256 hashes of trusted public keys (SPKI): a server presenting one is trusted
    /// whatever its chain, and with pins no other key is.
    pub pin_sha256: Vec<[u8; 32]>,
}

#[derive(Clone, Debug)]
pub struct TcpSpec {
    pub host: String,
    pub port: u16,
    /// Bytes to send once connected (escapes such as `\r\n` are written as TOML escapes).
    pub send: Option<String>,
    /// Text the answer must contain (a banner, a greeting).
    pub expect: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    A,
    Aaaa,
    Mx,
    Txt,
    Cname,
    Ns,
}

impl RecordKind {
    pub const ALL: [RecordKind; 6] = [
        RecordKind::A,
        RecordKind::Aaaa,
        RecordKind::Mx,
        RecordKind::Txt,
        RecordKind::Cname,
        RecordKind::Ns,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::A => "A",
            RecordKind::Aaaa => "AAAA",
            RecordKind::Mx => "MX",
            RecordKind::Txt => "TXT",
            RecordKind::Cname => "CNAME",
            RecordKind::Ns => "NS",
        }
    }
}

#[derive(Clone, Debug)]
pub struct DnsSpec {
    pub name: String,
    pub record: RecordKind,
    /// The server to ask; the system resolver when absent.
    pub resolver: Option<SocketAddr>,
    /// Answers that must all be present (compared case-insensitively, without trailing dot).
    pub expect: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct TlsSpec {
    pub host: String,
    pub port: u16,
    /// The name the certificate must match; the host when absent.
    pub server_name: Option<String>,
    /// A certificate expiring within this many days makes the result degraded.
    pub warn_days: u32,
    pub ca_file: Option<PathBuf>,
    /// SHA-256 hashes of trusted public keys (SPKI): a server presenting one is trusted
    /// whatever its chain, and with pins no other key is.
    pub pin_sha256: Vec<[u8; 32]>,
}

/// How a mail connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text throughout.
    None,
    /// Plain text upgraded with STARTTLS (SMTP, IMAP) or STLS (POP3); required, not optional.
    StartTls,
    /// TLS from the first byte (ports 465, 993, 995).
    Implicit,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::StartTls => "starttls",
            TlsMode::Implicit => "implicit",
        }
    }
}

/// A mail server to connect to, and how to log in to it.
#[derive(Clone, Debug)]
pub struct MailEndpoint {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<SecretString>,
    pub verify_tls: bool,
    pub ca_file: Option<PathBuf>,
    /// SHA-256 hashes of trusted public keys (SPKI): a server presenting one is trusted
    /// whatever its chain, and with pins no other key is.
    pub pin_sha256: Vec<[u8; 32]>,
    /// A certificate expiring within this many days makes the result degraded.
    pub warn_days: u32,
}

impl fmt::Display for MailEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} ({})", self.host, self.port, self.tls.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct SmtpSpec {
    pub endpoint: MailEndpoint,
    /// The name given in EHLO.
    pub helo: String,
    /// With `rcpt_to`, the envelope is tried (MAIL FROM, RCPT TO) and reset, nothing is sent.
    pub mail_from: Option<String>,
    pub rcpt_to: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ImapSpec {
    pub endpoint: MailEndpoint,
    pub mailbox: String,
}

#[derive(Clone, Debug)]
pub struct Pop3Spec {
    pub endpoint: MailEndpoint,
}

/// The end-to-end check: send a tagged message, watch it arrive, delete it.
#[derive(Clone, Debug)]
pub struct MailflowSpec {
    /// The SMTP server (usually submission with a login) the message is sent through.
    pub send: MailEndpoint,
    pub helo: String,
    pub from: String,
    pub to: String,
    /// The IMAP server and mailbox where the message must arrive.
    pub receive: MailEndpoint,
    pub mailbox: String,
    /// Slower delivery than this is degraded.
    pub degraded_after: Duration,
    /// A message not delivered within this is an outage.
    pub deliver_within: Duration,
}

/// The health of a mail domain: MX, SPF, DMARC, MTA-STS, blocklists.
#[derive(Clone, Debug)]
pub struct MailDomainSpec {
    pub domain: String,
    pub resolver: Option<SocketAddr>,
    /// DNS blocklist zones the MX addresses are looked up in.
    pub blocklists: Vec<String>,
    /// Connect to each MX on this port and try STARTTLS; 0 skips the connection check.
    pub mx_port: u16,
    pub check_mta_sts: bool,
    pub ca_file: Option<PathBuf>,
}

impl Config {
    pub fn component(&self, id: &ComponentId) -> Option<&Component> {
        self.components.iter().find(|component| &component.id == id)
    }
}

/// A provider's official status feed, read as a check: what the provider itself says about a
/// service, beside (or instead of) our own probes.
#[derive(Clone, Debug)]
pub enum ProviderSpec {
    /// Any Statuspage-compatible page (`/api/v2/summary.json`).
    Statuspage {
        /// The page's address; `api/v2/summary.json` is read from it.
        url: url::Url,
        /// Components by name or id; empty: the page's overall status.
        components: Vec<String>,
    },
    /// The Google Workspace Status Dashboard's `incidents.json`.
    GoogleWorkspace {
        url: url::Url,
        products: Vec<String>,
    },
    /// Microsoft 365 Service Health through Microsoft Graph (client credentials).
    Microsoft365 {
        tenant_id: String,
        client_id: String,
        client_secret: secrecy::SecretString,
        /// The service as Graph names it, e.g. "Exchange Online".
        service: String,
        graph_url: url::Url,
        login_url: url::Url,
    },
}

impl ProviderSpec {
    pub const KINDS: [&'static str; 3] = ["statuspage", "google_workspace", "microsoft365"];

    /// The `provider` key's value.
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderSpec::Statuspage { .. } => "statuspage",
            ProviderSpec::GoogleWorkspace { .. } => "google_workspace",
            ProviderSpec::Microsoft365 { .. } => "microsoft365",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            ProviderSpec::Statuspage { url, components } if components.is_empty() => {
                url.to_string()
            }
            ProviderSpec::Statuspage { url, components } => {
                format!("{url} ({})", components.join(", "))
            }
            ProviderSpec::GoogleWorkspace { products, .. } => {
                format!("Google Workspace ({})", products.join(", "))
            }
            ProviderSpec::Microsoft365 { service, .. } => format!("Microsoft 365 ({service})"),
        }
    }
}
