//! The HTTP(S) probe: one request (following redirects), timed phase by phase (DNS, connect,
//! TLS, first byte), checked for status, body text and pattern.

use crate::clock::PhaseClock;
use crate::net::{describe_io_error, resolve_and_connect, Stream};
use crate::tls_setup::{describe_tls_error, TlsSetup};
use crate::{SetupError, Verdict};
use bytes::Bytes;
use http::header::{CONNECTION, HOST, LOCATION, USER_AGENT};
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use pharos_config::{HttpSpec, StatusRange};
use regex::Regex;
use rustls::pki_types::ServerName;
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use url::Url;

/// Bodies are read up to this size; checks look at this much of a larger body.
const BODY_LIMIT: usize = 1024 * 1024;

pub(crate) struct HttpProbe {
    url: Url,
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    accept_status: Vec<StatusRange>,
    body_contains: Option<String>,
    body_regex: Option<Regex>,
    max_redirects: u32,
    tls: TlsSetup,
}

/// Aborts the connection task when the probe ends, even by timeout, so nothing lingers.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl HttpProbe {
    pub(crate) fn new(spec: &HttpSpec) -> Result<Self, SetupError> {
        let headers = spec
            .headers
            .iter()
            .filter_map(|header| {
                let name = HeaderName::from_bytes(header.name.as_bytes()).ok()?;
                let value = HeaderValue::from_str(header.value.expose_secret()).ok()?;
                Some((name, value))
            })
            .collect();
        Ok(Self {
            url: spec.url.clone(),
            method: Method::from_bytes(spec.method.as_bytes()).unwrap_or(Method::GET),
            headers,
            body: Bytes::from(spec.body.clone().unwrap_or_default()),
            accept_status: spec.accept_status.clone(),
            body_contains: spec.body_contains.clone(),
            body_regex: spec.body_regex.clone(),
            max_redirects: if spec.follow_redirects {
                spec.max_redirects
            } else {
                0
            },
            tls: TlsSetup::new(
                spec.ca_file.as_deref(),
                &spec.pin_sha256,
                spec.verify_tls,
                &[b"http/1.1"],
            )?,
        })
    }

    pub(crate) async fn run(&self, clock: &mut PhaseClock) -> Verdict {
        let mut url = self.url.clone();
        let mut method = self.method.clone();
        let mut redirects = 0;
        // Configured headers (often credentials) go only to the configured origin: once a
        // redirect leaves it, they are no longer sent, as browsers and curl do.
        let mut same_origin = true;
        loop {
            let response = match self.fetch(clock, &url, &method, same_origin).await {
                Ok(response) => response,
                Err(reason) => return Verdict::Down(reason),
            };
            let is_redirect = matches!(response.status, 301 | 302 | 303 | 307 | 308);
            if is_redirect && redirects < self.max_redirects {
                let Some(location) = response
                    .location
                    .as_deref()
                    .and_then(|location| url.join(location).ok())
                else {
                    return Verdict::Down(format!(
                        "redirect {} without a usable Location",
                        response.status
                    ));
                };
                if !matches!(location.scheme(), "http" | "https") {
                    return Verdict::Down(format!(
                        "redirect to unsupported scheme: {}",
                        location.scheme()
                    ));
                }
                if response.status == 303 {
                    method = Method::GET;
                }
                same_origin &= location.origin() == self.url.origin();
                url = location;
                redirects += 1;
                continue;
            }
            return self.check(&response);
        }
    }

    fn check(&self, response: &Response) -> Verdict {
        if !self
            .accept_status
            .iter()
            .any(|range| range.contains(response.status))
        {
            let expected: Vec<String> =
                self.accept_status.iter().map(ToString::to_string).collect();
            return Verdict::Down(format!(
                "expected {}, got {}",
                expected.join(" or "),
                response.status
            ));
        }
        if self.body_contains.is_none() && self.body_regex.is_none() {
            return Verdict::Up;
        }
        let body = String::from_utf8_lossy(&response.body);
        if let Some(needle) = &self.body_contains {
            if !body.contains(needle.as_str()) {
                return Verdict::Down(format!("body does not contain `{needle}`"));
            }
        }
        if let Some(pattern) = &self.body_regex {
            if !pattern.is_match(&body) {
                return Verdict::Down(format!("body does not match /{}/", pattern.as_str()));
            }
        }
        Verdict::Up
    }

    async fn fetch(
        &self,
        clock: &mut PhaseClock,
        url: &Url,
        method: &Method,
        with_headers: bool,
    ) -> Result<Response, String> {
        let host = url
            .host_str()
            .ok_or("URL without a host")?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port_or_known_default().ok_or("URL without a port")?;
        let tcp = resolve_and_connect(clock, &host, port).await?;
        let stream: Box<dyn Stream> = if url.scheme() == "https" {
            Box::new(tls_connect(clock, &self.tls, tcp, &host).await?)
        } else {
            Box::new(tcp)
        };
        let mut request = Request::builder()
            .method(method.clone())
            .uri(&url[url::Position::BeforePath..url::Position::AfterQuery])
            .header(HOST, host_header(url))
            .header(USER_AGENT, concat!("pharos/", env!("CARGO_PKG_VERSION")))
            .header(CONNECTION, "close");
        if with_headers {
            for (name, value) in &self.headers {
                request = request.header(name, value);
            }
        }
        let body = if method == Method::GET || method == Method::HEAD {
            Bytes::new()
        } else {
            self.body.clone()
        };
        let request = request
            .body(Full::new(body))
            .map_err(|error| format!("invalid request: {error}"))?;
        exchange(clock, stream, request).await
    }
}

