//! `pharos incident`: operator actions on a running pharos, through its admin API.

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

async fn post(url: &url::Url, token: &str, body: String) -> Result<(u16, String), String> {
    let client = pharos_notify::https_client();
    let request = hyper::Request::post(url.as_str())
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
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
