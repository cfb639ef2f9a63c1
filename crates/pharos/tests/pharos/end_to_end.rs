//! Stopping a real target: detection time, the signed webhook, the page and the feeds.

use crate::support::*;
use pharos_demo::WebhookReceiver;
use std::time::{Duration, Instant};

#[tokio::test]
async fn stopping_a_target_opens_an_incident_notifies_and_shows_it_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut target = TcpTarget::start().await;
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let config = write_config(dir.path(), target.address, &receiver.url());
    let pharos = Pharos::start(&config, dir.path());

    eventually(Duration::from_secs(10), "a first good check", || async {
        let components = pharos.get_json("/api/v1/components").await;
        (components[0]["monitors"][0]["last_check"]["status"] == "up").then_some(())
    })
    .await;

    target.stop().await;
    let stopped = Instant::now();
    let incident = eventually(Duration::from_secs(10), "an incident", || async {
        let incidents = pharos.get_json("/api/v1/incidents").await;
        incidents["incidents"]
            .as_array()
            .and_then(|list| list.first().cloned())
    })
    .await;
    let detected_after = stopped.elapsed();
    // At worst the failure is seen at the next run (one 2 s interval), then confirmed after
    // the 500 ms confirm delay; allow a second for the probes and the render.
    assert!(
        detected_after < Duration::from_millis(2000 + 500 + 1000),
        "detection took {detected_after:?}"
    );
    let time_to_detect = incident["time_to_detect_seconds"].as_f64().unwrap();
    assert!(
        (0.5..1.5).contains(&time_to_detect),
        "time to detect {time_to_detect}"
    );
    assert_eq!(incident["status"], "investigating");
    assert_eq!(incident["impact"], "major_outage");
    let id = incident["id"].as_i64().unwrap();

    let opened = eventually(
        Duration::from_secs(10),
        "a verified incident.opened webhook",
        || async {
            receiver
                .received()
                .into_iter()
                .find(|received| received.event == "incident.opened")
        },
    )
    .await;
    assert_eq!(opened.body["data"]["incident"]["id"], id);
    assert_eq!(
        opened.body["data"]["incident"]["url"],
        format!("https://status.example.test/incidents/{id}")
    );
    assert_eq!(receiver.rejected(), 0);

    let (status, page) = pharos.get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("Major system outage"), "{page}");
    assert!(page.contains(&format!("/incidents/{id}")));
    assert!(
        page.contains("Mail &lt;script&gt;alert(1)&lt;/script&gt; submission"),
        "user text must be escaped"
    );
    assert!(
        !page.contains("<script>alert(1)"),
        "user text must be escaped"
    );
    assert!(page.contains("Test status &lt;b&gt;&amp;amp;&lt;/b&gt;"));
    let (status, incident_page) = pharos.get(&format!("/incidents/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        incident_page.contains("First failed check: Submission port: connection refused"),
        "{incident_page}"
    );
    for feed in ["/feed.atom", "/feed.rss"] {
        let (status, body) = pharos.get(feed).await;
        assert_eq!(status, 200);
        assert!(
            body.contains(&format!("https://status.example.test/incidents/{id}")),
            "{feed}: {body}"
        );
        assert!(body.contains("[Investigating]"), "{feed}: {body}");
    }

    // An operator posts an update; bad requests say what is wrong.
    let updates = format!("/api/v1/admin/incidents/{id}/updates");
    let good = r#"{"status": "identified", "message": "The <b>submission</b> server crashed; restarting it. Expected back within 10 minutes."}"#;
    assert_eq!(http_post(pharos.address, &updates, None, good).await.0, 401);
    for (body, status, says) in [
        ("not json", 400, "the body must be JSON"),
        (
            r#"{"status": "fixed", "message": "x"}"#,
            400,
            "`status` must be investigating, identified or monitoring, got `fixed`",
        ),
        (
            r#"{"status": "resolved", "message": "x"}"#,
            400,
            "resolve an incident with its resolve step",
        ),
        (
            r#"{"status": "identified", "message": "   "}"#,
            400,
            "`message` must hold 1 to 5000 characters",
        ),
        (
            r#"{"status": "identified", "message": "x", "eta": 5}"#,
            400,
            "unknown field `eta`",
        ),
    ] {
        let (code, answer) = http_post(pharos.address, &updates, Some(ADMIN_TOKEN), body).await;
        assert_eq!(code, status, "{body}: {answer}");
        assert!(answer.contains(says), "{body}: {answer}");
    }
    let (code, answer) = http_post(
        pharos.address,
        "/api/v1/admin/incidents/999/updates",
        Some(ADMIN_TOKEN),
        good,
    )
    .await;
    assert_eq!(
        (code, answer.contains("there is no open incident 999")),
        (404, true),
        "{answer}"
    );
    let (code, answer) = http_post(pharos.address, &updates, Some(ADMIN_TOKEN), good).await;
    assert_eq!(code, 201, "{answer}");
    let posted = eventually(
        Duration::from_secs(10),
        "a verified incident.updated webhook",
        || async {
            receiver
                .received()
                .into_iter()
                .find(|received| received.event == "incident.updated")
        },
    )
    .await;
    assert_eq!(posted.body["data"]["incident"]["status"], "identified");
    assert_eq!(
        posted.body["data"]["incident"]["latest_update"]["automatic"],
        false
    );
    let page = eventually(Duration::from_secs(5), "the update on the page", || async {
        let (_, page) = pharos.get(&format!("/incidents/{id}")).await;
        page.contains("Expected back within 10 minutes")
            .then_some(page)
    })
    .await;
    assert!(
        page.contains("The &lt;b&gt;submission&lt;/b&gt; server crashed"),
        "the message is escaped"
    );
    assert_eq!(
        pharos.get_json(&format!("/api/v1/incidents/{id}")).await["status"],
        "identified"
    );

    // The static export shows the same, from the database alone.
    let exported = dir.path().join("site");
    let output = tokio::process::Command::new(binary())
        .args(["export", "--config"])
        .arg(&config)
        .arg("--out")
        .arg(&exported)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let index = std::fs::read_to_string(exported.join("index.html")).unwrap();
    assert!(
        index.contains("Major system outage") && index.contains(&format!("/incidents/{id}")),
        "{index}"
    );
    assert!(index.contains("Mail &lt;script&gt;alert(1)&lt;/script&gt; submission"));
    assert!(
        std::fs::read_to_string(exported.join(format!("incidents/{id}/index.html")))
            .unwrap()
            .contains("Expected back within 10 minutes")
    );
    for file in [
        "history/index.html",
        "feed.atom",
        "feed.rss",
        "api/v1/incidents.json",
        "api/v1/openapi.json",
        "404.html",
    ] {
        assert!(exported.join(file).is_file(), "{file} was not exported");
    }
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(exported.join("api/v1/status.json")).unwrap())
            .unwrap();
    assert_eq!(status["status"], "major_outage");
    assert!(exported
        .join(format!("api/v1/incidents/{id}.json"))
        .is_file());

    // Prometheus sees it too, with the admin token.
    assert_eq!(http_get(pharos.address, "/metrics", None).await.0, 401);
    let (status, metrics) = http_get(pharos.address, "/metrics", Some(ADMIN_TOKEN)).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains("pharos_monitor_up{monitor=\"svc-tcp\",component=\"svc\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("pharos_component_status{component=\"svc\"} 4"),
        "{metrics}"
    );
    assert!(metrics.contains("pharos_open_incidents 1"), "{metrics}");
    assert!(
        metrics.contains("# TYPE pharos_probes_finished_total counter"),
        "{metrics}"
    );

    target.restart().await;
    eventually(
        Duration::from_secs(10),
        "a verified incident.resolved webhook",
        || async {
            receiver
                .received()
                .into_iter()
                .find(|received| received.event == "incident.resolved")
        },
    )
    .await;
    let resolved = eventually(
        Duration::from_secs(5),
        "the resolved incident on the API",
        || async {
            let incident = pharos.get_json(&format!("/api/v1/incidents/{id}")).await;
            (incident["status"] == "resolved").then_some(incident)
        },
    )
    .await;
    let kinds: Vec<&str> = resolved["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["first_failure", "detected", "update", "update", "recovered"]
    );

    assert!(pharos.terminate().success(), "a clean exit on SIGTERM");
}

