//! Mail-domain health: MX records resolve and each MX accepts a connection and STARTTLS; one
//! valid SPF record; a DMARC record and its policy; an MTA-STS policy consistent with the MX
//! set; MX addresses not on the configured DNS blocklists. Every finding is reported on its
//! own line; problems make the result down, warnings degraded.

use super::smtp::SmtpSession;
use super::stream::MailStream;
use crate::clock::PhaseClock;
use crate::dns::build_resolver;
use crate::http::{exchange, tls_connect};
use crate::net::describe_io_error;
use crate::tls_setup::TlsSetup;
use crate::{SetupError, Verdict};
use bytes::Bytes;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{ResolveError, TokioResolver};
use http::Request;
use http_body_util::Full;
use pharos_config::MailDomainSpec;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// How long one MX may take to greet and negotiate TLS.
const MX_TIMEOUT: Duration = Duration::from_secs(10);
const HELO: &str = "pharos.localdomain";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Severity {
    Good,
    Warning,
    Problem,
}

#[derive(Debug, PartialEq, Eq)]
struct Finding {
    severity: Severity,
    text: String,
}

fn good(text: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Good,
        text: text.into(),
    }
}

fn warning(text: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Warning,
        text: text.into(),
    }
}

fn problem(text: impl Into<String>) -> Finding {
    Finding {
        severity: Severity::Problem,
        text: text.into(),
    }
}

struct Exchanger {
    host: String,
    preference: u16,
    addresses: Vec<IpAddr>,
}

pub(crate) struct MailDomainProbe {
    spec: MailDomainSpec,
    resolver: TokioResolver,
    tls: TlsSetup,
}

impl MailDomainProbe {
    pub(crate) fn new(spec: &MailDomainSpec, timeout: Duration) -> Result<Self, SetupError> {
        Ok(Self {
            resolver: build_resolver(spec.resolver, timeout.min(Duration::from_secs(5)))?,
            tls: TlsSetup::new(spec.ca_file.as_deref(), &[], true, &[b"http/1.1"])?,
            spec: spec.clone(),
        })
    }

    pub(crate) async fn run(&self, clock: &mut PhaseClock) -> Verdict {
        let mut findings = Vec::new();
        let exchangers = clock.time("mx", self.exchangers(&mut findings)).await;
        if self.spec.mx_port != 0 {
            clock.set_prefix("mx_");
            for exchanger in &exchangers {
                if let Some(address) = exchanger.addresses.first() {
                    let check = self.check_exchanger(clock, &exchanger.host, *address);
                    let finding = tokio::time::timeout(MX_TIMEOUT, check)
                        .await
                        .unwrap_or_else(|_| {
                            problem(format!(
                                "MX {}: no greeting and TLS within {}s",
                                exchanger.host,
                                MX_TIMEOUT.as_secs()
                            ))
                        });
                    findings.push(finding);
                }
            }
            clock.set_prefix("");
        }
        let spf = clock.time("spf", self.txt(&self.spec.domain)).await;
        findings.extend(match spf {
            Ok(records) => check_spf(&self.spec.domain, &records),
            Err(error) => vec![warning(format!("SPF: the TXT lookup failed: {error}"))],
        });
        let dmarc = clock
            .time("dmarc", self.txt(&format!("_dmarc.{}", self.spec.domain)))
            .await;
        findings.extend(match dmarc {
            Ok(records) => check_dmarc(&self.spec.domain, &records),
            Err(error) => vec![warning(format!("DMARC: the TXT lookup failed: {error}"))],
        });
        if self.spec.check_mta_sts {
            clock.set_prefix("mta_sts_");
            findings.push(self.check_mta_sts(clock, &exchangers).await);
            clock.set_prefix("");
        }
        if !self.spec.blocklists.is_empty() {
            let listed = clock
                .time("blocklists", self.check_blocklists(&exchangers))
                .await;
            findings.extend(listed);
        }
        verdict(clock, &findings)
    }

