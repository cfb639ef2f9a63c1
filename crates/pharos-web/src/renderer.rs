//! The renderer: rebuilds the whole site when the engine reports a change (and once a
//! minute, for uptime and last checks), from the live state plus three store reads.

use crate::snapshot::{PageCache, PageSet, Rendered};
use crate::view::{StatusView, HISTORY_DAYS};
use crate::{api, feeds, pages};
use chrono::{Duration as ChronoDuration, Utc};
use pharos_config::Config;
use pharos_engine::EngineHandle;
use pharos_store::{DailyCounts, IncidentQuery, Resolution, Rollup, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
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

pub struct Renderer {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    engine: EngineHandle,
    cache: PageCache,
    latency: tokio::sync::Mutex<Option<(tokio::time::Instant, Arc<Vec<Rollup>>)>>,
    /// Day counts of closed days, which do not change: read once a day (and once more after
    /// late results of the night before are rolled up), not on every render.
    closed_days: tokio::sync::Mutex<Option<(ClosedDaysKey, Arc<Vec<DailyCounts>>)>>,
}

/// Which read of closed days is current: the day, and whether late results of the previous
/// day can still be rolled into it.
type ClosedDaysKey = (chrono::NaiveDate, bool);

/// Results of the previous day may still be rolled up this long after midnight.
const LATE_ROLLUPS: ChronoDuration = ChronoDuration::minutes(20);

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
            closed_days: tokio::sync::Mutex::new(None),
        }
    }

    pub async fn render(&self) -> Result<(), StoreError> {
        let now = Utc::now();
        let since = now - ChronoDuration::days(HISTORY_DAYS);
        let incidents = self
            .store
            .incidents(IncidentQuery {
                since: Some(since),
                limit: MAX_INCIDENTS,
            })
            .await?;
        let daily = self.daily_counts(now, since).await?;
        let minutes = self.recent_minutes(now).await?;
        let live = self
            .engine
            .live
            .read()
            .map(|live| live.clone())
            .unwrap_or_default();
        let view = StatusView::build(&self.config, &live, incidents, &daily, &minutes, now);
        self.cache.replace(build_site(&view));
        Ok(())
    }

    /// Day counts since `since`: closed days from memory (read once a day), today's from the
    /// store on every render, so the cost of a render does not grow with history.
    async fn daily_counts(
        &self,
        now: chrono::DateTime<Utc>,
        since: chrono::DateTime<Utc>,
    ) -> Result<Vec<DailyCounts>, StoreError> {
        let today = now.date_naive();
        let today_start = today.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let key = (today, now - today_start >= LATE_ROLLUPS);
        let closed = {
            let mut cached = self.closed_days.lock().await;
            match cached.as_ref() {
                Some((read_for, closed)) if *read_for == key => closed.clone(),
                _ => {
                    let closed: Arc<Vec<DailyCounts>> = Arc::new(
                        self.store
                            .daily_counts(since)
                            .await?
                            .into_iter()
                            .filter(|row| row.day < today_start)
                            .collect(),
                    );
                    *cached = Some((key, closed.clone()));
                    closed
                }
            }
        };
        let mut daily: Vec<DailyCounts> = closed
            .iter()
            .filter(|row| row.day >= since - ChronoDuration::days(1))
            .cloned()
            .collect();
        daily.extend(self.store.daily_counts(today_start).await?);
        Ok(daily)
    }

    /// The last hour's per-minute roll-ups, read again only when a minute has passed.
    async fn recent_minutes(
        &self,
        now: chrono::DateTime<Utc>,
    ) -> Result<Arc<Vec<Rollup>>, StoreError> {
        let mut cached = self.latency.lock().await;
        if let Some((read_at, minutes)) = cached.as_ref() {
            if read_at.elapsed() < LATENCY_REFRESH {
                return Ok(minutes.clone());
            }
        }
        let from = now - ChronoDuration::minutes(LATENCY_WINDOW_MINUTES);
        let minutes = Arc::new(self.store.rollups(Resolution::Minute, from).await?);
        *cached = Some((tokio::time::Instant::now(), minutes.clone()));
        Ok(minutes)
    }

    /// Renders until shutdown: at once (after a short debounce) when a status changes, within
    /// a few seconds when only new results came in, and every minute regardless.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut status = self.engine.status_version.clone();
        let mut results = self.engine.results_version.clone();
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

pub(crate) fn build_site(view: &StatusView) -> PageSet {
    let mut set = PageSet::default();
    let mut put = |path: &str, rendered: Rendered| {
        set.pages.insert(path.to_owned(), rendered);
    };
    put("/", Rendered::new(HTML, pages::index(view).into_string()));
    put(
        "/history",
        Rendered::new(HTML, pages::history(view).into_string()),
    );
    put(
        "/feed.atom",
        Rendered::new("application/atom+xml; charset=utf-8", feeds::atom(view)),
    );
    put(
        "/feed.rss",
        Rendered::new("application/rss+xml; charset=utf-8", feeds::rss(view)),
    );
    put(
        "/api/v1/status",
        Rendered::new(JSON, json(&api::status(view))),
    );
    put(
        "/api/v1/components",
        Rendered::new(JSON, json(&api::components(view))),
    );
    put(
        "/api/v1/incidents",
        Rendered::new(JSON, json(&api::incidents(view))),
    );
    put(
        "/api/v1/openapi.json",
        Rendered::new(JSON, include_str!("openapi.json").to_owned()),
    );
    for incident in view.all_incidents() {
        put(
            &format!("/incidents/{}", incident.id),
            Rendered::new(HTML, pages::incident_page(view, incident).into_string()),
        );
        put(
            &format!("/api/v1/incidents/{}", incident.id),
            Rendered::new(JSON, json(&api::incident_dto(view, incident, true))),
        );
    }
    set.not_found = Some(Rendered::with_status(
        HTML,
        pages::not_found(view).into_string(),
        404,
    ));
    // Every JSON answer is also at `<path>.json`, the form a static export can serve.
    let aliases: Vec<(String, Rendered)> = set
        .pages
        .iter()
        .filter(|(path, rendered)| rendered.content_type == JSON && !path.ends_with(".json"))
        .map(|(path, rendered)| (format!("{path}.json"), rendered.clone()))
        .collect();
    set.pages.extend(aliases);
    set
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| "{}".to_owned())
}
