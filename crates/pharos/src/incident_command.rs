//! `pharos incident`: incidents of a running pharos, read through its public API (`list`,
//! `show`) and acted on through its admin API (`open`, `update`, `resolve`) with an API token
//! from `PHAROS_TOKEN` or a file.

use crate::cli::{Access, PromisedTimes};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::process::ExitCode;
use std::time::Duration;

/// An operator's words: the status, the message, the promised times.
pub(crate) struct Words {
    pub(crate) status: String,
    pub(crate) message: String,
    pub(crate) times: PromisedTimes,
}

/// The variable the API token is read from.
pub(crate) const TOKEN_VARIABLE: &str = "PHAROS_TOKEN";
/// The variable older versions read the admin token from; still read.
const OLD_TOKEN_VARIABLE: &str = "PHAROS_ADMIN_TOKEN";

/// The API token: from `--token-file`, or `PHAROS_TOKEN`; without one, a usage error.
fn token(access: &Access) -> Result<String, ExitCode> {
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
fn time(name: &str, text: Option<&str>) -> Result<Option<String>, ExitCode> {
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

fn words_json(words: &Words) -> Result<serde_json::Map<String, serde_json::Value>, ExitCode> {
    let mut body = serde_json::Map::new();
    body.insert("status".into(), words.status.clone().into());
    body.insert("message".into(), words.message.clone().into());
    if let Some(at) = time("expected-by", words.times.expected_by.as_deref())? {
        body.insert("expected_by".into(), at.into());
    }
    if let Some(at) = time("next-update-by", words.times.next_update_by.as_deref())? {
        body.insert("next_update_by".into(), at.into());
    }
    Ok(body)
}

/// POSTs `body` to the admin API's `path`; prints the answer (`said` on success, or the
/// JSON with `--json`) and gives the exit code.
async fn act(
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

pub(crate) async fn update(
    access: &Access,
    id: i64,
    words: Words,
    title: Option<String>,
    impact: Option<String>,
) -> ExitCode {
    let mut body = match words_json(&words) {
        Ok(body) => body,
        Err(code) => return code,
    };
    if let Some(title) = title {
        body.insert("title".into(), title.into());
    }
    if let Some(impact) = impact {
        body.insert("impact".into(), impact.into());
    }
    let status = words.status.clone();
    act(
        access,
        &format!("api/v1/admin/incidents/{id}/updates"),
        body.into(),
        |_| format!("posted on incident {id}: {status}"),
    )
    .await
}

pub(crate) async fn open(
    access: &Access,
    component: &str,
    title: &str,
    impact: &str,
    words: Words,
) -> ExitCode {
    let mut body = match words_json(&words) {
        Ok(body) => body,
        Err(code) => return code,
    };
    body.insert("component".into(), component.into());
    body.insert("title".into(), title.into());
    body.insert("impact".into(), impact.into());
    act(access, "api/v1/admin/incidents", body.into(), |answer| {
        format!(
            "opened incident {}: {}",
            answer["id"],
            answer["title"].as_str().unwrap_or("")
        )
    })
    .await
}

pub(crate) async fn resolve(access: &Access, id: i64, message: &str) -> ExitCode {
    let body = serde_json::json!({ "message": message });
    act(
        access,
        &format!("api/v1/admin/incidents/{id}/resolve"),
        body,
        |_| format!("resolved incident {id}"),
    )
    .await
}

/// The incidents a running pharos shows, as a table or as its JSON.
pub(crate) async fn list(server: &url::Url, json: bool) -> ExitCode {
    let answer = match read(server, "api/v1/incidents").await {
        Ok(answer) => answer,
        Err(code) => return code,
    };
    if json {
        println!("{answer:#}");
        return ExitCode::SUCCESS;
    }
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["#", "Status", "Impact", "Title", "Started", "Resolved"]);
    let incidents = answer["incidents"].as_array().cloned().unwrap_or_default();
    for incident in &incidents {
        let text = |key: &str| incident[key].as_str().unwrap_or("").to_owned();
        table.add_row([
            incident["id"].to_string(),
            text("status"),
            text("worst_impact"),
            text("title"),
            text("started_at"),
            text("resolved_at"),
        ]);
    }
    println!("{table}");
    println!("{} incidents", incidents.len());
    ExitCode::SUCCESS
}

/// One incident with its updates and timeline, as text or as its JSON.
pub(crate) async fn show(server: &url::Url, id: i64, json: bool) -> ExitCode {
    let answer = match read(server, &format!("api/v1/incidents/{id}")).await {
        Ok(answer) => answer,
        Err(code) => return code,
    };
    if json {
        println!("{answer:#}");
        return ExitCode::SUCCESS;
    }
    let text = |value: &serde_json::Value, key: &str| value[key].as_str().unwrap_or("").to_owned();
    println!("#{} {}", answer["id"], text(&answer, "title"));
    println!(
        "{} · {} · started {}{}",
        text(&answer, "status"),
        text(&answer, "worst_impact"),
        text(&answer, "started_at"),
        answer["resolved_at"]
            .as_str()
            .map(|at| format!(" · resolved {at}"))
            .unwrap_or_default()
    );
    if let Some(cause) = answer["root_cause"].as_str() {
        println!("{cause}");
    }
    println!("\nUpdates:");
    for update in answer["updates"].as_array().into_iter().flatten() {
        println!(
            "  {}  {:<13} {}",
            text(update, "at"),
            text(update, "status"),
            text(update, "message")
        );
    }
    println!("\nTimeline:");
    for entry in answer["timeline"].as_array().into_iter().flatten() {
        println!(
            "  {}  {:<19} {}",
            text(entry, "at"),
            text(entry, "kind"),
            text(entry, "detail")
        );
    }
    ExitCode::SUCCESS
}

/// GETs `path` of the server's public API; on failure, says why and gives the exit code.
async fn read(server: &url::Url, path: &str) -> Result<serde_json::Value, ExitCode> {
    let Ok(url) = server.join(path) else {
        eprintln!("error: `{server}` cannot be used as the server's address");
        return Err(crate::exit::code(crate::exit::USAGE));
    };
    match send(hyper::Method::GET, &url, None, String::new()).await {
        Ok((200, answer)) => serde_json::from_str(&answer).map_err(|error| {
            eprintln!("error: {url} did not answer with JSON: {error}");
            crate::exit::code(crate::exit::UNAVAILABLE)
        }),
        Ok((404, _)) => {
            eprintln!("error: {url}: no such incident");
            Err(ExitCode::FAILURE)
        }
        Ok((code, answer)) => {
            eprintln!("error: {url} answered {code}: {}", answer.trim());
            Err(crate::exit::code(crate::exit::UNAVAILABLE))
        }
        Err(error) => {
            eprintln!("error: cannot reach {server}: {error}");
            Err(crate::exit::code(crate::exit::UNAVAILABLE))
        }
    }
}

async fn post(url: &url::Url, token: &str, body: String) -> Result<(u16, String), String> {
    send(hyper::Method::POST, url, Some(token), body).await
}

async fn send(
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
