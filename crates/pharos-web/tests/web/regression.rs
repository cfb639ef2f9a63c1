//! Regression tests, each named after the bug it keeps fixed.

use crate::support::*;
use axum::body::Body;
use axum::http::header::{AUTHORIZATION, RETRY_AFTER};
use axum::http::{Request, StatusCode};
use std::time::Duration;

fn metrics(token: &str) -> Request<Body> {
    get("/metrics")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// Before: others' failures from one address (a shared office NAT, say) locked a valid token
/// out too; and the 429 carried no `Retry-After`.
#[tokio::test]
async fn a_valid_token_is_never_locked_out_by_others_failures() {
    let site = site(true, "").await;
    let mut limited = None;
    for _ in 0..40 {
        let (status, headers, _) =
            call(&site.app, peer(7), metrics("guess-guess-guess-guess")).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(headers);
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let headers = limited.expect("guessing is limited");
    let retry: u64 = headers[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let (status, _, body) = call(&site.app, peer(7), metrics(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

/// Before: behind a reverse proxy every client shared the proxy's budget.
#[tokio::test]
async fn clients_behind_a_trusted_proxy_have_budgets_of_their_own() {
    let site = site(true, "\"192.0.2.0/24\"").await;
    let from = |client: &str| {
        get("/metrics")
            .header(AUTHORIZATION, "Bearer guess-guess-guess-guess")
            .header("x-forwarded-for", format!("{client}, 192.0.2.9"))
            .body(Body::empty())
            .unwrap()
    };
    let mut limited = false;
    for _ in 0..40 {
        let (status, _, _) = call(&site.app, peer(1), from("203.0.113.5")).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "one forwarded client is limited");
    let (status, _, _) = call(&site.app, peer(1), from("203.0.113.6")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "another client is not");
    // From an untrusted peer, the header is not believed.
    let outside = std::net::SocketAddr::from(([198, 51, 100, 1], 40000));
    let (status, _, _) = call(&site.app, outside, from("203.0.113.5")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Before: an admin request body (up to 2 MB) was read before the token was checked, so
/// unauthenticated connections could make pharos buffer 617 MB.
#[tokio::test]
async fn an_admin_body_is_not_read_before_the_token_is_checked() {
    let site = site(true, "").await;
    // A body that never ends: reading it first would never answer.
    let endless = futures_stream();
    let request = Request::post("/api/v1/admin/incidents/1/updates")
        .header(AUTHORIZATION, "Bearer wrong-token-0123456789")
        .body(Body::from_stream(endless))
        .unwrap();
    let answered =
        tokio::time::timeout(Duration::from_secs(5), call(&site.app, peer(3), request)).await;
    let (status, _, _) = answered.expect("answered without reading the body");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// One chunk, then nothing, forever.
fn futures_stream() -> impl futures_core::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send
{
    struct Endless(bool);
    impl futures_core::Stream for Endless {
        type Item = Result<bytes::Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            if self.0 {
                std::task::Poll::Pending
            } else {
                self.0 = true;
                std::task::Poll::Ready(Some(Ok(bytes::Bytes::from_static(b"{\"status\": "))))
            }
        }
    }
    Endless(false)
}
