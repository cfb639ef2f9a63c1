//! One report to the server and its answer (`pharos_wire`), over the shared HTTPS client.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use pharos_wire::{AgentReport, Refusal, ServerReply};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// How long one exchange may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(15);

/// The largest answer read (an assignment is a configuration document).
const MAX_REPLY: usize = 16 << 20;

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The server could not be reached or did not answer in time: try again.
    #[error("cannot reach the server: {0}")]
    Unreachable(String),
    /// The server refused the token: try again slowly (it may be made anew).
    #[error("the server refuses this agent: {0}")]
    Refused(String),
    /// The server speaks another protocol version: nothing to do but upgrade.
    #[error("{0}")]
    Incompatible(String),
    /// Any other refusal (a bad report, the server stopping).
    #[error("the server did not take the report ({status}): {error}")]
    Failed { status: u16, error: String },
}

/// Reports to one of the server's replicas: the same one while it answers; after a failure
/// (unreachable, or a replica that does not lead), the next one.
pub struct Exchanger {
    client: pharos_probe::HttpsClient,
    urls: Vec<url::Url>,
    current: std::sync::atomic::AtomicUsize,
    token: SecretString,
}

impl Exchanger {
    pub fn new(server: &url::Url, token: SecretString) -> Result<Self, String> {
        Self::with_replicas(std::slice::from_ref(server), token)
    }

    /// Reports to whichever of `servers` (replicas of one pharos) leads.
    pub fn with_replicas(servers: &[url::Url], token: SecretString) -> Result<Self, String> {
        let urls = servers
            .iter()
            .map(|server| {
                server
                    .join(pharos_wire::EXCHANGE_PATH.trim_start_matches('/'))
                    .map_err(|error| {
                        format!("`{server}` cannot be used as the server's address: {error}")
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if urls.is_empty() {
            return Err("no server to report to".to_owned());
        }
        Ok(Self {
            client: pharos_probe::https_client(),
            urls,
            current: std::sync::atomic::AtomicUsize::new(0),
            token,
        })
    }

    pub async fn send(&self, report: &AgentReport) -> Result<ServerReply, ExchangeError> {
        use std::sync::atomic::Ordering;
        let index = self.current.load(Ordering::Relaxed) % self.urls.len();
        let sent = self.send_to(&self.urls[index], report).await;
        let move_on = matches!(
            &sent,
            Err(ExchangeError::Unreachable(_)) | Err(ExchangeError::Failed { status: 503, .. })
        );
        if move_on && self.urls.len() > 1 {
            self.current
                .store((index + 1) % self.urls.len(), Ordering::Relaxed);
        }
        sent
    }

    async fn send_to(
        &self,
        url: &url::Url,
        report: &AgentReport,
    ) -> Result<ServerReply, ExchangeError> {
        let body = serde_json::to_vec(report)
            .map_err(|error| ExchangeError::Unreachable(error.to_string()))?;
        let request = http::Request::post(url.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token.expose_secret().trim()),
            )
            .header(
                http::header::USER_AGENT,
                concat!("pharos-agent/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| ExchangeError::Unreachable(error.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| ExchangeError::Unreachable(describe(&error)))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_REPLY)
                .collect()
                .await
                .map_err(|error| ExchangeError::Unreachable(error.to_string()))?
                .to_bytes();
            Ok::<_, ExchangeError>((status, body))
        };
        let (status, body) = tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                ExchangeError::Unreachable(format!(
                    "no answer within {}s",
                    EXCHANGE_TIMEOUT.as_secs()
                ))
            })??;
        if status == 200 {
            let reply: ServerReply =
                serde_json::from_slice(&body).map_err(|error| ExchangeError::Failed {
                    status,
                    error: format!("unreadable answer: {error}"),
                })?;
            pharos_wire::check_version(reply.protocol).map_err(ExchangeError::Incompatible)?;
            return Ok(reply);
        }
        let error = serde_json::from_slice::<Refusal>(&body)
            .map(|refusal| refusal.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(300).collect());
        Err(match status {
            401 | 403 => ExchangeError::Refused(error),
            409 => ExchangeError::Incompatible(error),
            // A proxy or a server starting up: try again.
            502..=504 => ExchangeError::Unreachable(format!("{status}: {error}")),
            _ => ExchangeError::Failed { status, error },
        })
    }
}

fn describe(error: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error as _;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
