//! Caching, compression, not found, and the admin API's answers to bad requests.

use crate::support::*;
use axum::body::Body;
use axum::http::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, ETAG, IF_NONE_MATCH};
use axum::http::{Request, StatusCode};

#[tokio::test]
async fn pages_have_etags_answer_304_and_come_gzipped_on_request() {
    let site = site(true, "").await;
    let (status, headers, body) =
        call(&site.app, peer(1), get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("<!DOCTYPE html>"));
    let etag = headers[ETAG].to_str().unwrap().to_owned();

    let (status, _, body) = call(
        &site.app,
        peer(1),
        get("/")
            .header(IF_NONE_MATCH, &etag)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());

    let (status, headers, body) = call(
        &site.app,
        peer(1),
        get("/")
            .header(ACCEPT_ENCODING, "br, gzip")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CONTENT_ENCODING], "gzip");
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_methods_405() {
    let site = site(true, "").await;
    let (status, _, body) = call(
        &site.app,
        peer(1),
        get("/no/such/page").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.is_empty(), "a page that says so");
    let (status, _, _) = call(
        &site.app,
        peer(1),
        Request::delete("/").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

fn post_update(id: &str, token: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post(format!("/api/v1/admin/incidents/{id}/updates"))
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header(AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn the_admin_api_answers_bad_requests_with_4xx_and_a_message() {
    let site = site(true, "").await;
    let good = r#"{"status": "identified", "message": "A router failed."}"#;
    for (request, expected, says) in [
        (
            post_update("1", None, good),
            StatusCode::UNAUTHORIZED,
            "missing bearer token",
        ),
        (
            post_update("1", Some("wrong-token-0123456789"), good),
            StatusCode::UNAUTHORIZED,
            "wrong bearer token",
        ),
        (
            post_update("x", Some(TOKEN), good),
            StatusCode::BAD_REQUEST,
            "incident id must be a number",
        ),
        (
            post_update("1", Some(TOKEN), "{not json"),
            StatusCode::BAD_REQUEST,
            "the body must be JSON",
        ),
        (
            post_update(
                "1",
                Some(TOKEN),
                r#"{"status": "resolved", "message": "x"}"#,
            ),
            StatusCode::BAD_REQUEST,
            "resolve",
        ),
        (
            post_update("1", Some(TOKEN), good),
            StatusCode::NOT_FOUND,
            "no open incident",
        ),
    ] {
        let (status, _, body) = call(&site.app, peer(1), request).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, expected, "{body}");
        assert!(
            body.to_lowercase().contains(&says.to_lowercase()),
            "{expected}: {body}"
        );
    }

    // Nothing to reload without a configuration file (the demo): 409.
    let reload = Request::post("/api/v1/admin/reload")
        .header(AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&site.app, peer(1), reload).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "{}",
        String::from_utf8_lossy(&body)
    );

    let disabled = crate::support::site(false, "").await;
    let (status, _, body) = call(&disabled.app, peer(1), post_update("1", Some(TOKEN), good)).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "{}",
        String::from_utf8_lossy(&body)
    );
}
