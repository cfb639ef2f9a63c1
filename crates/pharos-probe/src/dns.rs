//! The DNS probe: ask a given (or the system) resolver for a record and check the answers.

use crate::clock::PhaseClock;
use crate::{SetupError, Verdict};
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{ResolveError, TokioResolver};
use pharos_config::{DnsSpec, RecordKind};
use std::net::SocketAddr;
use std::time::Duration;

pub(crate) struct DnsProbe {
    resolver: TokioResolver,
    name: String,
    record: RecordKind,
    expect: Vec<String>,
}

impl DnsProbe {
    pub(crate) fn new(spec: &DnsSpec, timeout: Duration) -> Result<Self, SetupError> {
        let resolver = build_resolver(spec.resolver, timeout)?;
        let name = if spec.name.ends_with('.') {
            spec.name.clone()
        } else {
            format!("{}.", spec.name)
        };
        Ok(Self {
            resolver,
            name,
            record: spec.record,
            expect: spec.expect.iter().map(|answer| normalize(answer)).collect(),
        })
    }

    pub(crate) async fn run(&self, clock: &mut PhaseClock) -> Verdict {
        let record_type = match self.record {
            RecordKind::A => RecordType::A,
            RecordKind::Aaaa => RecordType::AAAA,
            RecordKind::Mx => RecordType::MX,
            RecordKind::Txt => RecordType::TXT,
            RecordKind::Cname => RecordType::CNAME,
            RecordKind::Ns => RecordType::NS,
        };
        let shown_name = self.name.trim_end_matches('.');
        let lookup = match clock
            .time(
                "query",
                self.resolver.lookup(self.name.as_str(), record_type),
            )
            .await
        {
            Ok(lookup) => lookup,
            Err(error) => {
                return Verdict::Down(describe_resolve_error(&error, self.record, shown_name))
            }
        };
        let answers: Vec<Answer> = lookup.iter().filter_map(answer_of).collect();
        if answers.is_empty() {
            return Verdict::Down(format!(
                "no {} records for {shown_name}",
                self.record.as_str()
            ));
        }
        let missing: Vec<&str> = self
            .expect
            .iter()
            .filter(|expected| !answers.iter().any(|answer| answer.matches(expected)))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let got: Vec<&str> = answers.iter().map(|answer| answer.full.as_str()).collect();
            return Verdict::Down(format!(
                "expected {} `{}` for {shown_name}, got: {}",
                self.record.as_str(),
                missing.join("`, `"),
                got.join(", ")
            ));
        }
        Verdict::Up
    }
}

/// A resolver that really asks every time (no cache), once, within `timeout`: the given
/// server, or the system's.
pub(crate) fn build_resolver(
    server: Option<SocketAddr>,
    timeout: Duration,
) -> Result<TokioResolver, SetupError> {
    let mut options = ResolverOpts::default();
    options.cache_size = 0;
    options.attempts = 1;
    options.timeout = timeout;
    let builder = match server {
        Some(address) => {
            let servers =
                NameServerConfigGroup::from_ips_clear(&[address.ip()], address.port(), true);
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], servers),
                TokioConnectionProvider::default(),
            )
        }
        None => TokioResolver::builder_tokio()
            .map_err(|error| SetupError::Resolver(error.to_string()))?,
    };
    Ok(builder.with_options(options).build())
}

/// One answer, as written in full ("10 mx1.example.com") and by its main value ("mx1.example.com").
struct Answer {
    full: String,
    value: String,
}

impl Answer {
    fn matches(&self, expected: &str) -> bool {
        self.value.eq_ignore_ascii_case(expected) || self.full.eq_ignore_ascii_case(expected)
    }
}

fn answer_of(data: &RData) -> Option<Answer> {
    let (full, value) = match data {
        RData::A(address) => (address.to_string(), address.to_string()),
        RData::AAAA(address) => (address.to_string(), address.to_string()),
        RData::MX(mx) => {
            let exchange = normalize(&mx.exchange().to_string());
            (format!("{} {exchange}", mx.preference()), exchange)
        }
        RData::TXT(txt) => {
            let text: String = txt
                .iter()
                .map(|part| String::from_utf8_lossy(part))
                .collect();
            (text.clone(), text)
        }
        RData::CNAME(name) => (
            normalize(&name.0.to_string()),
            normalize(&name.0.to_string()),
        ),
        RData::NS(name) => (
            normalize(&name.0.to_string()),
            normalize(&name.0.to_string()),
        ),
        _ => return None,
    };
    Some(Answer { full, value })
}

fn normalize(answer: &str) -> String {
    answer.trim().trim_end_matches('.').to_owned()
}

fn describe_resolve_error(error: &ResolveError, record: RecordKind, name: &str) -> String {
    if error.is_nx_domain() {
        return format!("{name} does not exist (NXDOMAIN)");
    }
    if error.is_no_records_found() {
        return format!("no {} records for {name}", record.as_str());
    }
    let text = error.to_string();
    if text.contains("timed out") || text.contains("timeout") {
        format!("DNS query for {name} timed out")
    } else {
        format!("DNS query for {name} failed: {text}")
    }
}
