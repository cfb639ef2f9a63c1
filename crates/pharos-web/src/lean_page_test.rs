//! The overview stays light at any age: 500 components of 10 checks each, 90 days of
//! history whose colour changes every day, 1,000 incidents, a latency chart per component,
//! every check with a last result: at most 1 MB, and 150 KB gzip. The details are on each
//! component's page.

use crate::snapshot::PageCache;
use crate::view::StatusView;
use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use pharos_core::uptime::ResultCounts;
use pharos_core::*;
use pharos_engine::{LatestResult, LiveState};
use pharos_store::{DailyCounts, Rollup};
use std::fmt::Write as _;
use std::time::Duration;

const COMPONENTS: usize = 500;
const MONITORS_PER_COMPONENT: usize = 10;

/// A small deterministic generator, so that the history is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

fn busy_site() -> StatusView {
    let mut toml = String::new();
    for component in 0..COMPONENTS {
        let _ = write!(
            toml,
            "[[components]]\nid = \"component-{component}\"\nname = \"Mail service {component}\"\n\
             description = \"Sending, receiving and mailbox access for region {component}\"\n\
             group = \"Group {}\"\n",
            component / 50
        );
        for monitor in 0..MONITORS_PER_COMPONENT {
            let _ = write!(
                toml,
                "[[monitors]]\nid = \"m-{component}-{monitor}\"\nname = \"Check {monitor}\"\n\
                 component = \"component-{component}\"\ntype = \"tcp\"\nhost = \"127.0.0.1\"\nport = 25\n"
            );
        }
    }
    let config = pharos_config::parse("lean.toml", &toml, &|_| None).unwrap();
    let now = Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).unwrap();
    let mut random = Lcg(7);
    let mut daily = Vec::new();
    let mut minutes = Vec::new();
    let mut live = LiveState::default();
    for monitor in &config.monitors {
        for day in 0..90 {
            let total = 2880;
            // Every day a different colour, as unlike as history gets.
            let down = [0, 2, 20, 100, 400][random.next(5) as usize];
            daily.push(DailyCounts {
                monitor: monitor.id.clone(),
                day: (now - ChronoDuration::days(day))
                    .date_naive()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
                    .and_utc(),
                counts: ResultCounts {
                    total,
                    down,
                    degraded: 0,
                },
            });
        }
        for minute in 0..60 {
            let latency = Duration::from_micros(1000 + random.next(50_000));
            minutes.push(Rollup {
                monitor: monitor.id.clone(),
                bucket: now - ChronoDuration::minutes(60 - minute),
                counts: ResultCounts {
                    total: 2,
                    down: 0,
                    degraded: 0,
                },
                latency_min: latency,
                latency_avg: latency,
                latency_p95: latency,
                latency_max: latency,
            });
        }
        live.monitors.insert(
            monitor.id.clone(),
            LatestResult {
                at: now,
                started_at: now,
                outcome: Outcome::down(
                    Duration::from_millis(3),
                    vec![],
                    "connection refused by the peer",
                ),
                confirmed: ProbeStatus::Down,
            },
        );
    }
    let incidents = (0..1000)
        .map(|id| {
            let started = now - ChronoDuration::hours(2 * id + 1);
            Incident {
                dependents: Vec::new(),
                scope: None,
                id,
                component: ComponentId::new(format!("component-{}", id % COMPONENTS as i64)),
                title: format!("Mail service {}: major outage", id % COMPONENTS as i64),
                phase: IncidentPhase::Resolved,
                impact: ComponentStatus::MajorOutage,
                worst_impact: ComponentStatus::MajorOutage,
                started_at: started,
                detected_at: started,
                resolved_at: Some(started + ChronoDuration::minutes(30)),
                updates: vec![IncidentUpdate {
                    at: started,
                    phase: IncidentPhase::Resolved,
                    message: "Connections are accepted again.".into(),
                    automatic: true,
                    expected_by: None,
                    next_update_by: None,
                    edited_at: None,
                }],
                timeline: vec![],
            }
        })
        .collect();
    StatusView::build(&config, &live, incidents, &daily, &minutes, now)
}

#[test]
fn the_overview_of_500_components_stays_under_1_mb_and_150_kb_gzip() {
    let cache = PageCache::default();
    cache.replace(busy_site());
    let site = cache.get();
    let index = site.get("/").unwrap();
    let gzip = index.gzip.as_ref().unwrap();
    assert!(
        index.body.len() <= 1_000_000,
        "{} bytes raw",
        index.body.len()
    );
    assert!(gzip.len() <= 150_000, "{} bytes gzip", gzip.len());
    eprintln!(
        "overview: {} bytes raw, {} gzip",
        index.body.len(),
        gzip.len()
    );
    let page = String::from_utf8_lossy(&index.body);
    assert_eq!(page.matches("class=\"component ").count(), COMPONENTS);
    assert!(page.contains("href=\"/components/component-499\""));

    // What left the overview is on the component's own page.
    let component = site.get("/components/component-7").unwrap();
    let component = String::from_utf8_lossy(&component.body);
    assert_eq!(
        component.matches("class=\"bar ").count(),
        90,
        "one bar a day"
    );
    assert!(component.contains("connection refused by the peer"));
    assert!(component.contains("<polyline"), "the latency chart");
    assert!(component.contains("href=\"/incidents/7\""), "its incidents");
}
