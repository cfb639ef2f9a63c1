//! `pharos incident`: incidents of a running pharos, read through its public API (`list`,
//! `show`) and acted on through its admin API (`open`, `update`, `resolve`) with an API token
//! from `PHAROS_TOKEN` or a file.

use crate::api_client::{act, send, time};
use crate::cli::{Access, PromisedTimes};
use std::process::ExitCode;

/// An operator's words: the status, the message, the promised times.
pub(crate) struct Words {
    pub(crate) status: String,
    pub(crate) message: String,
    pub(crate) times: PromisedTimes,
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

/// `--affected COMPONENT=IMPACT` options as the API's `affected` object.
fn affected_json(affected: &[String]) -> Result<serde_json::Value, ExitCode> {
    let mut object = serde_json::Map::new();
    for pair in affected {
        let Some((component, impact)) = pair
            .split_once('=')
            .filter(|(component, impact)| !component.is_empty() && !impact.is_empty())
        else {
            eprintln!(
                "error: --affected takes COMPONENT=IMPACT (smtp=partial_outage), got `{pair}`"
            );
            return Err(crate::exit::code(crate::exit::USAGE));
        };
        object.insert(component.into(), impact.into());
    }
    Ok(object.into())
}

pub(crate) async fn update(
    access: &Access,
    id: i64,
    words: Words,
    title: Option<String>,
    impact: Option<String>,
    affected: &[String],
) -> ExitCode {
    let mut body = match words_json(&words) {
        Ok(body) => body,
        Err(code) => return code,
    };
    if !affected.is_empty() {
        match affected_json(affected) {
            Ok(object) => body.insert("affected".into(), object),
            Err(code) => return code,
        };
    }
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
    affected: &[String],
    words: Words,
) -> ExitCode {
    let mut body = match words_json(&words) {
        Ok(body) => body,
        Err(code) => return code,
    };
    if !affected.is_empty() {
        match affected_json(affected) {
            Ok(object) => body.insert("affected".into(), object),
            Err(code) => return code,
        };
    }
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
