//! The renderer: puts a new view of the site in place when the engine reports a change (and
//! once a minute, for uptime), from the live state plus a few small store reads. Closed
//! days are read once, in the background, so neither a start nor a render waits for them.

use crate::snapshot::PageCache;
use crate::view::{
    recent_latency, ComponentDays, History, RecentLatency, StatusView, HISTORY_DAYS,
};
use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, Utc};
use pharos_config::Config;
use pharos_core::Incident;
use pharos_engine::EngineHandle;
use pharos_store::{IncidentQuery, Resolution, Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Changes arriving within this window are rendered together.
const DEBOUNCE: Duration = Duration::from_millis(100);
const REFRESH: Duration = Duration::from_secs(60);
/// New results alone (no status change) re-render at most this often.
const RESULTS_REFRESH: Duration = Duration::from_secs(5);
/// The most incidents rendered (each gets its own page).
pub(crate) const MAX_INCIDENTS: u32 = 1000;

/// Per-minute latency for the charts is read at most this often.
const LATENCY_REFRESH: Duration = Duration::from_secs(60);
pub(crate) const LATENCY_WINDOW_MINUTES: i64 = 60;

/// Results of the previous day may still be rolled up this long after midnight.
const LATE_ROLLUPS: ChronoDuration = ChronoDuration::minutes(20);

/// Which read of closed days is current: the day, whether late results of the previous day
/// can still be rolled into it, and how often periods have left past days' uptime.
type ClosedDaysKey = (NaiveDate, bool, u64);

/// Day counts of closed days, which do not change: read once a day (and once more after
/// late results of the night before are rolled up, or a false alarm or maintenance window
/// left part of a past day out of uptime) in the background.
#[derive(Default)]
struct ClosedDays {
    read_for: Option<ClosedDaysKey>,
    days: Arc<ComponentDays>,
    reading: bool,
}

/// Incidents as read, with the status version they were read at and when.
/// The incidents of the history window and their postmortems.
type IncidentsRead = (Vec<Incident>, HashMap<i64, pharos_store::Postmortem>);
/// What was read, for which status version, when.
type IncidentsCache = (u64, tokio::time::Instant, Arc<IncidentsRead>);

pub struct Renderer {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    engine: EngineHandle,
    cache: PageCache,
    latency: tokio::sync::Mutex<Option<(tokio::time::Instant, Arc<RecentLatency>)>>,
    /// The last read of incidents, with the status version it was read at.
    incidents: tokio::sync::Mutex<Option<IncidentsCache>>,
    closed: Arc<Mutex<ClosedDays>>,
    /// Counts reads of closed days that completed, so that the run loop renders again.
    closed_read: watch::Sender<u64>,
}

impl Renderer {
    pub fn new(
        config: Arc<Config>,
        store: Arc<dyn Store>,
        engine: EngineHandle,
        cache: PageCache,
    ) -> Self {
        Self {
            config,
            store,
            engine,
            cache,
            latency: tokio::sync::Mutex::new(None),
            incidents: tokio::sync::Mutex::new(None),
            closed: Arc::default(),
            closed_read: watch::channel(0).0,
        }
    }

    pub async fn render(&self) -> Result<(), StoreError> {
        let now = Utc::now();
        let since = now - ChronoDuration::days(HISTORY_DAYS);
        let (incidents, postmortems) = self.incidents(since).await?;
        let (closed, complete) = self.closed_days(now, since);
        let today = self.today(now).await?;
        let minutes = self.recent_minutes(now).await?;
        let live = self
            .engine
            .live
            .read()
            .map(|live| live.clone())
            .unwrap_or_default();
        let config = self.config.clone();
        let cache = self.cache.clone();
        // Building the view and the overview is CPU work: off the async workers, so that
        // probes start on time while it runs.
        let _ = tokio::task::spawn_blocking(move || {
            let history = History {
                closed: &closed,
                today: &today,
                complete,
            };
            let mut view = StatusView::assemble(&config, &live, incidents, history, &minutes, now);
            view.postmortems = postmortems;
            cache.replace(view);
        })
        .await;
        Ok(())
    }

    /// The incidents of the history window and their postmortems: read again when the
    /// engine saved a change of status or incident since the last read (and once a minute),
    /// not on every render.
    async fn incidents(&self, since: DateTime<Utc>) -> Result<IncidentsRead, StoreError> {
        let version = *self.engine.status_version.borrow();
        let mut cached = self.incidents.lock().await;
        if let Some((read_for, read_at, read)) = cached.as_ref() {
            if *read_for == version && read_at.elapsed() < REFRESH {
                return Ok(read.as_ref().clone());
            }
        }
        let incidents = self
            .store
            .incidents(IncidentQuery {
                since: Some(since),
                limit: MAX_INCIDENTS,
            })
            .await?;
        let postmortems = self.store.postmortems(since).await?;
        let read = (incidents, postmortems);
        *cached = Some((version, tokio::time::Instant::now(), Arc::new(read.clone())));
        Ok(read)
    }

    /// Waits until closed days have been read since `seen` reads; returns the new count.
    pub async fn closed_days_read(&self, seen: u64) -> u64 {
        let mut read = self.closed_read.subscribe();
        let _ = read.wait_for(|count| *count > seen).await;
        let count = *read.borrow();
        count
    }

    /// The closed days known now, and whether they are those of today; starts reading them
    /// in the background when they are not.
    fn closed_days(&self, now: DateTime<Utc>, since: DateTime<Utc>) -> (Arc<ComponentDays>, bool) {
        let today = now.date_naive();
        let today_start = start_of(today);
        let changes = self
            .engine
            .live
            .read()
            .map(|live| live.past_uptime_changes)
            .unwrap_or_default();
        let key = (today, now - today_start >= LATE_ROLLUPS, changes);
        let mut closed = self
            .closed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if closed.read_for == Some(key) {
            return (closed.days.clone(), true);
        }
        if !closed.reading {
            closed.reading = true;
            let shared = self.closed.clone();
            let store = self.store.clone();
            let config = self.config.clone();
            let done = self.closed_read.clone();
            tokio::spawn(async move {
                let read = store.daily_counts(since).await.map(|rows| {
                    let rows: Vec<_> = rows
                        .into_iter()
                        .filter(|row| row.day < today_start)
                        .collect();
                    ComponentDays::from_rows(&config, &rows)
                });
                let mut closed = shared
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                closed.reading = false;
                match read {
                    Ok(days) => {
                        closed.read_for = Some(key);
                        closed.days = Arc::new(days);
                        drop(closed);
                        done.send_modify(|count| *count += 1);
                    }
                    Err(error) => {
                        tracing::error!(%error, "cannot read past days; the next render tries again");
                    }
                }
            });
        }
        // Yesterday's read serves until today's arrives; at a start there is none yet.
        let complete = closed.read_for.is_some();
        (closed.days.clone(), complete)
    }

    /// Today's counts, from the store on every render: one row per monitor.
    async fn today(&self, now: DateTime<Utc>) -> Result<ComponentDays, StoreError> {
        let rows = self.store.daily_counts(start_of(now.date_naive())).await?;
        Ok(ComponentDays::from_rows(&self.config, &rows))
    }

    /// The last hour's per-minute roll-ups, read again only when a minute has passed.
    async fn recent_minutes(&self, now: DateTime<Utc>) -> Result<Arc<RecentLatency>, StoreError> {
        let mut cached = self.latency.lock().await;
        if let Some((read_at, minutes)) = cached.as_ref() {
            if read_at.elapsed() < LATENCY_REFRESH {
                return Ok(minutes.clone());
            }
        }
        let from = now - ChronoDuration::minutes(LATENCY_WINDOW_MINUTES);
        let rows = self.store.rollups(Resolution::Minute, from).await?;
        let minutes = Arc::new(recent_latency(&rows));
        *cached = Some((tokio::time::Instant::now(), minutes.clone()));
        Ok(minutes)
    }

    /// Renders until shutdown: at once (after a short debounce) when a status changes or
    /// past days have been read, within a few seconds when only new results came in, and
    /// every minute regardless.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut status = self.engine.status_version.clone();
        let mut results = self.engine.results_version.clone();
        let mut closed_read = self.closed_read.subscribe();
        let mut refresh = tokio::time::interval(REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if let Err(error) = self.render().await {
                tracing::error!(%error, "cannot render the status page; serving the previous one");
            }
            let rendered_at = tokio::time::Instant::now();
            let mut results_pending = false;
            loop {
                tokio::select! {
                    _ = shutdown.changed() => return,
                    changed = status.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        tokio::time::sleep(DEBOUNCE).await;
                        break;
                    }
                    changed = closed_read.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        break;
                    }
                    changed = results.changed(), if !results_pending => {
                        if changed.is_err() {
                            return;
                        }
                        results_pending = true;
                    }
                    _ = tokio::time::sleep_until(rendered_at + RESULTS_REFRESH), if results_pending => break,
                    _ = refresh.tick() => break,
                }
            }
        }
    }
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}
