//! `pharos incident`: incidents of a running pharos, read through its public API (`list`,
//! `show`) and acted on through its admin API (`update`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::process::ExitCode;
use std::time::Duration;

pub(crate) async fn update(
    server: &url::Url,
    token: &str,
    id: i64,
    status: &str,
    message: &str,
) -> ExitCode {
    let Ok(url) = server.join(&format!("api/v1/admin/incidents/{id}/updates")) else {
        eprintln!("error: `{server}` cannot be used as the server's address");
        return crate::exit::code(crate::exit::USAGE);
    };
    let body = serde_json::json!({ "status": status, "message": message }).to_string();
    match post(&url, token, body).await {
        Ok((201, _)) => {
            println!("posted on incident {id}: {status}");
            ExitCode::SUCCESS
        }
        Ok((code, answer)) => {
            let reason = serde_json::from_str::<serde_json::Value>(&answer)
                .ok()
                .and_then(|json| json["error"].as_str().map(str::to_owned))
                .unwrap_or(answer);
            eprintln!("error: the server refused the update ({code}): {reason}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: cannot reach {server}: {error}");
            crate::exit::code(crate::exit::UNAVAILABLE)
        }
    }
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
