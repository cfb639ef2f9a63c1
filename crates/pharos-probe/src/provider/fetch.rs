//! Reading a feed over HTTP(S): conditional requests (a 304 reuses the body kept from the last
//! 200), `Retry-After` honoured (the feed is not asked again before), bodies capped in size.

use bytes::Bytes;
use http::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    RETRY_AFTER,
};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The largest feed body read (Google's incidents.json is a few MB at most).
const MAX_BODY: usize = 16 * 1024 * 1024;
/// The longest wait a `Retry-After` may impose.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct Kept {
    etag: Option<String>,
    last_modified: Option<String>,
    body: Option<Bytes>,
    /// Not to be asked again before this.
    quiet_until: Option<Instant>,
}

pub(crate) struct Feed {
    client: crate::https::HttpsClient,
    kept: Mutex<HashMap<String, Kept>>,
}

/// Why a feed could not be read, in words for the check's reason.
pub(crate) type Problem = String;

impl Feed {
    pub(crate) fn new() -> Self {
        Self {
            client: crate::https::https_client(),
            kept: Mutex::new(HashMap::new()),
        }
    }

    /// GETs `url` (with a bearer token if given); the body of the latest 200, also when the
    /// answer is 304. `Err(Unauthorized)` on 401 so that a token can be renewed.
    pub(crate) async fn get(&self, url: &str, bearer: Option<&str>) -> Result<Bytes, FetchError> {
        let (etag, last_modified) = {
            let kept = self
                .kept
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            match kept.get(url) {
                Some(kept) => {
                    if let Some(until) = kept.quiet_until.filter(|until| *until > Instant::now()) {
                        let wait = until.saturating_duration_since(Instant::now()).as_secs();
                        return Err(FetchError::Problem(format!(
                            "the feed asked not to be read again for {wait} s (Retry-After)"
                        )));
                    }
                    (kept.etag.clone(), kept.last_modified.clone())
                }
                None => (None, None),
            }
        };
        let mut request = Request::builder()
            .method(Method::GET)
            .uri(url)
            .header(ACCEPT, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("pharos/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(token) = bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(etag) = &etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(since) = &last_modified {
            request = request.header(IF_MODIFIED_SINCE, since);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|error| FetchError::Problem(format!("cannot ask {url}: {error}")))?;
        let (status, headers, body) = self.send(request).await?;
        let mut kept = self
            .kept
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let entry = kept.entry(url.to_owned()).or_default();
        match status {
            StatusCode::OK => {
                entry.etag = header(&headers, ETAG);
                entry.last_modified = header(&headers, LAST_MODIFIED);
                entry.body = Some(body.clone());
                Ok(body)
            }
            StatusCode::NOT_MODIFIED => entry.body.clone().ok_or_else(|| {
                FetchError::Problem("the feed answered 304 to a first request".to_owned())
            }),
            StatusCode::UNAUTHORIZED => Err(FetchError::Unauthorized(describe(status, &body))),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                let wait = header(&headers, RETRY_AFTER)
                    .and_then(|value| parse_retry_after(&value))
                    .map(|wait| wait.min(LONGEST_RETRY_AFTER));
                if let Some(wait) = wait {
                    entry.quiet_until = Some(Instant::now() + wait);
                }
                Err(FetchError::Problem(match wait {
                    Some(wait) => format!(
                        "{}; asked to wait {} s",
                        describe(status, &body),
                        wait.as_secs()
                    ),
                    None => describe(status, &body),
                }))
            }
            _ => Err(FetchError::Problem(describe(status, &body))),
        }
    }

    /// POSTs a form (the token request); the status and body, whatever the status.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<(StatusCode, Bytes), FetchError> {
        let body = form
            .iter()
            .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
            .collect::<Vec<_>>()
            .join("&");
        let request = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| FetchError::Problem(format!("cannot ask {url}: {error}")))?;
        let (status, _, body) = self.send(request).await?;
        Ok((status, body))
    }

    async fn send(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, http::HeaderMap, Bytes), FetchError> {
        let response =
            self.client.request(request).await.map_err(|error| {
                FetchError::Problem(format!("no answer: {}", root_cause(&error)))
            })?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|error| FetchError::Problem(format!("the answer broke off: {error}")))?
            .to_bytes();
        Ok((parts.status, parts.headers, body))
    }
}

#[derive(Debug)]
pub(crate) enum FetchError {
    Unauthorized(Problem),
    Problem(Problem),
}

impl FetchError {
    pub(crate) fn into_problem(self) -> Problem {
        match self {
            FetchError::Unauthorized(problem) | FetchError::Problem(problem) => problem,
        }
    }
}

fn header(headers: &http::HeaderMap, name: http::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// "HTTP 503: <the first words of the body>".
fn describe(status: StatusCode, body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .filter(|character| !character.is_control())
        .take(120)
        .collect();
    if text.trim().is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {}", status.as_u16(), text.trim())
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
}

/// application/x-www-form-urlencoded.
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
