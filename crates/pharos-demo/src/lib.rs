//! The built-in demo: small in-process targets (HTTP, DNS, and a mail service with SMTP and
//! IMAP) that fail and recover on a cycle, and a webhook receiver that verifies signatures, so `pharos serve --demo` shows the
//! whole loop from first failure to resolved incident with no set-up. The DNS responder and
//! the receiver double as real peers for tests.

pub mod chat;
pub mod dns;
pub mod mail;
pub mod receiver;
pub mod targets;

pub use chat::ChatReceiver;
pub use dns::DnsResponder;
pub use hickory_proto::rr::{rdata, Name, RData, RecordType};
pub use receiver::{Received, WebhookReceiver};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::RngCore;
use std::time::Duration;
use targets::{DnsTarget, HttpTarget, RegionalTarget, TcpTarget, DEMO_NAME};
use tokio::sync::watch;

/// The demo's outage cycle: when each target is down, as offsets into a repeating period.
pub const CYCLE: Duration = Duration::from_secs(180);
const WEBMAIL_DOWN: (u64, u64) = (20, 65);
/// Mail delivery needs SMTP: its check fails too, and joins SMTP's incident (one incident,
/// SMTP named the probable root cause), then recovers with it.
const SMTP_DOWN: (u64, u64) = (80, 110);
/// Late enough for delivery to have recovered from the SMTP outage first.
const DELIVERY_HELD: (u64, u64) = (140, 172);
const DNS_WRONG: (u64, u64) = (135, 160);
/// The maintenance window around the DNS failure (every other cycle): it begins before the
/// failure and ends after its recovery is confirmed.
const DNS_MAINTENANCE: (u64, u64) = (125, 185);
/// The public API cannot be reached from one region (ap-south): a localized partial outage
/// that the other regions do not see.
const API_REGION_DOWN: (u64, u64) = (30, 75);

/// The demo's probe agents: their regions and the loopback addresses they connect from.
pub const DEMO_AGENTS: [(&str, [u8; 4]); 2] =
    [("eu-west", [127, 0, 0, 2]), ("ap-south", [127, 0, 0, 3])];

pub struct Demo {
    pub webmail: HttpTarget,
    /// The mail service's SMTP server; taken down, its port refuses connections.
    pub smtp: TcpTarget,
    /// The mail service's IMAP server; always up.
    pub imap: TcpTarget,
    /// Where mail lands; delivery is held on the cycle.
    pub mailbox: mail::Mailbox,
    pub dns: DnsTarget,
    /// The public API, refused to one region's agent on the cycle.
    pub api: RegionalTarget,
    pub receiver: WebhookReceiver,
    /// Where alerts go when the demo's own mail cannot carry them.
    pub chat: ChatReceiver,
    pub webhook_secret: String,
    pub admin_token: String,
}

impl Demo {
    pub async fn start() -> std::io::Result<Self> {
        let webhook_secret = format!("whsec_{}", STANDARD.encode(random_bytes::<32>()));
        let admin_token: String = random_bytes::<16>()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let mailbox = mail::Mailbox::default();
        let (smtp, imap) = mail::start(&mailbox).await?;
        Ok(Self {
            webmail: HttpTarget::start().await?,
            smtp,
            imap,
            mailbox,
            dns: DnsTarget::start().await?,
            api: RegionalTarget::start().await?,
            receiver: WebhookReceiver::start(
                "127.0.0.1:0".parse().expect("a valid address"),
                &webhook_secret,
            )
            .await?,
            chat: ChatReceiver::start().await?,
            webhook_secret,
            admin_token,
        })
    }

