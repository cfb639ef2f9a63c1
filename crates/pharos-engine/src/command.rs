//! Commands from outside into the engine (an operator posting an update), applied by the
//! scheduler loop like any other change and answered once committed.

use pharos_core::{IncidentPhase, IncidentUpdate};
use tokio::sync::oneshot;

pub(crate) enum Command {
    PostUpdate {
        incident: i64,
        phase: IncidentPhase,
        message: String,
        reply: oneshot::Sender<Result<IncidentUpdate, CommandError>>,
    },
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
