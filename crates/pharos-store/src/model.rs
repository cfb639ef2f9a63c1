//! The plain data the store reads and writes.

use chrono::{DateTime, Utc};
use pharos_core::uptime::ResultCounts;
use pharos_core::{
    ComponentId, ComponentStatus, Dependent, EventKind, Incident, IncidentPhase, IncidentUpdate,
    MonitorHealth, MonitorId, Outcome, TimelineEntry,
};
use std::collections::HashMap;
use std::time::Duration;

/// What the engine resumes from after a start.
#[derive(Debug, Default)]
pub struct EngineState {
    pub monitor_health: HashMap<MonitorId, MonitorHealth>,
    pub component_status: HashMap<ComponentId, (ComponentStatus, DateTime<Utc>)>,
    pub open_incidents: Vec<Incident>,
    /// Incident ids this run may hand out, reserved in the database beforehand
    /// (`Store::reserve_incident_ids`); `load_engine_state` leaves it empty.
    pub incident_ids: std::ops::Range<i64>,
    /// Maintenance windows scheduled at run time and not cancelled.
    pub maintenance: Vec<pharos_core::maintenance::MaintenanceWindow>,
    /// The maintenance notices sent: window, occurrence start, stage.
    pub maintenance_notices: Vec<MaintenanceNotice>,
    /// How many times periods have left uptime (`UptimeExclusion`s written): a replica that
    /// sees it change reads past days' uptime again.
    pub uptime_exclusions: u64,
}

/// A notice of one maintenance occurrence that went out.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MaintenanceNotice {
    pub window: String,
    pub occurrence_start: DateTime<Utc>,
    /// `scheduled`, `started` or `ended`.
    pub stage: String,
}

/// One probe result as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResultRecord {
    pub monitor: MonitorId,
    pub at: DateTime<Utc>,
    pub outcome: Outcome,
}

/// A change to an existing incident's header.
#[derive(Clone, Debug)]
pub struct IncidentChange {
    pub id: i64,
    /// The root component (it changes when a deeper root cause is found).
    pub component: ComponentId,
    pub title: String,
    pub phase: IncidentPhase,
    pub impact: ComponentStatus,
    pub worst_impact: ComponentStatus,
    pub resolved_at: Option<DateTime<Utc>>,
    pub dependents: Vec<Dependent>,
    pub scope: Option<pharos_core::regions::Scope>,
}

impl From<&pharos_core::Incident> for IncidentChange {
    /// The header of `incident` as it stands.
    fn from(incident: &pharos_core::Incident) -> Self {
        Self {
            id: incident.id,
            component: incident.component.clone(),
            title: incident.title.clone(),
            phase: incident.phase,
            impact: incident.impact,
            worst_impact: incident.worst_impact,
            resolved_at: incident.resolved_at,
            dependents: incident.dependents.clone(),
            scope: incident.scope.clone(),
        }
    }
}

/// Everything one engine step writes, applied in one transaction.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    pub results: Vec<ResultRecord>,
    pub health: Vec<(MonitorId, MonitorHealth)>,
    pub component_status: Vec<(ComponentId, ComponentStatus, DateTime<Utc>)>,
    /// New incidents, with their first updates and timeline entries.
    pub new_incidents: Vec<Incident>,
    pub incident_changes: Vec<IncidentChange>,
    pub new_updates: Vec<(i64, IncidentUpdate)>,
    pub new_timeline: Vec<(i64, TimelineEntry)>,
    /// Operators' corrections of updates already written.
    pub update_edits: Vec<UpdateEdit>,
    /// Postmortems written or rewritten, by incident id.
    pub postmortems: Vec<(i64, Postmortem)>,
    /// Maintenance windows scheduled or cancelled at run time.
    pub maintenance: Vec<MaintenanceChange>,
    /// Maintenance notices sent in this batch.
    pub maintenance_notices: Vec<MaintenanceNotice>,
    /// Periods whose check results leave uptime from now on.
    pub uptime_exclusions: Vec<UptimeExclusion>,
    pub outbox: Vec<OutboxMessage>,
    /// Agents whose results this batch stores: the highest sequence number stored, and when
    /// the agent was last heard from.
    pub agent_progress: Vec<AgentProgress>,
}

/// A period whose check results no longer count for uptime (a maintenance window's
/// occurrence, a false alarm): the results of `monitors` (and of their regions' series) in
/// `[start, end)`. Results are still kept and shown; each is left out once, however many
/// periods cover it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UptimeExclusion {
    pub monitors: Vec<MonitorId>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// What the period was, for the record: `maintenance:<window>`, `false-alarm:<id>`.
    pub reason: String,
}

/// An operator's correction of an update: found by its incident and time; new words, or
/// none to delete it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateEdit {
    pub incident: i64,
    pub at: DateTime<Utc>,
    pub message: Option<String>,
    pub edited_at: DateTime<Utc>,
}

/// A maintenance window scheduled or cancelled at run time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MaintenanceChange {
    Scheduled {
        window: pharos_core::maintenance::MaintenanceWindow,
        by: String,
        at: DateTime<Utc>,
    },
    Cancelled {
        id: String,
        at: DateTime<Utc>,
    },
}

/// What was learned from an incident, written after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Postmortem {
    pub text: String,
    pub updated_at: DateTime<Utc>,
}

/// How far an agent's results are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentProgress {
    pub agent: String,
    pub last_seq: u64,
    pub seen_at: DateTime<Utc>,
    pub region: String,
}