    /// MX records, sorted by preference, each with its addresses.
    async fn exchangers(&self, findings: &mut Vec<Finding>) -> Vec<Exchanger> {
        let domain = &self.spec.domain;
        let records = match self.resolver.mx_lookup(format!("{domain}.")).await {
            Ok(lookup) => lookup
                .iter()
                .map(|mx| {
                    (
                        mx.preference(),
                        mx.exchange().to_string().trim_end_matches('.').to_owned(),
                    )
                })
                .collect::<Vec<_>>(),
            Err(error) if error.is_nx_domain() => {
                findings.push(problem(format!("MX: {domain} does not exist (NXDOMAIN)")));
                return Vec::new();
            }
            Err(error) if error.is_no_records_found() => Vec::new(),
            Err(error) => {
                findings.push(problem(format!("MX: the lookup failed: {error}")));
                return Vec::new();
            }
        };
        if records.is_empty() {
            findings.push(problem(format!("MX: no MX records for {domain}")));
            return Vec::new();
        }
        let mut exchangers = Vec::new();
        for (preference, host) in records {
            let addresses: Vec<IpAddr> = match self.resolver.lookup_ip(format!("{host}.")).await {
                Ok(lookup) => lookup.iter().collect(),
                Err(_) => Vec::new(),
            };
            if addresses.is_empty() {
                findings.push(problem(format!(
                    "MX {host} (preference {preference}) has no address"
                )));
            } else {
                let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
                findings.push(good(format!(
                    "MX {host} (preference {preference}) resolves to {}",
                    list.join(", ")
                )));
            }
            exchangers.push(Exchanger {
                host,
                preference,
                addresses,
            });
        }
        exchangers.sort_by_key(|exchanger| exchanger.preference);
        exchangers
    }

    async fn check_exchanger(
        &self,
        clock: &mut PhaseClock,
        host: &str,
        address: IpAddr,
    ) -> Finding {
        let target = SocketAddr::new(address, self.spec.mx_port);
        let tcp = match clock.time("connect", crate::net::connect(target)).await {
            Ok(tcp) => tcp,
            Err(error) => {
                return problem(format!(
                    "MX {host} ({target}): {}",
                    describe_io_error(&error)
                ))
            }
        };
        let session = match SmtpSession::greet(clock, MailStream::from_tcp(tcp), HELO).await {
            Ok(session) => session,
            Err(error) => return problem(format!("MX {host} ({target}): {error}")),
        };
        if !session.offers_starttls() {
            session.quit().await;
            return warning(format!(
                "MX {host} ({target}) does not offer STARTTLS: mail to it travels in clear text"
            ));
        }
        match session.starttls(clock, &self.tls, host, HELO).await {
            Ok(session) => {
                let days = session
                    .stream
                    .certificate
                    .as_ref()
                    .map(|facts| facts.days_left());
                session.quit().await;
                match days {
                    Some(days) if days < 14 => {
                        warning(format!("MX {host}: TLS certificate expires in {days} days"))
                    }
                    _ => good(format!(
                        "MX {host} ({target}) accepts connections and STARTTLS"
                    )),
                }
            }
            Err(error) => problem(format!("MX {host} ({target}): STARTTLS: {error}")),
        }
    }

