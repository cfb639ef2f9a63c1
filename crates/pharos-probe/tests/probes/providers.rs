//! Providers' status feeds against local servers that answer with documented sample payloads
//! (Statuspage's summary.json, Google's incidents.json, Microsoft Graph's token,
//! healthOverviews and issues), and with what real feeds also do: 304, 401, 429 with
//! Retry-After, malformed and truncated bodies, slow answers, and an incident that opens and
//! resolves while pharos watches.

use crate::support::monitor;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use pharos_core::{Outcome, ProbeStatus};
use pharos_probe::Prober;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A status, a body and extra headers.
type Answer = (StatusCode, String, Vec<(&'static str, String)>);

/// What the feed server answers, changed by the tests as they go, and what it was asked.
#[derive(Default)]
struct Feed {
    /// Body, status and extra headers of the next answers by path.
    answers: HashMap<&'static str, Answer>,
    /// Answer only after this long.
    delay: Option<Duration>,
    /// Requests by path, with their headers.
    asked: Vec<(String, HeaderMap)>,
    /// Forms posted to the token endpoint.
    token_forms: Vec<HashMap<String, String>>,
    /// The token the Graph endpoints accept.
    valid_token: String,
}

type Shared = Arc<Mutex<Feed>>;

async fn answer(State(feed): State<Shared>, uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_owned();
    let (delay, answer, valid_token) = {
        let mut feed = feed.lock().unwrap();
        feed.asked.push((path.clone(), headers.clone()));
        let answer = feed
            .answers
            .iter()
            .find(|(known, _)| **known == path)
            .map(|(_, answer)| answer.clone());
        (feed.delay, answer, feed.valid_token.clone())
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    if path.contains("/v1.0/") {
        let bearer = headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        if bearer != format!("Bearer {valid_token}") {
            return (
                StatusCode::UNAUTHORIZED,
                r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}}"#,
            )
                .into_response();
        }
    }
    let Some((status, body, extra)) = answer else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", body.len());
    if status == StatusCode::OK
        && headers
            .get("if-none-match")
            .is_some_and(|value| value.to_str().ok() == Some(etag.as_str()))
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mut response = (status, body).into_response();
    response.headers_mut().insert("etag", etag.parse().unwrap());
    for (name, value) in extra {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

async fn token(State(feed): State<Shared>, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let mut feed = feed.lock().unwrap();
    feed.token_forms.push(form.clone());
    if form.get("client_secret").map(String::as_str) != Some("s3cret-value")
        || form.get("grant_type").map(String::as_str) != Some("client_credentials")
    {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value."}"#,
        )
            .into_response();
    }
    let token = format!("token-{}", feed.token_forms.len());
    feed.valid_token = token.clone();
    (
        StatusCode::OK,
        format!(r#"{{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"{token}"}}"#),
    )
        .into_response()
}

async fn start() -> (SocketAddr, Shared) {
    let feed: Shared = Arc::default();
    let app = Router::new()
        .route("/tenant-1/oauth2/v2.0/token", post(token))
        .fallback(get(answer))
        .with_state(feed.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (address, feed)
}

fn set(feed: &Shared, path: &'static str, status: StatusCode, body: &str) {
    set_with(feed, path, status, body, vec![]);
}

fn set_with(
    feed: &Shared,
    path: &'static str,
    status: StatusCode,
    body: &str,
    headers: Vec<(&'static str, String)>,
) {
    feed.lock()
        .unwrap()
        .answers
        .insert(path, (status, body.to_owned(), headers));
}

fn asked(feed: &Shared, path: &str) -> usize {
    feed.lock()
        .unwrap()
        .asked
        .iter()
        .filter(|(asked, _)| asked == path)
        .count()
}

fn prober(body: &str) -> Prober {
    pharos_probe::install_crypto_provider();
    Prober::new(&monitor("provider", body)).expect("probe set-up")
}

fn check(outcome: &Outcome, status: ProbeStatus, reason: Option<&str>) {
    assert_eq!(outcome.status, status, "{outcome:?}");
    assert_eq!(outcome.reason.as_deref(), reason, "{outcome:?}");
}

/// summary.json as documented by Statuspage, abridged.
fn summary(git_status: &str, incidents: &str) -> String {
    format!(
        r#"{{
  "page": {{"id": "kctbh9vrtdwd", "name": "GitHub", "url": "https://www.githubstatus.com", "time_zone": "Etc/UTC", "updated_at": "2026-12-04T10:00:00.000Z"}},
  "components": [
    {{"id": "8l4ygp009s5s", "name": "Git Operations", "status": "{git_status}", "created_at": "2017-01-31T20:05:05.370Z", "updated_at": "2026-12-04T10:00:00.000Z", "position": 1, "description": "Performance of git clones, pulls, pushes, and associated operations", "showcase": false, "start_date": null, "group_id": null, "page_id": "kctbh9vrtdwd", "group": false, "only_show_if_degraded": false}},
    {{"id": "brv1bkgrwx7q", "name": "API Requests", "status": "operational", "group": false}}
  ],
  "incidents": [{incidents}],
  "scheduled_maintenances": [],
  "status": {{"indicator": "{indicator}", "description": "Partial System Outage"}}
}}"#,
        indicator = if git_status == "operational" {
            "none"
        } else {
            "major"
        }
    )
}

const GIT_INCIDENT: &str = r#"{"id": "p9kd2l8w8b6q", "name": "Disruption with some GitHub services", "status": "investigating", "impact": "major", "shortlink": "https://stspg.io/abc123", "components": [{"id": "8l4ygp009s5s", "name": "Git Operations", "status": "major_outage"}], "incident_updates": [{"body": "We are investigating reports of degraded performance.", "status": "investigating"}]}"#;

#[tokio::test]
async fn a_statuspage_incident_opens_and_resolves_while_pharos_watches() {
    let (address, feed) = start().await;
    set(
        &feed,
        "/api/v2/summary.json",
        StatusCode::OK,
        &summary("operational", ""),
    );
    let prober = prober(&format!(
        "provider = \"statuspage\"\nurl = \"http://{address}/\"\ncomponents = [\"git operations\"]\n"
    ));
    let outcome = prober.run().await;
    check(&outcome, ProbeStatus::Up, None);
    assert_eq!(
        outcome.detail.as_deref(),
        Some("GitHub reports Git Operations as operational")
    );
    // Unchanged: answered 304, and the kept answer stands.
    let again = prober.run().await;
    check(&again, ProbeStatus::Up, None);
    let second = feed.lock().unwrap().asked[1].1.clone();
    assert!(second.contains_key("if-none-match"), "{second:?}");

    set(
        &feed,
        "/api/v2/summary.json",
        StatusCode::OK,
        &summary("major_outage", GIT_INCIDENT),
    );
    let outcome = prober.run().await;
    check(
        &outcome,
        ProbeStatus::Down,
        Some("GitHub reports p9kd2l8w8b6q: Disruption with some GitHub services (major outage)"),
    );
    assert!(outcome
        .detail
        .as_deref()
        .is_some_and(|detail| detail.contains("https://stspg.io/abc123")));

    set(
        &feed,
        "/api/v2/summary.json",
        StatusCode::OK,
        &summary("operational", ""),
    );
    check(&prober.run().await, ProbeStatus::Up, None);

    // An unknown component is a clear problem, not a guess.
    let wrong = prober_for_component(address, "Pages");
    let outcome = wrong.run().await;
    assert_eq!(outcome.status, ProbeStatus::Unknown, "{outcome:?}");
    assert!(
        outcome
            .reason
            .as_deref()
            .is_some_and(|reason| reason.contains(
                "GitHub's page has no component `Pages` (it has: Git Operations, API Requests)"
            )),
        "{outcome:?}"
    );
}

fn prober_for_component(address: SocketAddr, component: &str) -> Prober {
    prober(&format!(
        "provider = \"statuspage\"\nurl = \"http://{address}/\"\ncomponents = [\"{component}\"]\n"
    ))
}

#[tokio::test]
async fn an_unreadable_feed_is_unknown_never_down() {
    let (address, feed) = start().await;
    let prober = prober_for_component(address, "API Requests");
    let full = summary("operational", "");
    for (status, body, expected) in [
        (
            StatusCode::OK,
            "{\"page\": {\"name\": \"GitHub\"}, \"components\": [",
            "the page's summary.json cannot be read: EOF while parsing a list",
        ),
        (
            StatusCode::OK,
            "<html>Maintenance</html>",
            "the page's summary.json cannot be read: expected value",
        ),
        (
            StatusCode::OK,
            &full[..full.len() / 2],
            "the page's summary.json cannot be read",
        ),
        (
            StatusCode::BAD_GATEWAY,
            "upstream gone",
            "HTTP 502: upstream gone",
        ),
    ] {
        set(&feed, "/api/v2/summary.json", status, body);
        let outcome = prober.run().await;
        assert_eq!(outcome.status, ProbeStatus::Unknown, "{body}: {outcome:?}");
        let reason = outcome.reason.clone().unwrap_or_default();
        assert!(reason.contains(expected), "{expected} in {reason}");
    }

    // 429 with Retry-After: unknown, and the feed is not asked again before it says.
    set_with(
        &feed,
        "/api/v2/summary.json",
        StatusCode::TOO_MANY_REQUESTS,
        "slow down",
        vec![("retry-after", "120".to_owned())],
    );
    let outcome = prober.run().await;
    assert_eq!(outcome.status, ProbeStatus::Unknown);
    assert!(outcome
        .reason
        .as_deref()
        .unwrap()
        .contains("HTTP 429: slow down; asked to wait 120 s"));
    set(&feed, "/api/v2/summary.json", StatusCode::OK, &full);
    let before = asked(&feed, "/api/v2/summary.json");
    let outcome = prober.run().await;
    assert_eq!(outcome.status, ProbeStatus::Unknown, "{outcome:?}");
    assert_eq!(
        asked(&feed, "/api/v2/summary.json"),
        before,
        "not asked again"
    );

    // A slow feed: unknown once the monitor's timeout passes.
    let (address, feed) = start().await;
    set(&feed, "/api/v2/summary.json", StatusCode::OK, &full);
    feed.lock().unwrap().delay = Some(Duration::from_secs(5));
    let outcome = prober_with_timeout(address).run().await;
    assert_eq!(outcome.status, ProbeStatus::Unknown, "{outcome:?}");
    assert_eq!(
        outcome.reason.as_deref(),
        Some("the status feed timed out after 1s during fetch")
    );
}

fn prober_with_timeout(address: SocketAddr) -> Prober {
    prober(&format!(
        "provider = \"statuspage\"\nurl = \"http://{address}/\"\ntimeout = \"1s\"\n"
    ))
}

/// incidents.json as the Google Workspace Status Dashboard serves it, abridged.
const GOOGLE_INCIDENTS: &str = r#"[
  {"id": "a8sFJmJYq2xCxbwznEpK", "number": "15286396356279327234", "begin": "2026-12-04T09:12:00+00:00", "created": "2026-12-04T09:31:08+00:00", "end": null, "modified": "2026-12-04T09:40:00+00:00", "external_desc": "Gmail users are experiencing delays sending and receiving mail\nWe are investigating.", "updates": [], "most_recent_update": {"status": "SERVICE_OUTAGE", "text": "We are investigating."}, "status_impact": "SERVICE_OUTAGE", "severity": "high", "service_key": "NhjvsBg1rYqgt9Ytaduw", "service_name": "Gmail", "affected_products": [{"title": "Gmail", "id": "NhjvsBg1rYqgt9Ytaduw"}], "uri": "incidents/a8sFJmJYq2xCxbwznEpK"},
  {"id": "old1", "begin": "2026-11-01T09:00:00+00:00", "end": "2026-11-01T11:00:00+00:00", "external_desc": "Gmail was slow", "status_impact": "SERVICE_DISRUPTION", "severity": "medium", "service_name": "Gmail", "affected_products": [{"title": "Gmail", "id": "NhjvsBg1rYqgt9Ytaduw"}], "uri": "incidents/old1"},
  {"id": "meet1", "begin": "2026-12-04T08:00:00+00:00", "end": null, "external_desc": "Google Meet calls drop", "status_impact": "SERVICE_DISRUPTION", "severity": "medium", "service_name": "Google Meet", "affected_products": [{"title": "Google Meet", "id": "meet"}], "uri": "incidents/meet1"}
]"#;

#[tokio::test]
async fn google_workspace_open_incidents_of_the_product_set_its_status() {
    let (address, feed) = start().await;
    set(
        &feed,
        "/appsstatus/dashboard/incidents.json",
        StatusCode::OK,
        GOOGLE_INCIDENTS,
    );
    let gmail = prober(&format!(
        "provider = \"google_workspace\"\nurl = \"http://{address}/appsstatus/dashboard/incidents.json\"\nproducts = [\"gmail\"]\n"
    ));
    let outcome = gmail.run().await;
    check(
        &outcome,
        ProbeStatus::Down,
        Some("Google reports a8sFJmJYq2xCxbwznEpK: Gmail users are experiencing delays sending and receiving mail (major outage)"),
    );
    let drive = prober(&format!(
        "provider = \"google_workspace\"\nurl = \"http://{address}/appsstatus/dashboard/incidents.json\"\nproducts = [\"Google Drive\"]\n"
    ));
    check(&drive.run().await, ProbeStatus::Up, None);
    let meet = prober(&format!(
        "provider = \"google_workspace\"\nurl = \"http://{address}/appsstatus/dashboard/incidents.json\"\nproducts = [\"Google Meet\"]\n"
    ));
    let outcome = meet.run().await;
    check(
        &outcome,
        ProbeStatus::Down,
        Some("Google reports meet1: Google Meet calls drop (partial outage)"),
    );
    // The outage ends.
    set(
        &feed,
        "/appsstatus/dashboard/incidents.json",
        StatusCode::OK,
        &GOOGLE_INCIDENTS.replacen("\"end\": null", "\"end\": \"2026-12-04T10:00:00+00:00\"", 1),
    );
    check(&gmail.run().await, ProbeStatus::Up, None);
}

const OVERVIEWS: &str = r#"{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#admin/serviceAnnouncement/healthOverviews", "value": [
  {"service": "Exchange Online", "status": "ServiceDegradation", "id": "Exchange"},
  {"service": "Microsoft Teams", "status": "ServiceOperational", "id": "MicrosoftTeams"}
]}"#;

