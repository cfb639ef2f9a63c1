//! The admin API from the command line: the API token (from `--token-file` or
//! `PHAROS_TOKEN`), times as typed (RFC 3339 or a duration from now), and one request with its
//! answer printed and turned into an exit code.

use crate::cli::Access;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::process::ExitCode;
use std::time::Duration;

/// The variable the API token is read from.
pub(crate) const TOKEN_VARIABLE: &str = "PHAROS_TOKEN";

/// The variable older versions read the admin token from; still read.
const OLD_TOKEN_VARIABLE: &str = "PHAROS_ADMIN_TOKEN";

/// The API token: from `--token-file`, or `PHAROS_TOKEN`; without one, a usage error.
pub(crate) fn token(access: &Access) -> Result<String, ExitCode> {
    if let Some(file) = &access.token_file {
        return match std::fs::read_to_string(file) {
            Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
            Ok(_) => {
                eprintln!(
                    "error: {} is empty; it should hold an API token",
                    file.display()
                );
                Err(crate::exit::code(crate::exit::USAGE))
            }
            Err(error) => {
                eprintln!(
                    "error: cannot read the token file {}: {error}",
                    file.display()
                );
                Err(crate::exit::code(crate::exit::NO_INPUT))
            }
        };
    }
    for variable in [TOKEN_VARIABLE, OLD_TOKEN_VARIABLE] {
        if let Some(token) = std::env::var(variable)
            .ok()
            .filter(|token| !token.trim().is_empty())
        {
            return Ok(token.trim().to_owned());
        }
    }
    eprintln!(
        "error: no API token: set {TOKEN_VARIABLE} (make one in the admin under API tokens) or give --token-file FILE"
    );
    Err(crate::exit::code(crate::exit::USAGE))
}

/// A time on the command line: RFC 3339, or a duration from now (`90m`, `2h`).
pub(crate) fn time(name: &str, text: Option<&str>) -> Result<Option<String>, ExitCode> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
        return Ok(Some(text.to_owned()));
    }
    match humantime::parse_duration(text.trim_start_matches('+')) {
        Ok(duration) => {
            let at = chrono::Utc::now() + chrono::Duration::from_std(duration).unwrap_or_default();
            Ok(Some(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
        }
        Err(_) => {
            eprintln!("error: --{name} must be a time like 2026-12-06T14:00:00Z or a duration like 90m, got `{text}`");
            Err(crate::exit::code(crate::exit::USAGE))
        }
    }
}

/// POSTs `body` to the admin API's `path`; prints the answer (`said` on success, or the
/// JSON with `--json`) and gives the exit code.
pub(crate) async fn act(
    access: &Access,
    path: &str,
    body: serde_json::Value,
    said: impl FnOnce(&serde_json::Value) -> String,
) -> ExitCode {
    let token = match token(access) {
        Ok(token) => token,
        Err(code) => return code,
    };
    let server = &access.server;
    let Ok(url) = server.join(path) else {
        eprintln!("error: `{server}` cannot be used as the server's address");
        return crate::exit::code(crate::exit::USAGE);
    };
    match post(&url, &token, body.to_string()).await {
        Ok((200 | 201, answer)) => {
            let answer: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
            if access.json {
                println!("{answer:#}");
            } else {
                println!("{}", said(&answer));
            }
            ExitCode::SUCCESS
        }
        Ok((code, answer)) => {
            let reason = serde_json::from_str::<serde_json::Value>(&answer)
                .ok()
                .and_then(|json| json["error"].as_str().map(str::to_owned))
                .unwrap_or(answer);
            eprintln!("error: the server refused ({code}): {reason}");
            if code == 401 || code == 403 {
                crate::exit::code(crate::exit::NO_PERMISSION)
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("error: cannot reach {server}: {error}");
            crate::exit::code(crate::exit::UNAVAILABLE)
        }
    }
}

pub(crate) async fn post(
    url: &url::Url,
    token: &str,
    body: String,
) -> Result<(u16, String), String> {
    send(hyper::Method::POST, url, Some(token), body).await
}

pub(crate) async fn send(
    method: hyper::Method,
    url: &url::Url,
    token: Option<&str>,
    body: String,
) -> Result<(u16, String), String> {
    let client = pharos_notify::https_client();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(url.as_str())
        .header(hyper::header::ACCEPT, "application/json");
    if !body.is_empty() {
        request = request.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    if let Some(token) = token {
        request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|error| error.to_string())?;
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|error| error.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| error.to_string())?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(Duration::from_secs(30), exchange)
        .await
        .map_err(|_| "no answer within 30 s".to_owned())?
}
