//! The pharos domain model: what a probe outcome is, how a monitor's health follows its
//! outcomes, how a component's status derives from its monitors, and when incidents open and
//! resolve. Pure: no I/O, no async, no SQL; time is passed in as a value.

pub mod access;
pub mod by_hand;
pub mod component;
pub mod database_url;
pub mod detect;
pub mod event;
pub mod grouping;
pub mod ids;
pub mod incident;
pub mod lifecycle;
pub mod maintenance;
pub mod outcome;
pub mod postmortem;
pub mod regions;
pub mod rollup;
pub mod root_cause;
pub mod status;
pub mod uptime;

pub use access::{token_allows, Permission, Role};
pub use by_hand::{Declaration, OperatorUpdate};
pub use component::{derive_component_status, derive_regional_component_status};
pub use database_url::{Backend, DatabaseUrl};
pub use detect::{DetectionPolicy, MonitorHealth, Transition};
pub use event::{
    AgentNews, ChannelNews, ComponentNews, Event, EventKind, IncidentNews, MaintenanceNews,
    MonitorState, SelfFault,
};
pub use ids::{ComponentId, MonitorId};
pub use incident::{
    plan_incident, ComponentChange, Dependent, Incident, IncidentAction, IncidentPhase,
    IncidentTemplates, IncidentUpdate, TimelineEntry, TimelineKind,
};
pub use outcome::{Outcome, Phase};
pub use status::{ComponentStatus, ProbeStatus};