    /// TXT strings at `name`; none when the name or the records do not exist.
    async fn txt(&self, name: &str) -> Result<Vec<String>, ResolveError> {
        match self
            .resolver
            .lookup(format!("{name}."), RecordType::TXT)
            .await
        {
            Ok(lookup) => Ok(lookup
                .iter()
                .filter_map(|data| match data {
                    RData::TXT(txt) => Some(
                        txt.iter()
                            .map(|part| String::from_utf8_lossy(part))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(error) if error.is_nx_domain() || error.is_no_records_found() => Ok(Vec::new()),
            Err(error) => Err(error),
        }
    }

    async fn check_mta_sts(&self, clock: &mut PhaseClock, exchangers: &[Exchanger]) -> Finding {
        let domain = &self.spec.domain;
        let records = match clock
            .time("txt", self.txt(&format!("_mta-sts.{domain}")))
            .await
        {
            Ok(records) => records,
            Err(error) => return warning(format!("MTA-STS: the TXT lookup failed: {error}")),
        };
        let records: Vec<&String> = records
            .iter()
            .filter(|record| record.to_ascii_lowercase().starts_with("v=stsv1"))
            .collect();
        match records.len() {
            0 => return good("MTA-STS: not published"),
            1 => {}
            count => {
                return problem(format!(
                    "MTA-STS: {count} records at _mta-sts.{domain}, there must be one"
                ))
            }
        }
        if !records[0]
            .split(';')
            .any(|tag| tag.trim().to_ascii_lowercase().starts_with("id="))
        {
            return problem(format!(
                "MTA-STS: the record at _mta-sts.{domain} has no id"
            ));
        }
        let host = format!("mta-sts.{domain}");
        let body = match self.fetch_policy(clock, &host).await {
            Ok(body) => body,
            Err(error) => return problem(format!("MTA-STS: the policy at https://{host}/.well-known/mta-sts.txt is unavailable: {error}")),
        };
        let policy = match parse_sts_policy(&body) {
            Ok(policy) => policy,
            Err(error) => return problem(format!("MTA-STS: the policy is invalid: {error}")),
        };
        let uncovered: Vec<&str> = exchangers
            .iter()
            .map(|exchanger| exchanger.host.as_str())
            .filter(|host| !policy.mx.iter().any(|pattern| mx_matches(pattern, host)))
            .collect();
        if !uncovered.is_empty() {
            return problem(format!(
                "MTA-STS: the policy (mode {}) does not cover MX {}",
                policy.mode,
                uncovered.join(", ")
            ));
        }
        good(format!(
            "MTA-STS: policy mode {}, covers every MX",
            policy.mode
        ))
    }

    async fn fetch_policy(&self, clock: &mut PhaseClock, host: &str) -> Result<String, String> {
        let address = match self.resolver.lookup_ip(format!("{host}.")).await {
            Ok(lookup) => lookup
                .iter()
                .next()
                .ok_or_else(|| format!("{host} has no address"))?,
            Err(error) => return Err(format!("{host} does not resolve: {error}")),
        };
        let tcp = clock
            .time(
                "connect",
                crate::net::connect(SocketAddr::new(address, 443)),
            )
            .await
            .map_err(|error| describe_io_error(&error))?;
        let tls = tls_connect(clock, &self.tls, tcp, host).await?;
        let request = Request::get("/.well-known/mta-sts.txt")
            .header(http::header::HOST, host)
            .header(http::header::CONNECTION, "close")
            .body(Full::new(Bytes::new()))
            .map_err(|error| error.to_string())?;
        let response = exchange(clock, Box::new(tls), request).await?;
        if response.status != 200 {
            return Err(format!("HTTP {}", response.status));
        }
        Ok(String::from_utf8_lossy(&response.body).into_owned())
    }

    async fn check_blocklists(&self, exchangers: &[Exchanger]) -> Vec<Finding> {
        let mut findings = Vec::new();
        let mut listed_any = false;
        for exchanger in exchangers {
            for address in &exchanger.addresses {
                for zone in &self.spec.blocklists {
                    let name = format!("{}.{zone}.", reversed(address));
                    match self.resolver.lookup(name, RecordType::A).await {
                        Ok(lookup) => {
                            let answers: Vec<String> = lookup
                                .iter()
                                .filter_map(|data| match data {
                                    RData::A(a) if a.0.octets()[0] == 127 => Some(a.0.to_string()),
                                    _ => None,
                                })
                                .collect();
                            if !answers.is_empty() {
                                listed_any = true;
                                findings.push(problem(format!(
                                    "{address} (MX {}) is listed on {zone} ({})",
                                    exchanger.host,
                                    answers.join(", ")
                                )));
                            }
                        }
                        Err(error) if error.is_nx_domain() || error.is_no_records_found() => {}
                        Err(error) => findings.push(warning(format!(
                            "blocklist {zone} did not answer for {address}: {error}"
                        ))),
                    }
                }
            }
        }
        if !listed_any && !exchangers.is_empty() {
            findings.push(good(format!(
                "MX addresses are on none of: {}",
                self.spec.blocklists.join(", ")
            )));
        }
        findings
    }
}

fn verdict(clock: &mut PhaseClock, findings: &[Finding]) -> Verdict {
    let lines: Vec<String> = findings
        .iter()
        .map(|finding| {
            let mark = match finding.severity {
                Severity::Good => "ok",
                Severity::Warning => "warning",
                Severity::Problem => "problem",
            };
            format!("{mark}: {}", finding.text)
        })
        .collect();
    clock.set_detail(lines.join("\n"));
    let summary = |severity: Severity| {
        let texts: Vec<&str> = findings
            .iter()
            .filter(|finding| finding.severity == severity)
            .map(|finding| finding.text.as_str())
            .collect();
        (!texts.is_empty()).then(|| texts.join("; "))
    };
    if let Some(problems) = summary(Severity::Problem) {
        Verdict::Down(problems)
    } else if let Some(warnings) = summary(Severity::Warning) {
        Verdict::Degraded(warnings)
    } else {
        Verdict::Up
    }
}

/// The name a DNS blocklist is asked about: reversed octets (or nibbles, for IPv6).
fn reversed(address: &IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}")
        }
        IpAddr::V6(v6) => v6
            .octets()
            .iter()
            .rev()
            .flat_map(|byte| [byte & 0x0f, byte >> 4])
            .map(|nibble| format!("{nibble:x}"))
            .collect::<Vec<_>>()
            .join("."),
    }
}

/// Checks the SPF record(s) of a domain: exactly one, known terms, a final policy, at most
/// ten DNS-querying terms (counted at the top level; includes are not followed).
fn check_spf(domain: &str, records: &[String]) -> Vec<Finding> {
    let spf: Vec<&String> = records
        .iter()
        .filter(|record| record.to_ascii_lowercase().split_whitespace().next() == Some("v=spf1"))
        .collect();
    let record = match spf.as_slice() {
        [] => {
            return vec![problem(format!(
                "SPF: no SPF record for {domain}: anyone may send as it"
            ))]
        }
        [record] => *record,
        many => {
            return vec![problem(format!(
                "SPF: {} SPF records for {domain}, there must be exactly one",
                many.len()
            ))]
        }
    };
    let mut findings = Vec::new();
    let mut lookups = 0;
    let mut final_policy = false;
    for term in record.split_whitespace().skip(1) {
        let lower = term.to_ascii_lowercase();
        if let Some((name, _)) = lower.split_once('=') {
            if name == "redirect" {
                lookups += 1;
                final_policy = true;
            }
            continue;
        }
        let mechanism = lower.trim_start_matches(['+', '-', '~', '?']);
        let (name, argument) = mechanism
            .split_once([':', '/'])
            .map_or((mechanism, None), |(name, argument)| (name, Some(argument)));
        match name {
            "all" => {
                final_policy = true;
                if lower == "all" || lower == "+all" {
                    findings.push(problem(
                        "SPF: `+all` lets every server on the internet send as this domain",
                    ));
                }
            }
            "include" | "exists" => {
                lookups += 1;
                if argument.is_none_or(str::is_empty) {
                    findings.push(problem(format!("SPF: `{term}` needs a domain")));
                }
            }
            "a" | "mx" | "ptr" => lookups += 1,
            "ip4" | "ip6" => {
                let valid = argument.is_some_and(|range| {
                    let address = mechanism
                        .split_once(':')
                        .map(|(_, rest)| rest)
                        .unwrap_or("");
                    let (ip, prefix) = address
                        .split_once('/')
                        .map_or((address, None), |(ip, prefix)| (ip, Some(prefix)));
                    let ip_ok = if name == "ip4" {
                        ip.parse::<std::net::Ipv4Addr>().is_ok()
                    } else {
                        ip.parse::<std::net::Ipv6Addr>().is_ok()
                    };
                    let limit = if name == "ip4" { 32 } else { 128 };
                    ip_ok
                        && !range.is_empty()
                        && prefix.is_none_or(|prefix| {
                            prefix.parse::<u8>().is_ok_and(|bits| bits <= limit)
                        })
                });
                if !valid {
                    findings.push(problem(format!(
                        "SPF: `{term}` is not a valid address range"
                    )));
                }
            }
            _ => findings.push(problem(format!("SPF: unknown mechanism `{term}`"))),
        }
    }
    if lookups > 10 {
        findings.push(problem(format!(
            "SPF: {lookups} terms need DNS lookups; receivers stop at 10 (permerror)"
        )));
    }
    if !final_policy {
        findings.push(warning(
            "SPF: the record ends without `all` or `redirect`, so unlisted senders are neutral",
        ));
    }
    if findings
        .iter()
        .all(|finding| finding.severity != Severity::Problem)
    {
        findings.insert(0, good(format!("SPF: {record}")));
    }
    findings
}

/// Checks the DMARC record of a domain and reports its policy.
fn check_dmarc(domain: &str, records: &[String]) -> Vec<Finding> {
    let dmarc: Vec<&String> = records
        .iter()
        .filter(|record| record.to_ascii_lowercase().starts_with("v=dmarc1"))
        .collect();
    let record = match dmarc.as_slice() {
        [] => {
            return vec![warning(format!(
                "DMARC: no record at _dmarc.{domain}: receivers get no policy for spoofed mail"
            ))]
        }
        [record] => *record,
        many => {
            return vec![problem(format!(
                "DMARC: {} records at _dmarc.{domain}, there must be one",
                many.len()
            ))]
        }
    };
    let policy = record
        .split(';')
        .filter_map(|tag| tag.trim().split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("p"))
        .map(|(_, value)| value.trim().to_ascii_lowercase());
    match policy.as_deref() {
        Some("reject") | Some("quarantine") => vec![good(format!(
            "DMARC: policy {}",
            policy.unwrap_or_default()
        ))],
        Some("none") => vec![good(
            "DMARC: policy none (monitoring only: spoofed mail is still delivered)",
        )],
        Some(other) => vec![problem(format!("DMARC: unknown policy p={other}"))],
        None => vec![problem("DMARC: the record has no p= policy")],
    }
}

struct StsPolicy {
    mode: String,
    mx: Vec<String>,
}

fn parse_sts_policy(body: &str) -> Result<StsPolicy, String> {
    let mut version = None;
    let mut mode = None;
    let mut mx = Vec::new();
    for line in body.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_owned();
        match key.trim().to_ascii_lowercase().as_str() {
            "version" => version = Some(value),
            "mode" => mode = Some(value),
            "mx" => mx.push(value.to_ascii_lowercase()),
            _ => {}
        }
    }
    if version.as_deref() != Some("STSv1") {
        return Err("missing `version: STSv1`".to_owned());
    }
    let mode = mode.ok_or("missing `mode`")?;
    if !["enforce", "testing", "none"].contains(&mode.as_str()) {
        return Err(format!("unknown mode `{mode}`"));
    }
    if mx.is_empty() && mode != "none" {
        return Err("no `mx` lines".to_owned());
    }
    Ok(StsPolicy { mode, mx })
}

