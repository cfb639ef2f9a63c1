//! Watch connections (`watch = true`): a session held open against a monitor's target, so the
//! moment the server goes away (a reset, an end of stream, no answer to a keep-alive) is
//! noticed at once instead of at the next scheduled check. A watch says nothing about health
//! by itself: whoever holds it asks for a check when it is lost. Sessions: a TCP connection
//! read until it ends; an HTTP/1.1 keep-alive connection with a HEAD request every
//! `KEEPALIVE`; SMTP after EHLO with a NOOP every `KEEPALIVE`; IMAP logged in and IDLE (or
//! NOOP when the server has no IDLE).

use crate::clock::PhaseClock;
use crate::mail::imap::ImapSession;
use crate::mail::smtp::SmtpSession;
use crate::net::{describe_io_error, resolve_and_connect, Stream};
use crate::{PreparedProbe, Prober};
use secrecy::ExposeSecret;
use std::future::Future;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How often a held session is asked whether the server is still there.
pub const KEEPALIVE: Duration = Duration::from_secs(10);

/// SMTP servers count NOOPs as junk after a while: the session is ended cleanly and opened
/// again after this many.
const SMTP_NOOPS_PER_SESSION: u32 = 30;

/// How a watch session ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEnd {
    /// It could not be set up (the target may be down: the schedule will tell).
    CouldNotOpen(String),
    /// It was up and the server went away: worth a check at once.
    Lost(String),
    /// It ended in good order (the server announced it, or the watch ends a long session).
    Closed,
}

impl Prober {
    /// Whether this monitor's kind of check can be watched.
    pub fn can_watch(&self) -> bool {
        matches!(
            self.kind,
            PreparedProbe::Tcp(_)
                | PreparedProbe::Http(_)
                | PreparedProbe::Smtp(_)
                | PreparedProbe::Imap(_)
        )
    }

    /// Opens a watch session (within the monitor's timeout) and holds it until it ends;
    /// `opened` is called once it is up.
    pub async fn hold(&self, opened: &(dyn Fn() + Send + Sync)) -> WatchEnd {
        let timeout = self.timeout;
        match &self.kind {
            PreparedProbe::Tcp(probe) => {
                let mut clock = PhaseClock::start();
                let connect = resolve_and_connect(&mut clock, &probe.host, probe.port);
                let mut stream = match within(timeout, connect).await {
                    Ok(stream) => stream,
                    Err(reason) => return WatchEnd::CouldNotOpen(reason),
                };
                opened();
                let mut buffer = [0u8; 512];
                loop {
                    match stream.read(&mut buffer).await {
                        Ok(0) => return WatchEnd::Lost("the server closed the connection".into()),
                        Ok(_) => continue,
                        Err(error) => return WatchEnd::Lost(describe_io_error(&error)),
                    }
                }
            }
            PreparedProbe::Http(probe) => self.redacted(probe.hold(timeout, opened).await),
            PreparedProbe::Smtp(probe) => {
                let mut clock = PhaseClock::start();
                let (spec, tls) = probe.parts();
                let open = SmtpSession::open(&mut clock, &spec.endpoint, tls, &spec.helo);
                let mut session = match within(timeout, async {
                    open.await.map_err(|error| error.to_string())
                })
                .await
                {
                    Ok(session) => session,
                    Err(reason) => return WatchEnd::CouldNotOpen(reason),
                };
                opened();
                for _ in 0..SMTP_NOOPS_PER_SESSION {
                    // Anything the server says unasked (a 421 before it hangs up) or the end
                    // of the stream ends the watch at once.
                    tokio::select! {
                        said = session.stream.read_line() => {
                            return WatchEnd::Lost(match said {
                                Ok(line) => format!("the server said `{}` and hung up", crate::mail::stream::quote(&line)),
                                Err(error) => error.to_string(),
                            });
                        }
                        () = tokio::time::sleep(KEEPALIVE) => {}
                    }
                    match within(timeout, async {
                        session
                            .command("NOOP")
                            .await
                            .map_err(|error| error.to_string())
                    })
                    .await
                    {
                        Ok(reply) if reply.code == 250 => {}
                        Ok(reply) => {
                            return WatchEnd::Lost(format!("NOOP answered {}", reply.code))
                        }
                        Err(reason) => return WatchEnd::Lost(format!("NOOP: {reason}")),
                    }
                }
                session.quit().await;
                WatchEnd::Closed
            }
            PreparedProbe::Imap(probe) => {
                let (spec, tls) = probe.parts();
                let endpoint = &spec.endpoint;
                let open = async {
                    let mut clock = PhaseClock::start();
                    let mut session = ImapSession::open(&mut clock, endpoint, tls)
                        .await
                        .map_err(|error| error.to_string())?;
                    if let (Some(username), Some(password)) =
                        (&endpoint.username, &endpoint.password)
                    {
                        session
                            .login(username, password.expose_secret())
                            .await
                            .map_err(|error| error.to_string())?;
                        session
                            .select(&spec.mailbox)
                            .await
                            .map_err(|error| error.to_string())?;
                    }
                    Ok::<_, String>(session)
                };
                let mut session = match within(timeout, open).await {
                    Ok(session) => session,
                    Err(reason) => return self.redacted(WatchEnd::CouldNotOpen(reason)),
                };
                opened();
                let idle = session.has_capability("IDLE") && endpoint.username.is_some();
                loop {
                    let kept = if idle {
                        // Servers end IDLE after 30 minutes; it is renewed before.
                        session.idle(Duration::from_secs(25 * 60)).await
                    } else {
                        tokio::time::sleep(KEEPALIVE).await;
                        match within(timeout, async {
                            session
                                .command("NOOP")
                                .await
                                .map_err(|error| error.to_string())
                        })
                        .await
                        {
                            Ok(_) => Ok(()),
                            Err(reason) => return self.redacted(WatchEnd::Lost(reason)),
                        }
                    };
                    if let Err(error) = kept {
                        return self.redacted(WatchEnd::Lost(error.to_string()));
                    }
                }
            }
            _ => WatchEnd::CouldNotOpen("this kind of check cannot be watched".into()),
        }
    }

