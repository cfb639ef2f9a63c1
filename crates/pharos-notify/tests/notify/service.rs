//! A service on 127.0.0.1 that answers as the notification services do: it records every
//! request (method, path, headers, body) and answers as told: a status with a body and
//! headers, or no answer at all (a hung connection).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One request as the service saw it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) method: Method,
    pub(crate) path_and_query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// How the service answers the next request.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    Status {
        status: u16,
        body: String,
        headers: Vec<(&'static str, String)>,
    },
    /// Accept the request and never answer.
    Hang,
}

impl Reply {
    pub(crate) fn status(status: u16, body: &str) -> Self {
        Reply::Status {
            status,
            body: body.to_owned(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn with_header(self, name: &'static str, value: &str) -> Self {
        match self {
            Reply::Status {
                status,
                body,
                mut headers,
            } => {
                headers.push((name, value.to_owned()));
                Reply::Status {
                    status,
                    body,
                    headers,
                }
            }
            Reply::Hang => Reply::Hang,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Service {
    pub(crate) address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// The answer to every request.
    default: Arc<Mutex<Reply>>,
}

impl Service {
    /// A service answering `default` to every request not scripted otherwise.
    pub(crate) async fn start(default: Reply) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let service = Self {
            address: listener.local_addr().unwrap(),
            seen: Arc::default(),
            default: Arc::new(Mutex::new(default)),
        };
        let app = Router::new().fallback(answer).with_state(service.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        service
    }

    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Answers every later request with `reply`.
    pub(crate) fn answer_with(&self, reply: Reply) {
        *self.default.lock().unwrap() = reply;
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(
    State(service): State<Service>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    service.seen.lock().unwrap().push(Seen {
        method,
        path_and_query: uri
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default(),
        headers,
        body,
    });
    let reply = service.default.lock().unwrap().clone();
    match reply {
        Reply::Hang => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        Reply::Status {
            status,
            body,
            headers,
        } => {
            let mut response = (StatusCode::from_u16(status).unwrap(), body).into_response();
            for (name, value) in headers {
                response.headers_mut().insert(name, value.parse().unwrap());
            }
            response
        }
    }
}

/// An event with no component (so no sequence holds it back): pharos could not run a check.
pub(crate) fn degraded(monitor: &str) -> pharos_core::Event {
    use pharos_core::{MonitorId, MonitorState, ProbeStatus, SelfFault};
    pharos_core::Event::PharosDegraded(SelfFault {
        reason: "out of file descriptors".into(),
        monitor: MonitorState {
            id: MonitorId::new(monitor),
            name: monitor.into(),
            status: ProbeStatus::Unknown,
            reason: None,
            region: "local".into(),
        },
    })
}