/// Whether an MTA-STS `mx` pattern covers a host: exact, or `*.` for one leftmost label.
fn mx_matches(pattern: &str, host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(suffix) => host.split_once('.').is_some_and(|(_, rest)| rest == suffix),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn severities(findings: &[Finding]) -> Vec<Severity> {
        findings.iter().map(|finding| finding.severity).collect()
    }

    #[test]
    fn spf_records_are_judged() {
        let check = |record: &str| check_spf("example.test", &[record.to_owned()]);
        assert_eq!(
            severities(&check(
                "v=spf1 mx ip4:192.0.2.0/24 include:_spf.example.net -all"
            )),
            [Severity::Good]
        );
        assert_eq!(
            severities(&check("v=spf1 mx")),
            [Severity::Good, Severity::Warning]
        );
        assert_eq!(
            check("v=spf1 +all")[0].text,
            "SPF: `+all` lets every server on the internet send as this domain"
        );
        assert_eq!(
            check("v=spf1 ip4:300.1.1.1 -all")[0].text,
            "SPF: `ip4:300.1.1.1` is not a valid address range"
        );
        assert_eq!(
            check("v=spf1 mxx -all")[0].text,
            "SPF: unknown mechanism `mxx`"
        );
        let many = format!(
            "v=spf1 {} -all",
            (0..11)
                .map(|i| format!("include:n{i}.example"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert!(check(&many)
            .iter()
            .any(|finding| finding.text.contains("11 terms need DNS lookups")));
        assert_eq!(
            severities(&check_spf("example.test", &[])),
            [Severity::Problem]
        );
        assert_eq!(
            check_spf(
                "example.test",
                &["v=spf1 -all".into(), "v=spf1 mx -all".into()]
            )[0]
            .text,
            "SPF: 2 SPF records for example.test, there must be exactly one"
        );
    }

    #[test]
    fn dmarc_policies_are_reported() {
        assert_eq!(
            check_dmarc("d", &["v=DMARC1; p=reject; rua=mailto:a@d".into()])[0].text,
            "DMARC: policy reject"
        );
        assert_eq!(severities(&check_dmarc("d", &[])), [Severity::Warning]);
        assert_eq!(
            check_dmarc("d", &["v=DMARC1; rua=mailto:a@d".into()])[0].text,
            "DMARC: the record has no p= policy"
        );
    }

    #[test]
    fn mta_sts_policies_parse_and_match() {
        let policy = parse_sts_policy("version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\nmx: *.backup.example.test\r\nmax_age: 86400\r\n").unwrap();
        assert_eq!(policy.mode, "enforce");
        assert!(policy
            .mx
            .iter()
            .any(|pattern| mx_matches(pattern, "mail.example.test")));
        assert!(policy
            .mx
            .iter()
            .any(|pattern| mx_matches(pattern, "mx1.backup.example.test")));
        assert!(!policy
            .mx
            .iter()
            .any(|pattern| mx_matches(pattern, "a.b.backup.example.test")));
        assert!(parse_sts_policy("mode: enforce\nmx: a").is_err());
    }

    #[test]
    fn blocklist_names_reverse_the_address() {
        assert_eq!(reversed(&"192.0.2.7".parse().unwrap()), "7.2.0.192");
        assert!(reversed(&"2001:db8::1".parse().unwrap()).starts_with("1.0.0.0."));
    }
}