/// A probe agent as the store keeps it (its token only as a SHA-256).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRecord {
    pub name: String,
    pub token_hash: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_seq: u64,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub region: Option<String>,
}

impl Batch {
    /// Moves everything of `other` into this batch, keeping the order of writes.
    pub fn append(&mut self, mut other: Batch) {
        self.results.append(&mut other.results);
        self.health.append(&mut other.health);
        self.component_status.append(&mut other.component_status);
        self.new_incidents.append(&mut other.new_incidents);
        self.incident_changes.append(&mut other.incident_changes);
        self.new_updates.append(&mut other.new_updates);
        self.new_timeline.append(&mut other.new_timeline);
        self.update_edits.append(&mut other.update_edits);
        self.postmortems.append(&mut other.postmortems);
        self.maintenance.append(&mut other.maintenance);
        self.maintenance_notices
            .append(&mut other.maintenance_notices);
        self.outbox.append(&mut other.outbox);
        self.agent_progress.append(&mut other.agent_progress);
    }

    /// Whether the batch changes what the status page shows beyond raw results.
    pub fn changes_status(&self) -> bool {
        !(self.component_status.is_empty()
            && self.new_incidents.is_empty()
            && self.incident_changes.is_empty()
            && self.new_updates.is_empty()
            && self.new_timeline.is_empty()
            && self.update_edits.is_empty()
            && self.postmortems.is_empty()
            && self.maintenance.is_empty()
            && self.uptime_exclusions.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
            && self.health.is_empty()
            && self.component_status.is_empty()
            && self.new_incidents.is_empty()
            && self.incident_changes.is_empty()
            && self.new_updates.is_empty()
            && self.new_timeline.is_empty()
            && self.update_edits.is_empty()
            && self.postmortems.is_empty()
            && self.maintenance.is_empty()
            && self.maintenance_notices.is_empty()
            && self.uptime_exclusions.is_empty()
            && self.outbox.is_empty()
            && self.agent_progress.is_empty()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageState {
    Pending,
    Delivered,
    Failed,
    /// A later step of a fallback chain, waiting for the steps before it.
    Held,
    /// Not sent: its channel depends on a component that is down, or an earlier step of its
    /// chain was delivered.
    Skipped,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Pending => "pending",
            MessageState::Delivered => "delivered",
            MessageState::Failed => "failed",
            MessageState::Held => "held",
            MessageState::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            MessageState::Pending,
            MessageState::Delivered,
            MessageState::Failed,
            MessageState::Held,
            MessageState::Skipped,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

/// A notification waiting in (or delivered from) the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Stable across retries, so receivers can drop duplicates.
    pub id: String,
    pub channel_id: String,
    pub event: EventKind,
    /// The serialized event, exactly as it will be delivered (and signed).
    pub payload: String,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub give_up_at: DateTime<Utc>,
    pub attempts: u32,
    pub state: MessageState,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Messages with the same key on one channel are delivered strictly in the order they
    /// were enqueued (all events about one component, so an incident's `resolved` never
    /// overtakes its `updated`).
    pub sequence_key: Option<String>,
    /// Its place in a fallback chain, when it is one step of one.
    pub chain: Option<ChainLink>,
}

impl OutboxMessage {
    /// A new message, due at once, announcing one event through one channel.
    pub fn pending(
        id: String,
        channel_id: String,
        event: EventKind,
        payload: String,
        at: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            channel_id,
            event,
            payload,
            created_at: at,
            next_attempt_at: at,
            give_up_at,
            attempts: 0,
            state: MessageState::Pending,
            delivered_at: None,
            last_error: None,
            sequence_key: None,
            chain: None,
        }
    }
}

/// One step of a fallback chain: the messages announcing one event along a route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainLink {
    /// Shared by every step of the chain.
    pub id: String,
    /// 0 for the first step.
    pub step: u32,
    /// How long this step may try before the next one is released.
    pub window: Duration,
    /// When this step's try ends (set once the step is pending).
    pub deadline: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub at: DateTime<Utc>,
    pub duration: Duration,
    pub status_code: Option<u16>,
    pub error: Option<String>,
}

/// What happens to a message after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextStep {
    Delivered,
    RetryAt(DateTime<Utc>),
    GiveUp,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct IncidentQuery {
    pub since: Option<DateTime<Utc>>,
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyCounts {
    pub monitor: MonitorId,
    pub day: DateTime<Utc>,
    pub counts: ResultCounts,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
            Resolution::Day => "day",
        }
    }

    pub fn millis(self) -> i64 {
        match self {
            Resolution::Minute => 60_000,
            Resolution::Hour => 3_600_000,
            Resolution::Day => 86_400_000,
        }
    }
}

/// Aggregated results of one monitor over one bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rollup {
    pub monitor: MonitorId,
    pub bucket: DateTime<Utc>,
    pub counts: ResultCounts,
    pub latency_min: Duration,
    pub latency_avg: Duration,
    /// Exact for minutes; for hours and days, the highest per-minute p95 (an upper bound).
    pub latency_p95: Duration,
    pub latency_max: Duration,
}

#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub raw_results: Duration,
    pub minute_rollups: Duration,
    pub rollups: Duration,
    /// Delivered and failed notifications (and their attempts) are kept this long.
    pub messages: Duration,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RollupReport {
    pub minutes_written: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub results_deleted: u64,
    pub rollups_deleted: u64,
    pub messages_deleted: u64,
    /// Sign-ups never confirmed while their link worked.
    pub sign_ups_forgotten: u64,
}