impl HttpProbe {
    /// A watch session: one keep-alive connection to the URL's server, asked for the URL's
    /// head every `watch::KEEPALIVE`.
    pub(crate) async fn hold(
        &self,
        timeout: std::time::Duration,
        opened: &(dyn Fn() + Send + Sync),
    ) -> crate::watch::WatchEnd {
        use crate::watch::{within, WatchEnd};
        let url = &self.url;
        let Some(host) = url.host_str() else {
            return WatchEnd::CouldNotOpen("URL without a host".into());
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let Some(port) = url.port_or_known_default() else {
            return WatchEnd::CouldNotOpen("URL without a port".into());
        };
        let connect = async {
            let mut clock = PhaseClock::start();
            let tcp = resolve_and_connect(&mut clock, &host, port).await?;
            let stream: Box<dyn Stream> = if url.scheme() == "https" {
                Box::new(tls_connect(&mut clock, &self.tls, tcp, &host).await?)
            } else {
                Box::new(tcp)
            };
            Ok(stream)
        };
        let stream = match within(timeout, connect).await {
            Ok(stream) => stream,
            Err(reason) => return WatchEnd::CouldNotOpen(reason),
        };
        let request = || {
            let mut request = Request::builder()
                .method(Method::HEAD)
                .uri(&url[url::Position::BeforePath..url::Position::AfterQuery])
                .header(HOST, host_header(url))
                .header(USER_AGENT, concat!("pharos/", env!("CARGO_PKG_VERSION")))
                .header(CONNECTION, "keep-alive");
            for (name, value) in &self.headers {
                request = request.header(name, value);
            }
            request.body(Full::new(Bytes::new())).ok()
        };
        crate::watch::hold_http(stream, request, timeout, opened).await
    }
}

/// The TLS handshake (timed as `tls`), with failures explained in plain words.
pub(crate) async fn tls_connect(
    clock: &mut PhaseClock,
    tls: &TlsSetup,
    tcp: tokio::net::TcpStream,
    host: &str,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| format!("`{host}` is not a valid TLS server name"))?;
    let (config, verifier) = tls.connection_config();
    clock
        .time("tls", TlsConnector::from(config).connect(name, tcp))
        .await
        .map_err(|error| describe_tls_error(&error, verifier.presented().as_ref(), host))
}

/// One request on a fresh connection: the handshake, the answer's head (timed as
/// `first_byte`) and up to `BODY_LIMIT` of its body (timed as `body`).
pub(crate) async fn exchange(
    clock: &mut PhaseClock,
    stream: Box<dyn Stream>,
    request: Request<Full<Bytes>>,
) -> Result<Response, String> {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("HTTP handshake failed: {error}"))?;
    let _connection = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = clock
        .time("first_byte", sender.send_request(request))
        .await
        .map_err(|error| describe_hyper_error(&error))?;
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut body_stream = response.into_body();
    let body = clock
        .time("body", async {
            let mut body = Vec::new();
            while body.len() < BODY_LIMIT {
                match body_stream.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            body.extend_from_slice(data);
                        }
                    }
                    Some(Err(error)) => {
                        return Err(format!(
                            "reading the body failed: {}",
                            describe_hyper_error(&error)
                        ))
                    }
                    None => break,
                }
            }
            body.truncate(BODY_LIMIT);
            Ok(body)
        })
        .await?;
    Ok(Response {
        status,
        location,
        body,
    })
}

fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn describe_hyper_error(error: &hyper::Error) -> String {
    use std::error::Error as _;
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return describe_io_error(io);
        }
        source = cause.source();
    }
    if error.is_incomplete_message() {
        "connection closed before a complete response".to_owned()
    } else if error.is_parse() {
        format!("malformed HTTP response: {error}")
    } else {
        format!("HTTP error: {error}")
    }
}