const ISSUES: &str = r#"{"value": [
  {"startDateTime": "2026-12-04T08:00:00Z", "lastModifiedDateTime": "2026-12-04T09:00:00Z", "title": "Some users can't access their mailbox", "id": "EX123456", "impactDescription": "Users may be unable to access email via Outlook.", "classification": "incident", "origin": "microsoft", "status": "serviceDegradation", "service": "Exchange Online", "feature": "Mailbox access", "featureGroup": "E-Mail and calendar access", "isResolved": false, "highImpact": null, "details": [], "posts": []},
  {"id": "TM98765", "title": "Teams notice", "impactDescription": "Some users see delays.", "classification": "advisory", "status": "investigating", "service": "Microsoft Teams", "isResolved": false}
]}"#;

fn microsoft(address: SocketAddr, secret: &str) -> Prober {
    prober(&format!(
        "provider = \"microsoft365\"\ntenant_id = \"tenant-1\"\nclient_id = \"client-9\"\nclient_secret = \"{secret}\"\nservice = \"exchange online\"\ngraph_url = \"http://{address}/\"\nlogin_url = \"http://{address}/\"\n"
    ))
}

#[tokio::test]
async fn microsoft_365_service_health_through_graph_with_a_renewed_token() {
    let (address, feed) = start().await;
    set(
        &feed,
        "/v1.0/admin/serviceAnnouncement/healthOverviews",
        StatusCode::OK,
        OVERVIEWS,
    );
    set(
        &feed,
        "/v1.0/admin/serviceAnnouncement/issues",
        StatusCode::OK,
        ISSUES,
    );
    let prober = microsoft(address, "s3cret-value");
    let outcome = prober.run().await;
    check(
        &outcome,
        ProbeStatus::Degraded,
        Some("Microsoft reports EX123456: Users may be unable to access email via Outlook."),
    );
    {
        let feed = feed.lock().unwrap();
        let form = &feed.token_forms[0];
        assert_eq!(form["client_id"], "client-9");
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!(form["scope"], format!("http://{address}/.default"));
    }
    // The token is kept between runs.
    prober.run().await;
    assert_eq!(feed.lock().unwrap().token_forms.len(), 1);
    // Graph stops accepting it: a new one is asked for, once.
    feed.lock().unwrap().valid_token = "rotated".into();
    let outcome = prober.run().await;
    assert_eq!(outcome.status, ProbeStatus::Degraded, "{outcome:?}");
    assert_eq!(feed.lock().unwrap().token_forms.len(), 2);

    // Interruption, in camelCase as the enumeration writes it.
    set(
        &feed,
        "/v1.0/admin/serviceAnnouncement/healthOverviews",
        StatusCode::OK,
        &OVERVIEWS.replace("ServiceDegradation", "serviceInterruption"),
    );
    assert_eq!(prober.run().await.status, ProbeStatus::Down);
    // Restored.
    set(
        &feed,
        "/v1.0/admin/serviceAnnouncement/healthOverviews",
        StatusCode::OK,
        &OVERVIEWS.replace("ServiceDegradation", "serviceRestored"),
    );
    set(
        &feed,
        "/v1.0/admin/serviceAnnouncement/issues",
        StatusCode::OK,
        r#"{"value": []}"#,
    );
    let outcome = prober.run().await;
    check(&outcome, ProbeStatus::Up, None);
    assert_eq!(
        outcome.detail.as_deref(),
        Some("Microsoft reports Exchange Online as operational")
    );

    // A wrong secret: unknown, with Microsoft's words, and the secret nowhere.
    let refused = microsoft(address, "wrong-secret-value");
    let outcome = refused.run().await;
    assert_eq!(outcome.status, ProbeStatus::Unknown, "{outcome:?}");
    let reason = outcome.reason.unwrap_or_default();
    assert!(
        reason.starts_with("no token: HTTP 401 AADSTS7000215"),
        "{reason}"
    );
    assert!(!reason.contains("wrong-secret-value"));
}
