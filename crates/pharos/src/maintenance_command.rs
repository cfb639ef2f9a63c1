//! `pharos maintenance schedule|list|cancel`: maintenance windows of a running pharos, through
//! its admin API with an API token from `PHAROS_TOKEN` or a file.

use crate::api_client::{act, send, time, token};
use crate::cli::Access;
use std::process::ExitCode;

/// A window as asked for on the command line.
pub(crate) struct Schedule {
    pub(crate) title: String,
    pub(crate) components: Vec<String>,
    pub(crate) start: String,
    pub(crate) duration: String,
    pub(crate) every: Option<String>,
    pub(crate) message: Option<String>,
}

pub(crate) async fn schedule(access: &Access, window: Schedule) -> ExitCode {
    let start = match time("start", Some(&window.start)) {
        Ok(Some(start)) => start,
        Ok(None) => {
            eprintln!("error: --start is needed");
            return crate::exit::code(crate::exit::USAGE);
        }
        Err(code) => return code,
    };
    let body = serde_json::json!({
        "title": window.title,
        "components": window.components,
        "start": start,
        "duration": window.duration,
        "every": window.every,
        "message": window.message,
    });
    act(access, "api/v1/admin/maintenance", body, |answer| {
        format!(
            "scheduled {}: {} (next {} to {})",
            answer["id"].as_str().unwrap_or(""),
            answer["title"].as_str().unwrap_or(""),
            answer["next"]["start"].as_str().unwrap_or("?"),
            answer["next"]["end"].as_str().unwrap_or("?"),
        )
    })
    .await
}

pub(crate) async fn cancel(access: &Access, id: &str) -> ExitCode {
    act(
        access,
        &format!("api/v1/admin/maintenance/{id}/cancel"),
        serde_json::json!({}),
        |_| format!("cancelled {id}"),
    )
    .await
}

pub(crate) async fn list(access: &Access) -> ExitCode {
    let token = match token(access) {
        Ok(token) => token,
        Err(code) => return code,
    };
    let Ok(url) = access.server.join("api/v1/admin/maintenance") else {
        eprintln!(
            "error: `{}` cannot be used as the server's address",
            access.server
        );
        return crate::exit::code(crate::exit::USAGE);
    };
    let answer = match send(hyper::Method::GET, &url, Some(&token), String::new()).await {
        Ok((200, answer)) => answer,
        Ok((code, answer)) => {
            eprintln!("error: the server refused ({code}): {}", answer.trim());
            return if code == 401 || code == 403 {
                crate::exit::code(crate::exit::NO_PERMISSION)
            } else {
                ExitCode::FAILURE
            };
        }
        Err(error) => {
            eprintln!("error: cannot reach {}: {error}", access.server);
            return crate::exit::code(crate::exit::UNAVAILABLE);
        }
    };
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap_or_default();
    if access.json {
        println!("{answer:#}");
        return ExitCode::SUCCESS;
    }
    let windows = answer["maintenance"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "Id",
        "Title",
        "Components",
        "Next",
        "Until",
        "Repeats",
        "From",
    ]);
    for window in &windows {
        let text = |value: &serde_json::Value| value.as_str().unwrap_or("—").to_owned();
        let components: Vec<&str> = window["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str())
            .collect();
        table.add_row([
            text(&window["id"]),
            text(&window["title"]),
            components.join(", "),
            text(&window["next"]["start"]),
            text(&window["next"]["end"]),
            window["every_seconds"].as_i64().map_or_else(
                || "once".to_owned(),
                |seconds| {
                    humantime::format_duration(
                        std::time::Duration::from_secs(seconds.max(0) as u64),
                    )
                    .to_string()
                },
            ),
            text(&window["source"]),
        ]);
    }
    println!("{table}");
    println!("{} maintenance windows", windows.len());
    ExitCode::SUCCESS
}