    fn redacted(&self, end: WatchEnd) -> WatchEnd {
        match end {
            WatchEnd::CouldNotOpen(reason) => WatchEnd::CouldNotOpen(self.redactor.apply(&reason)),
            WatchEnd::Lost(reason) => WatchEnd::Lost(self.redactor.apply(&reason)),
            WatchEnd::Closed => WatchEnd::Closed,
        }
    }
}

/// `work` within `timeout`, a timeout being one more reason.
pub(crate) async fn within<T>(
    timeout: Duration,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "timed out after {}",
            crate::net::describe_duration(timeout)
        )),
    }
}

/// An HTTP/1.1 connection kept alive with a HEAD request every `KEEPALIVE`.
pub(crate) async fn hold_http(
    stream: Box<dyn Stream>,
    request: impl Fn() -> Option<http::Request<http_body_util::Full<bytes::Bytes>>>,
    timeout: Duration,
    opened: &(dyn Fn() + Send + Sync),
) -> WatchEnd {
    let handshake = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream));
    let (mut sender, connection) = match within(timeout, async {
        handshake
            .await
            .map_err(|error| format!("HTTP handshake failed: {error}"))
    })
    .await
    {
        Ok(pair) => pair,
        Err(reason) => return WatchEnd::CouldNotOpen(reason),
    };
    let mut connection =
        tokio::spawn(async move { connection.await.map_err(|error| error.to_string()) });
    struct Abort(tokio::task::AbortHandle);
    impl Drop for Abort {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let _abort = Abort(connection.abort_handle());
    let mut first = true;
    loop {
        let Some(request) = request() else {
            return WatchEnd::CouldNotOpen("invalid request".into());
        };
        let answer = within(timeout, async {
            sender
                .send_request(request)
                .await
                .map_err(|error| format!("no answer: {error}"))
        })
        .await;
        let response = match answer {
            Ok(response) => response,
            Err(reason) if first => return WatchEnd::CouldNotOpen(reason),
            Err(reason) => return WatchEnd::Lost(reason),
        };
        if first {
            opened();
            first = false;
        }
        let closing = response
            .headers()
            .get(http::header::CONNECTION)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.eq_ignore_ascii_case("close"));
        if closing {
            return WatchEnd::Closed;
        }
        tokio::select! {
            () = tokio::time::sleep(KEEPALIVE) => {}
            ended = &mut connection => {
                return WatchEnd::Lost(match ended {
                    Ok(Ok(())) => "the server closed the connection".to_owned(),
                    Ok(Err(error)) => error,
                    Err(_) => "the connection ended".to_owned(),
                });
            }
        }
    }
}
