//! The protocol between a pharos server and its probe agents, version 1.
//!
//! One exchange, over HTTP(S): the agent `POST`s an [`AgentReport`] as JSON to
//! [`EXCHANGE_PATH`] with `Authorization: Bearer <its token>`, and the server answers with a
//! [`ServerReply`] (200) or a [`Refusal`] (401 for an unknown or revoked token, 409 for
//! another protocol version, 400 for a report it cannot read). The same exchange carries the
//! agent's results, its heartbeat (an exchange with no results), the server's
//! acknowledgement, the monitors assigned to the agent's region (only when they changed since
//! the generation the agent names) and the monitors the server wants checked at once.
//!
//! Every result has a sequence number, increasing per agent. The server stores each number at
//! most once and acknowledges, after its commit, the highest number it holds, so an agent
//! can send a batch again after any failure and drop from its buffer only what is
//! acknowledged.

pub mod token;

use chrono::{DateTime, Utc};
use pharos_core::Outcome;
use serde::{Deserialize, Serialize};

/// The protocol version every message carries; a peer of another version is refused.
pub const PROTOCOL: u32 = 1;

/// Where agents send their reports.
pub const EXCHANGE_PATH: &str = "/api/agent/v1/exchange";

/// The most results one report may carry.
pub const MAX_RESULTS_PER_REPORT: usize = 5_000;

/// An agent's report: its results since the last acknowledgement, and a heartbeat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentReport {
    pub protocol: u32,
    /// The region the agent probes from.
    pub region: String,
    /// The agent's own version, for the server's records.
    pub agent_version: String,
    /// The assignment the agent runs (`Assignment::generation`), if any.
    pub generation: Option<String>,
    /// Results in sequence order.
    pub results: Vec<AgentResult>,
    /// Results dropped from the agent's buffer (full while the server was unreachable) since
    /// the last report the server acknowledged.
    #[serde(default)]
    pub dropped: u64,
}

/// One probe run of an agent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentResult {
    /// Increases by one per result, per agent, across restarts.
    pub seq: u64,
    pub monitor: String,
    /// When the run ended.
    pub at: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub outcome: Outcome,
}

/// The server's answer to a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerReply {
    pub protocol: u32,
    /// Every result up to this sequence number is stored.
    pub acked: u64,
    /// The monitors of the agent's region, when they differ from the generation it named.
    pub assignment: Option<Assignment>,
    /// Monitors to check at once (another region saw them fail).
    #[serde(default)]
    pub recheck: Vec<String>,
    /// How long to wait before the next report when there is nothing to send.
    pub next_report_ms: u64,
}

/// What a region checks: a pharos configuration document holding its monitors (and the
/// components they belong to), validated by the agent with the same rules as the server's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// Changes whenever the document does.
    pub generation: String,
    /// TOML.
    pub document: String,
}

/// Why the server refused a report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub protocol: u32,
    pub error: String,
}

/// Whether a message of `version` can be understood, and if not, what to say.
pub fn check_version(version: u32) -> Result<(), String> {
    if version == PROTOCOL {
        Ok(())
    } else {
        Err(format!(
            "protocol version {version} is not supported (this side speaks version {PROTOCOL}); run the same pharos release on the server and its agents"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::time::Duration;

    #[test]
    fn a_report_reads_back_as_written() {
        let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let report = AgentReport {
            protocol: PROTOCOL,
            region: "eu-west".into(),
            agent_version: "0.1.0".into(),
            generation: Some("abc".into()),
            results: vec![AgentResult {
                seq: 7,
                monitor: "smtp".into(),
                at,
                started_at: at,
                outcome: Outcome::down(Duration::from_millis(12), Vec::new(), "refused"),
            }],
            dropped: 3,
        };
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(serde_json::from_str::<AgentReport>(&json).unwrap(), report);
    }

    #[test]
    fn another_version_is_refused_with_both_numbers() {
        assert!(check_version(PROTOCOL).is_ok());
        let error = check_version(2).unwrap_err();
        assert!(
            error.contains("version 2") && error.contains("version 1"),
            "{error}"
        );
    }
}
