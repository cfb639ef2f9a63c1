//! Commands from outside into the engine (an operator posting an update, an agent's report),
//! applied by the engine loop like any other change and answered once committed.

use crate::Amendment;
use pharos_core::{Declaration, Incident, IncidentUpdate, OperatorUpdate};
use tokio::sync::oneshot;

pub(crate) enum Command {
    /// An operator's update on an open incident.
    Amend {
        incident: i64,
        amendment: Amendment,
        reply: oneshot::Sender<Result<IncidentUpdate, CommandError>>,
    },
    /// An incident opened by hand.
    Declare {
        declaration: Declaration,
        reply: oneshot::Sender<Result<Incident, CommandError>>,
    },
    /// An open incident resolved by hand.
    Resolve {
        incident: i64,
        message: String,
        by: String,
        reply: oneshot::Sender<Result<Incident, CommandError>>,
    },
    /// An update corrected (new words) or deleted (none), on an incident as stored.
    EditUpdate {
        incident: Box<Incident>,
        posted_at: chrono::DateTime<chrono::Utc>,
        message: Option<String>,
        reply: oneshot::Sender<Result<IncidentUpdate, CommandError>>,
    },
    /// An incident (as stored) marked a false alarm.
    FalseAlarm {
        incident: Box<Incident>,
        reason: String,
        by: String,
        reply: oneshot::Sender<Result<Incident, CommandError>>,
    },
    /// A maintenance window scheduled at run time.
    ScheduleMaintenance {
        window: Box<pharos_core::maintenance::MaintenanceWindow>,
        by: String,
        reply: oneshot::Sender<Result<pharos_core::maintenance::MaintenanceWindow, CommandError>>,
    },
    /// A scheduled maintenance window cancelled.
    CancelMaintenance {
        id: String,
        by: String,
        reply: oneshot::Sender<Result<pharos_core::maintenance::MaintenanceWindow, CommandError>>,
    },
    /// An incident's postmortem written.
    SetPostmortem {
        incident: i64,
        text: String,
        reply: oneshot::Sender<Result<(), CommandError>>,
    },
    /// A resolved incident (as stored) reopened by hand.
    Reopen {
        incident: Box<Incident>,
        update: OperatorUpdate,
        by: String,
        reply: oneshot::Sender<Result<Incident, CommandError>>,
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
    #[error("resolve an incident with its resolve step; an update is investigating, identified or monitoring")]
    ResolveByRecovery,
    #[error("pharos is stopping")]
    Stopping,
    /// An operator's step that cannot be taken in the incident's state, and why.
    #[error("{0}")]
    Refused(String),
    /// An operator's step with a value that cannot be (a time in the past, no impact).
    #[error("{0}")]
    Invalid(String),
}