#[tokio::test]
async fn pages_answer_with_etags_and_gzip_and_unknown_paths_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, "http://127.0.0.1:9/unused");
    let pharos = Pharos::start(&config, dir.path());

    let head = raw_get(
        pharos.address,
        "GET / HTTP/1.1\r\nHost: pharos\r\nConnection: close\r\nAccept-Encoding: gzip\r\n\r\n",
    )
    .await;
    assert!(head.contains("content-encoding: gzip"), "{head}");
    let mut etag = etag_of(&head);

    // The page may change between two requests (first results arrive, past days are read):
    // a changed page answers 200 with a new ETag, and asking again with that one must give
    // 304. An unchanged page must never answer 200 to its own ETag.
    let mut not_modified = false;
    for _ in 0..20 {
        let head = raw_get(
            pharos.address,
            &format!("GET / HTTP/1.1\r\nHost: pharos\r\nConnection: close\r\nIf-None-Match: {etag}\r\n\r\n"),
        )
        .await;
        if head.starts_with("http/1.1 304") {
            assert_eq!(etag_of(&head), etag, "a 304 names the ETag it confirms");
            not_modified = true;
            break;
        }
        assert!(head.starts_with("http/1.1 200"), "{head}");
        let changed = etag_of(&head);
        assert_ne!(changed, etag, "a 200 to a matching ETag: {head}");
        etag = changed;
    }
    assert!(not_modified, "the page never answered 304 to its own ETag");

    assert_eq!(pharos.get("/nothing-here").await.0, 404);
    assert_eq!(pharos.get("/incidents/999").await.0, 404);
    let (status, health) = pharos.get("/healthz").await;
    assert_eq!(status, 200, "{health}");
    // On PostgreSQL it also says which replica leads.
    assert!(health.starts_with("ok"), "{health}");
    assert_eq!(
        pharos.get("/api/v1/status.json").await.0,
        200,
        "JSON answers are also at <path>.json"
    );
    let (status, openapi) = pharos.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&openapi).unwrap()["openapi"],
        "3.1.0"
    );

    // The admin API wants the token, and says what is wrong with bad input.
    assert_eq!(
        http_get(pharos.address, "/api/v1/admin/deliveries", None)
            .await
            .0,
        401
    );
    assert_eq!(
        http_get(
            pharos.address,
            "/api/v1/admin/deliveries",
            Some("wrong-token-wrong-token")
        )
        .await
        .0,
        401
    );
    let (status, body) = http_get(
        pharos.address,
        "/api/v1/admin/deliveries?limit=zillions",
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("`limit` must be a whole number from 1 to 500"),
        "{body}"
    );
    assert!(
        !pharos.log_text().contains(ADMIN_TOKEN),
        "the admin token must never be logged"
    );
}

/// The lower-cased head of the answer to one raw HTTP/1.1 request.
async fn raw_get(address: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let end = response
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or(response.len());
    String::from_utf8_lossy(&response[..end]).to_lowercase()
}

fn etag_of(head: &str) -> String {
    head.lines()
        .find_map(|line| line.strip_prefix("etag: "))
        .unwrap_or_else(|| panic!("no etag in {head}"))
        .to_owned()
}
