//! The engine's live view, shared with the page renderer: current statuses and the latest
//! outcome of every monitor, updated in memory as results arrive.

use chrono::{DateTime, Utc};
use pharos_core::{ComponentId, ComponentStatus, Incident, MonitorId, Outcome};
use std::collections::HashMap;

#[derive(Clone, Debug, Default)]
pub struct LiveState {
    pub components: HashMap<ComponentId, (ComponentStatus, DateTime<Utc>)>,
    pub monitors: HashMap<MonitorId, LatestResult>,
    /// For monitors checked from several regions, what each region says, in order.
    pub regions: HashMap<MonitorId, Vec<RegionCell>>,
    pub open_incidents: Vec<Incident>,
    /// Every maintenance window: the configuration's and those scheduled at run time.
    pub maintenance: Vec<pharos_core::maintenance::MaintenanceWindow>,
    /// Set while the store refuses writes: what is shown may be stale since then.
    pub store_fault: Option<StoreFault>,
    /// Changes once periods reaching back before today have left uptime (a false alarm, a
    /// window over midnight; on a follower, any period the leader wrote): past days' figures
    /// are to be read again.
    pub past_uptime_changes: u64,
}

/// The store refuses writes (a full disk, say); nothing since `since` is saved yet.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreFault {
    pub since: DateTime<Utc>,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub struct LatestResult {
    /// When the run ended: the moment of its verdict.
    pub at: DateTime<Utc>,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    pub outcome: Outcome,
    /// The monitor's confirmed status (what the component status derives from).
    pub confirmed: pharos_core::ProbeStatus,
}

/// One region's word on a monitor checked from several.
#[derive(Clone, Debug)]
pub struct RegionCell {
    pub region: String,
    /// Its confirmed status; `None` while it cannot say (its agent is silent, its checks
    /// cannot run, or it has not reported since pharos started).
    pub status: Option<pharos_core::ProbeStatus>,
    /// Why its latest check failed, if it did.
    pub reason: Option<String>,
    /// Its latest check.
    pub last: Option<LatestResult>,
}