    /// The demo's configuration, pointing at its own targets and receiver.
    pub fn config(&self, database: &str) -> String {
        format!(
            r#"# The built-in demo configuration (generated at start: ports are chosen by the system).
[server]
database = "{database}"
admin_token = "{admin_token}"

[page]
title = "pharos demo"
description = "A live demo: these services fail and recover on a {cycle}-second cycle, so you can watch incidents open and resolve by themselves."

[defaults]
interval = "10s"
timeout = "3s"
confirm_delay = "3s"
failures_to_confirm = 2
successes_to_recover = 2

[[components]]
id = "webmail"
name = "Webmail"
group = "Email"
description = "Reading and writing mail in the browser."

[[components]]
id = "smtp"
name = "Mail submission (SMTP)"
group = "Email"
description = "Sending mail from mail clients."
investigating_message = "We are investigating problems with sending mail."
resolved_message = "Sending mail works normally again."

[[components]]
id = "delivery"
name = "Mail delivery"
group = "Email"
description = "Mail arriving in mailboxes, checked end to end: a message is sent, watched for, and deleted."
# Delivery needs submission: while SMTP is down, delivery's failure joins SMTP's incident.
depends_on = ["smtp"]
investigating_message = "Some messages are arriving late or not at all. We are investigating."
resolved_message = "Mail is being delivered normally again; delayed messages are on their way."

[[components]]
id = "dns"
name = "DNS"
group = "Infrastructure"
description = "Name resolution of the mail servers."

[[components]]
id = "api"
name = "Public API"
group = "Infrastructure"
description = "Checked from here and by two probe agents (eu-west, ap-south): on the cycle, ap-south cannot reach it."

[[monitors]]
id = "webmail-http"
name = "Webmail sign-in page"
component = "webmail"
type = "http"
url = "http://{webmail}/"
body_contains = "Sign in"

[[monitors]]
id = "smtp-session"
name = "SMTP session with login"
component = "smtp"
type = "smtp"
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
allow_plaintext_password = true
username = "{mailbox}"
password = "{password}"

[[monitors]]
id = "smtp-tcp"
name = "SMTP port answers"
component = "smtp"
type = "tcp"
host = "127.0.0.1"
port = {smtp_port}
expect = "220"

[[monitors]]
id = "mail-roundtrip"
name = "Message delivered to a mailbox"
component = "delivery"
type = "mailflow"
interval = "20s"
timeout = "15s"
deliver_within = "6s"
degraded_after = "2s"

[monitors.send]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
allow_plaintext_password = true
username = "{mailbox}"
password = "{password}"
from = "{mailbox}"
to = "{mailbox}"

[monitors.receive]
host = "127.0.0.1"
port = {imap_port}
tls = "none"
allow_plaintext_password = true
username = "{mailbox}"
password = "{password}"

[[monitors]]
id = "mail-dns"
name = "{dns_name} address"
component = "dns"
type = "dns"
query = "{dns_name}"
resolver = "{dns}"
expect = ["192.0.2.25"]

[[monitors]]
id = "api-http"
name = "API answers"
component = "api"
type = "http"
url = "http://{api}/"
body_contains = "ok"
regions = ["local", "eu-west", "ap-south"]
quorum = "majority"

# Every other cycle the DNS change is announced work: a maintenance window covers it, the
# component shows "under maintenance" and no incident opens; on the cycles between, the same
# failure is an incident.
[[maintenance]]
id = "dns-migration"
title = "DNS server migration"
components = ["dns"]
start = "{maintenance_start}"
duration = "{maintenance_length}s"
every = "{maintenance_every}s"
message = "Name resolution may briefly return old answers while we move DNS servers."

[[channels]]
id = "demo-receiver"
type = "webhook"
url = "{receiver}"
secret = "{secret}"

# Operators' alerts go by email through the demo's own mail service, which is exactly what
# fails on the cycle: while sending or delivery is down, the email channel is skipped and
# the alert goes to chat at once (see the log).
[[channels]]
id = "demo-ops-email"
type = "email"
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
allow_plaintext_password = true
username = "{mailbox}"
password = "{password}"
from = "pharos demo <{mailbox}>"
to = ["{mailbox}"]
depends_on = ["smtp", "delivery"]
events = ["incident.opened", "incident.updated", "incident.resolved"]

[[channels]]
id = "demo-chat"
type = "ntfy"
server = "{chat}"
topic = "demo-ops"

[[routes]]
chain = ["demo-ops-email", "demo-chat"]
fallback_after = "30s"
events = ["incident.opened", "incident.updated", "incident.resolved"]

[[routes]]
chain = ["demo-receiver"]
"#,
            admin_token = self.admin_token,
            cycle = CYCLE.as_secs(),
            webmail = self.webmail.address,
            smtp_port = self.smtp.address.port(),
            imap_port = self.imap.address.port(),
            mailbox = mail::DEMO_MAILBOX,
            password = mail::DEMO_PASSWORD,
            dns_name = DEMO_NAME,
            dns = self.dns.responder.address(),
            api = self.api.address,
            receiver = self.receiver.url(),
            chat = self.chat.url(),
            secret = self.webhook_secret,
            maintenance_start = (chrono::Utc::now()
                + chrono::Duration::seconds(DNS_MAINTENANCE.0 as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            maintenance_length = DNS_MAINTENANCE.1 - DNS_MAINTENANCE.0,
            maintenance_every = 2 * CYCLE.as_secs(),
        )
    }

    /// Takes targets down and brings them back on the demo's cycle until shutdown.
    pub async fn run_cycle(&self, mut shutdown: watch::Receiver<bool>) {
        let started = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut previous = (false, false, false, false);
        let mut api_refused = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let offset = started.elapsed().as_secs() % CYCLE.as_secs();
            let within = |(from, to): (u64, u64)| (from..to).contains(&offset);
            if within(API_REGION_DOWN) != api_refused {
                api_refused = !api_refused;
                let ap_south = [std::net::IpAddr::from(DEMO_AGENTS[1].1)];
                self.api.refuse(if api_refused { &ap_south } else { &[] });
                tracing::info!(
                    target: "pharos::demo",
                    "demo targets: the public API is {} from ap-south",
                    if api_refused { "unreachable" } else { "reachable again" }
                );
            }
            let state = (
                within(WEBMAIL_DOWN),
                within(SMTP_DOWN),
                within(DELIVERY_HELD),
                within(DNS_WRONG),
            );
            if state != previous {
                self.webmail.set_down(state.0);
                self.smtp.set_down(state.1);
                self.mailbox.hold_delivery(state.2);
                self.dns.set_down(state.3);
                let describe = |down: bool| if down { "down" } else { "up" };
                tracing::info!(
                    target: "pharos::demo",
                    "demo targets: webmail {}, smtp {}, mail delivery {}, dns {}",
                    describe(state.0),
                    describe(state.1),
                    if state.2 { "held" } else { "flowing" },
                    if state.3 { "wrong answer" } else { "up" }
                );
                previous = state;
            }
        }
    }
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}
