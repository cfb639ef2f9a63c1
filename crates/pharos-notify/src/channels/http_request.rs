//! One HTTP request to a service and what its answer means: delivered, worth retrying (a
//! 429 with the wait the service asks for, a 5xx, no answer in time) or refused for good
//! (any other 4xx, with the service's own words). Shared by every HTTP channel.

use crate::channel::Delivery;
use crate::https::HttpsClient;
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use std::time::Duration;

/// The most of a service's answer that is read, whatever it sends.
const ANSWER_EXCERPT: usize = 4096;
/// The longest wait a service may ask for before a retry.
const LONGEST_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A request ready to send.
#[derive(Clone, Debug)]
pub(crate) struct Outgoing {
    pub(crate) method: Method,
    pub(crate) url: String,
    pub(crate) content_type: &'static str,
    /// A configured content type, in place of `content_type`.
    pub(crate) content_type_owned: Option<String>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
}

impl Outgoing {
    pub(crate) fn post_json(url: String, body: impl Into<Bytes>) -> Self {
        Self {
            method: Method::POST,
            url,
            content_type: "application/json",
            content_type_owned: None,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub(crate) fn header(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            let mut value = value;
            value.set_sensitive(true);
            self.headers.push((name, value));
        }
        self
    }
}

/// What the service answered.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) body: Vec<u8>,
}

/// Why no answer came.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The request cannot be sent as configured: trying again will not help.
    Unsendable(String),
    /// No answer this time (refused, reset, timed out).
    NoAnswer(String),
}

/// Sends `outgoing` and reads a little of the answer; the error names what failed, never the
/// URL (some services put the credential in it).
pub(crate) async fn send(
    client: &HttpsClient,
    outgoing: Outgoing,
    timeout: Duration,
) -> Result<Answer, Failure> {
    let mut request = Request::builder()
        .method(outgoing.method)
        .uri(outgoing.url.as_str())
        .header(
            CONTENT_TYPE,
            outgoing
                .content_type_owned
                .as_deref()
                .unwrap_or(outgoing.content_type),
        )
        .header(USER_AGENT, concat!("pharos/", env!("CARGO_PKG_VERSION")));
    for (name, value) in outgoing.headers {
        request = request.header(name, value);
    }
    let request = request.body(Full::new(outgoing.body)).map_err(|_| {
        Failure::Unsendable("the request could not be built from the configured address".to_owned())
    })?;
    let attempt = async {
        let response = client
            .request(request)
            .await
            .map_err(|error| Failure::NoAnswer(describe_client_error(&error)))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let mut body = response.into_body();
        let mut excerpt = Vec::new();
        while excerpt.len() < ANSWER_EXCERPT {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        let room = ANSWER_EXCERPT - excerpt.len();
                        excerpt.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
                _ => break,
            }
        }
        Ok(Answer {
            status,
            retry_after,
            body: excerpt,
        })
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(Failure::NoAnswer(format!(
            "no answer within {}",
            humantime_short(timeout)
        ))),
    }
}

/// What an answer means for a service: any 2xx is delivered; 429, 408, 425 and 5xx are
/// retried (no sooner than the service asks); any other 4xx gives up at once, saying why.
/// `secrets` are replaced by `[redacted]` in whatever the service said.
pub(crate) fn judge(result: Result<Answer, Failure>, service: &str, secrets: &[&str]) -> Delivery {
    let answer = match result {
        Ok(answer) => answer,
        Err(Failure::NoAnswer(reason)) => {
            return Delivery::Retry {
                status_code: None,
                reason: redact(&reason, secrets),
                retry_after: None,
            }
        }
        Err(Failure::Unsendable(reason)) => {
            return Delivery::GiveUp {
                status_code: None,
                reason: redact(&reason, secrets),
            }
        }
    };
    let status = answer.status;
    if status.is_success() {
        return Delivery::Delivered {
            status_code: Some(status.as_u16()),
        };
    }
    let said = service_error(&answer.body);
    let reason = redact(
        &match said.as_deref() {
            Some(said) if !said.is_empty() => format!("{service} answered {status}: {said}"),
            _ => format!("{service} answered {status}"),
        },
        secrets,
    );
    let transient = status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.as_u16() == 425
        || status.is_server_error();
    if transient {
        Delivery::Retry {
            status_code: Some(status.as_u16()),
            reason,
            retry_after: answer
                .retry_after
                .or_else(|| body_retry_after(&answer.body))
                .map(|wait| wait.min(LONGEST_RETRY_AFTER)),
        }
    } else {
        Delivery::GiveUp {
            status_code: Some(status.as_u16()),
            reason,
        }
    }
}

/// The stored JSON object with credentials added, as bytes to send.
pub(crate) fn with_credentials(payload: &str, credentials: &[(&str, &str)]) -> Option<Vec<u8>> {
    let mut body: serde_json::Value = serde_json::from_str(payload).ok()?;
    let object = body.as_object_mut()?;
    for (key, value) in credentials {
        object.insert((*key).to_owned(), serde_json::json!(value));
    }
    serde_json::to_vec(&body).ok()
}

