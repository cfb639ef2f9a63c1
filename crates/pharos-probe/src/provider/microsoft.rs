//! Microsoft 365 Service Health through Microsoft Graph
//! (<https://learn.microsoft.com/graph/api/resources/servicehealth>): a client-credentials
//! token from the Microsoft identity platform, then `healthOverviews` (each service's status)
//! and the unresolved `issues` (id such as EX123456, title, impactDescription,
//! classification). Status values are read case-insensitively: the documentation's samples
//! write them in PascalCase, its enumeration in camelCase.

use super::fetch::{Feed, FetchError, Problem};
use super::{ProviderIncident, Report};
use pharos_config::ProviderSpec;
use pharos_core::ComponentStatus;
use secrecy::ExposeSecret;
use serde::Deserialize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token is renewed this long before it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(120);

/// The access token, kept between runs until shortly before it expires.
#[derive(Default)]
pub(crate) struct Session {
    token: Mutex<Option<(String, Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenRefusal {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct List<T> {
    value: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Overview {
    #[serde(default)]
    id: Option<String>,
    service: String,
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Issue {
    id: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    impact_description: Option<String>,
    #[serde(default)]
    classification: Option<String>,
    #[serde(default)]
    service: Option<String>,
    #[serde(default)]
    is_resolved: Option<bool>,
}

pub(crate) async fn read(
    feed: &Feed,
    session: &Session,
    spec: &ProviderSpec,
) -> Result<Report, Problem> {
    let ProviderSpec::Microsoft365 {
        graph_url, service, ..
    } = spec
    else {
        return Err("not a Microsoft 365 feed".to_owned());
    };
    let base = graph_url.as_str().trim_end_matches('/');
    let overviews_url = format!("{base}/v1.0/admin/serviceAnnouncement/healthOverviews");
    let issues_url =
        format!("{base}/v1.0/admin/serviceAnnouncement/issues?%24filter=isResolved%20eq%20false");
    let overviews = get(feed, session, spec, &overviews_url).await?;
    let issues = get(feed, session, spec, &issues_url).await?;
    parse(&overviews, &issues, service)
}

/// GETs with the session's token, renewing it once if the answer is 401.
async fn get(
    feed: &Feed,
    session: &Session,
    spec: &ProviderSpec,
    url: &str,
) -> Result<bytes::Bytes, Problem> {
    for attempt in 0..2 {
        let token = token(feed, session, spec).await?;
        match feed.get(url, Some(&token)).await {
            Ok(body) => return Ok(body),
            Err(FetchError::Unauthorized(problem)) => {
                *session
                    .token
                    .lock()
                    .unwrap_or_else(|poison| poison.into_inner()) = None;
                if attempt == 1 {
                    return Err(format!("Microsoft Graph refused the token: {problem}"));
                }
            }
            Err(FetchError::Problem(problem)) => return Err(problem),
        }
    }
    Err("Microsoft Graph refused the token".to_owned())
}

async fn token(feed: &Feed, session: &Session, spec: &ProviderSpec) -> Result<String, Problem> {
    if let Some((token, expires)) = session
        .token
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .as_ref()
    {
        if *expires > Instant::now() {
            return Ok(token.clone());
        }
    }
    let ProviderSpec::Microsoft365 {
        tenant_id,
        client_id,
        client_secret,
        graph_url,
        login_url,
        ..
    } = spec
    else {
        return Err("not a Microsoft 365 feed".to_owned());
    };
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        login_url.as_str().trim_end_matches('/'),
        url::form_urlencoded::byte_serialize(tenant_id.as_bytes()).collect::<String>()
    );
    let scope = format!("{}/.default", graph_url.as_str().trim_end_matches('/'));
    let (status, body) = feed
        .post_form(
            &url,
            &[
                ("client_id", client_id),
                ("client_secret", client_secret.expose_secret()),
                ("scope", &scope),
                ("grant_type", "client_credentials"),
            ],
        )
        .await
        .map_err(|error| format!("no token: {}", error.into_problem()))?;
    if !status.is_success() {
        let refusal: Option<TokenRefusal> = serde_json::from_slice(&body).ok();
        let why = refusal
            .and_then(|refusal| refusal.error_description.or(refusal.error))
            .map(|why| {
                why.lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(160)
                    .collect::<String>()
            })
            .unwrap_or_default();
        return Err(format!("no token: HTTP {} {why}", status.as_u16())
            .trim_end()
            .to_owned());
    }
    let answer: TokenAnswer = serde_json::from_slice(&body)
        .map_err(|error| format!("no token: the answer cannot be read: {error}"))?;
    let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(3600));
    let expires = Instant::now() + lifetime.saturating_sub(RENEW_BEFORE);
    *session
        .token
        .lock()
        .unwrap_or_else(|poison| poison.into_inner()) =
        Some((answer.access_token.clone(), expires));
    Ok(answer.access_token)
}

pub(crate) fn parse(overviews: &[u8], issues: &[u8], service: &str) -> Result<Report, Problem> {
    let overviews: List<Overview> = serde_json::from_slice(overviews)
        .map_err(|error| format!("healthOverviews cannot be read: {error}"))?;
    let issues: List<Issue> = serde_json::from_slice(issues)
        .map_err(|error| format!("issues cannot be read: {error}"))?;
    let wanted = service.trim();
    let overview = overviews
        .value
        .iter()
        .find(|overview| {
            overview.service.eq_ignore_ascii_case(wanted)
                || overview
                    .id
                    .as_deref()
                    .is_some_and(|id| id.eq_ignore_ascii_case(wanted))
        })
        .ok_or_else(|| {
            let known: Vec<&str> = overviews
                .value
                .iter()
                .map(|overview| overview.service.as_str())
                .take(30)
                .collect();
            format!(
                "Microsoft 365 reports no service `{wanted}` (it reports: {})",
                known.join(", ")
            )
        })?;
    let incidents = issues
        .value
        .iter()
        .filter(|issue| !issue.is_resolved.unwrap_or(false))
        .filter(|issue| {
            issue
                .service
                .as_deref()
                .is_some_and(|name| name.eq_ignore_ascii_case(&overview.service))
        })
        .map(|issue| {
            let words = issue
                .impact_description
                .as_deref()
                .or(issue.title.as_deref())
                .unwrap_or("an issue");
            let advisory = issue
                .classification
                .as_deref()
                .is_some_and(|class| class.eq_ignore_ascii_case("advisory"));
            ProviderIncident {
                id: issue.id.clone(),
                title: if advisory {
                    format!("(advisory) {words}")
                } else {
                    words.to_owned()
                },
                url: None,
            }
        })
        .collect();
    Ok(Report {
        provider: "Microsoft".to_owned(),
        service: overview.service.clone(),
        status: status(&overview.status),
        incidents,
    })
}

/// `serviceHealthStatus`, case-insensitively; a value this reader does not know counts as
/// degraded (Microsoft says something is not right).
fn status(value: &str) -> ComponentStatus {
    match value.to_ascii_lowercase().as_str() {
        "serviceoperational"
        | "servicerestored"
        | "postincidentreviewpublished"
        | "resolved"
        | "resolvedexternal"
        | "falsepositive"
        | "mitigated"
        | "mitigatedexternal"
        | "investigationsuspended" => ComponentStatus::Operational,
        "serviceinterruption" => ComponentStatus::MajorOutage,
        _ => ComponentStatus::DegradedPerformance,
    }
}
