//! Commands from outside into the engine (an operator posting an update, an agent's report),
//! applied by the engine loop like any other change and answered once committed.

use pharos_core::{IncidentPhase, IncidentUpdate};
use tokio::sync::oneshot;

pub(crate) enum Command {
    PostUpdate {
        incident: i64,
        phase: IncidentPhase,
        message: String,
        reply: oneshot::Sender<Result<IncidentUpdate, CommandError>>,
    },
    /// A probe agent's report (its token already checked): answered once its results are
    /// committed.
    AgentReport {
        agent: String,
        /// When the agent's token was made: a new token starts its numbers again.
        token_made: chrono::DateTime<chrono::Utc>,
        report: pharos_wire::AgentReport,
        reply: oneshot::Sender<Result<AgentAnswer, CommandError>>,
    },
}

/// What the engine answers an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentAnswer {
    /// Every result of the agent up to this number is stored.
    pub acked: u64,
    /// Monitors its region should check at once.
    pub recheck: Vec<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("there is no open incident {0}")]
    NoOpenIncident(i64),
    #[error("incidents resolve by themselves when their component recovers; post investigating, identified or monitoring")]
    ResolveByRecovery,
    #[error("pharos is stopping")]
    Stopping,
}