pub(crate) fn unreadable() -> Delivery {
    Delivery::GiveUp {
        status_code: None,
        reason: "the stored message or the configured address cannot be used".to_owned(),
    }
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

/// The wait a service names in its JSON body: Telegram's `parameters.retry_after` and
/// Discord's `retry_after` (seconds), Matrix's `retry_after_ms`.
fn body_retry_after(body: &[u8]) -> Option<Duration> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let seconds = |value: &serde_json::Value| {
        value
            .as_f64()
            .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
            .map(|seconds| Duration::from_secs_f64(seconds.min(LONGEST_RETRY_AFTER.as_secs_f64())))
    };
    value
        .pointer("/parameters/retry_after")
        .and_then(seconds)
        .or_else(|| value.get("retry_after").and_then(seconds))
        .or_else(|| {
            value
                .get("retry_after_ms")
                .and_then(serde_json::Value::as_f64)
                .filter(|millis| millis.is_finite() && *millis >= 0.0)
                .map(|millis| Duration::from_secs_f64((millis / 1000.0).min(3600.0)))
        })
}

/// The service's own words about a refusal: the usual fields of JSON error bodies
/// (`description`, `error`, `message`, `errors`), else the start of the body as text.
fn service_error(body: &[u8]) -> Option<String> {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in [
            "description",
            "errorDescription",
            "error",
            "message",
            "errors",
        ] {
            match value.get(key) {
                Some(serde_json::Value::String(text)) => return Some(clean(text)),
                Some(serde_json::Value::Array(items)) => {
                    let texts: Vec<String> = items
                        .iter()
                        .map(|item| match item {
                            serde_json::Value::String(text) => text.clone(),
                            other => other.to_string(),
                        })
                        .collect();
                    return Some(clean(&texts.join("; ")));
                }
                Some(serde_json::Value::Object(_)) => {
                    return value.get(key).map(|inner| clean(&inner.to_string()))
                }
                _ => {}
            }
        }
        if let Some(code) = value.get("errcode").and_then(serde_json::Value::as_str) {
            return Some(clean(code));
        }
    }
    let text = String::from_utf8_lossy(body);
    Some(clean(&text))
}

/// The start of an answer as one line of text, for a failed attempt's reason.
pub(crate) fn excerpt(body: &[u8]) -> String {
    clean(&String::from_utf8_lossy(body))
}

/// One line of at most 200 characters, control characters removed.
fn clean(text: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    super::summary::truncate(text.trim(), 200)
}

/// `text` with each secret (of four characters or more) replaced by `[redacted]`.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|secret| secret.len() >= 4) {
        text = text.replace(secret, "[redacted]");
    }
    text
}

fn humantime_short(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}

fn describe_client_error(error: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error as _;
    let mut cause = error.source();
    while let Some(inner) = cause {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
                _ => io.to_string(),
            };
        }
        cause = inner.source();
    }
    if error.is_connect() {
        return "cannot connect".to_owned();
    }
    "the connection failed before an answer".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Result<Answer, Failure> {
        Ok(Answer {
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: None,
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn a_refusal_gives_up_with_the_services_words() {
        let delivery = judge(
            answer(
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
            ),
            "Telegram",
            &[],
        );
        assert_eq!(
            delivery,
            Delivery::GiveUp {
                status_code: Some(400),
                reason: "Telegram answered 400 Bad Request: Bad Request: chat not found".into()
            }
        );
    }

    #[test]
    fn a_rate_limit_is_retried_no_sooner_than_asked() {
        let delivery = judge(
            answer(
                429,
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 7","parameters":{"retry_after":7}}"#,
            ),
            "Telegram",
            &[],
        );
        let Delivery::Retry { retry_after, .. } = delivery else {
            panic!("{delivery:?}")
        };
        assert_eq!(retry_after, Some(Duration::from_secs(7)));
        let matrix = judge(
            answer(
                429,
                r#"{"errcode":"M_LIMIT_EXCEEDED","error":"Too many requests","retry_after_ms":2500}"#,
            ),
            "Matrix",
            &[],
        );
        let Delivery::Retry { retry_after, .. } = matrix else {
            panic!("{matrix:?}")
        };
        assert_eq!(retry_after, Some(Duration::from_millis(2500)));
    }

    #[test]
    fn secrets_echoed_by_a_service_are_redacted() {
        let delivery = judge(
            answer(401, "invalid token abcd1234secret"),
            "Gotify",
            &["abcd1234secret"],
        );
        assert_eq!(
            delivery.reason(),
            Some("Gotify answered 401 Unauthorized: invalid token [redacted]")
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("12"), Some(Duration::from_secs(12)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            None,
            "in the past"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
