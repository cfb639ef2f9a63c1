//! `pharos incident open|update|resolve` against a running server, with the token from
//! `PHAROS_TOKEN` or a file: each step reaches the API and the channels; a missing token is a
//! usage error naming the variable, a wrong one is refused.

use crate::support::*;
use pharos_demo::WebhookReceiver;
use std::process::{Command, Output};
use std::time::Duration;

fn run(server: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(binary());
    command
        .args(args)
        .args(["--server", server])
        .env_remove("PHAROS_TOKEN")
        .env_remove("PHAROS_ADMIN_TOKEN");
    if let Some(token) = token {
        command.env("PHAROS_TOKEN", token);
    }
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn an_operator_runs_an_incident_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let target = TcpTarget::start().await;
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let config = write_config(dir.path(), target.address, &receiver.url());
    let pharos = Pharos::start(&config, dir.path());
    let server = format!("http://{}/", pharos.address);
    let open_args = [
        "incident",
        "open",
        "--component",
        "svc",
        "--title",
        "Slow delivery to Gmail",
        "--impact",
        "degraded_performance",
        "--message",
        "Mail to Gmail is queueing.",
        "--next-update-by",
        "30m",
        "--json",
    ];

    let missing = run(&server, None, &open_args);
    assert_eq!(missing.status.code(), Some(64), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("PHAROS_TOKEN"),
        "{}",
        stderr(&missing)
    );
    let wrong = run(&server, Some("not-the-token-at-all"), &open_args);
    assert_eq!(wrong.status.code(), Some(77), "{}", stderr(&wrong));
    let malformed = run(
        &server,
        Some(ADMIN_TOKEN),
        &[&open_args[..], &["--affected", "imap"]].concat(),
    );
    assert_eq!(malformed.status.code(), Some(64), "{}", stderr(&malformed));
    assert!(stderr(&malformed).contains("COMPONENT=IMPACT"));
    let unknown = run(
        &server,
        Some(ADMIN_TOKEN),
        &[&open_args[..], &["--affected", "nowhere=partial_outage"]].concat(),
    );
    assert!(
        stderr(&unknown).contains("there is no component `nowhere`"),
        "{}",
        stderr(&unknown)
    );

    let opened = run(&server, Some(ADMIN_TOKEN), &open_args);
    assert!(opened.status.success(), "{}", stderr(&opened));
    let answer: serde_json::Value = serde_json::from_slice(&opened.stdout).unwrap();
    let id = answer["id"].as_i64().expect("the incident as JSON");
    assert!(
        answer["updates"][0]["next_update_by"].is_string(),
        "{answer}"
    );
    let again = run(&server, Some(ADMIN_TOKEN), &open_args);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains(&format!("#{id}")),
        "names the open incident: {}",
        stderr(&again)
    );

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let token_file = token_file.to_str().unwrap();
    let id_text = id.to_string();
    let updated = run(
        &server,
        None,
        &[
            "incident",
            "update",
            &id_text,
            "--status",
            "identified",
            "--message",
            "A throttled relay.",
            "--expected-by",
            "2h",
            "--token-file",
            token_file,
        ],
    );
    assert!(updated.status.success(), "{}", stderr(&updated));
    assert!(String::from_utf8_lossy(&updated.stdout)
        .contains(&format!("posted on incident {id}: identified")));
    let past = run(
        &server,
        Some(ADMIN_TOKEN),
        &[
            "incident",
            "update",
            &id_text,
            "--status",
            "monitoring",
            "--message",
            "x",
            "--expected-by",
            "2020-01-01T00:00:00Z",
        ],
    );
    assert_eq!(past.status.code(), Some(1));
    assert!(
        stderr(&past).contains("later than now"),
        "{}",
        stderr(&past)
    );
    let resolved = run(
        &server,
        Some(ADMIN_TOKEN),
        &["incident", "resolve", &id_text, "--message", "Delivered."],
    );
    assert!(resolved.status.success(), "{}", stderr(&resolved));

    let incident = eventually(
        Duration::from_secs(10),
        "the resolution on the API",
        || async {
            let incident = pharos.get_json(&format!("/api/v1/incidents/{id}")).await;
            (incident["status"] == "resolved").then_some(incident)
        },
    )
    .await;
    let messages: Vec<&str> = incident["updates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|update| update["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "Mail to Gmail is queueing.",
            "A throttled relay.",
            "Delivered."
        ]
    );
    let events = eventually(Duration::from_secs(10), "three deliveries", || async {
        let events: Vec<String> = receiver
            .received()
            .into_iter()
            .filter(|received| received.body["data"]["incident"]["id"] == id)
            .map(|received| received.event)
            .collect();
        (events.len() >= 3).then_some(events)
    })
    .await;
    assert_eq!(
        events,
        ["incident.opened", "incident.updated", "incident.resolved"]
    );
    // A correction, a deletion and a postmortem, through the admin API.
    let (status, body) = http_post(
        pharos.address,
        &format!("/api/v1/admin/incidents/{id}/updates/2/edit"),
        Some(ADMIN_TOKEN),
        r#"{"message": "A throttled relay at our provider."}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_post(
        pharos.address,
        &format!("/api/v1/admin/incidents/{id}/updates/1/delete"),
        Some(ADMIN_TOKEN),
        "",
    )
    .await;
    assert_eq!(status, 409, "the first update stays: {body}");
    let (status, body) = http_post(
        pharos.address,
        &format!("/api/v1/admin/incidents/{id}/postmortem"),
        Some(ADMIN_TOKEN),
        r###"{"text": "## Cause\n\nOur provider throttled one relay. We now spread mail over two."}"###,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let markdown = eventually(
        Duration::from_secs(10),
        "the postmortem document",
        || async {
            let (status, text) = http_get(
                pharos.address,
                &format!("/incidents/{id}/postmortem.md"),
                None,
            )
            .await;
            (status == 200 && text.contains("We now spread mail")).then_some(text)
        },
    )
    .await;
    for expected in [
        "# Incident",
        "- **Time to acknowledge:** 0 s",
        "- **Time to recover:**",
        "A throttled relay at our provider.",
        ", edited ",
        "## Postmortem\n\n## Cause",
    ] {
        assert!(markdown.contains(expected), "{expected:?} in:\n{markdown}");
    }
    let (_, page) = http_get(pharos.address, &format!("/incidents/{id}"), None).await;
    assert!(
        page.contains("· edited") && page.contains("<h2>Cause</h2>"),
        "{page}"
    );
    let audit = pharos.admin_json("/api/v1/admin/audit?limit=3").await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "incident.postmortem",
            "incident.update.edit",
            "incident.resolve"
        ]
    );
    assert_eq!(audit["entries"][1]["detail"], "before: A throttled relay.");

    // A second one, marked a false alarm: it leaves the public API and the page.
    let second = run(
        &server,
        Some(ADMIN_TOKEN),
        &[
            "incident",
            "open",
            "--component",
            "svc",
            "--title",
            "Mistaken report",
            "--impact",
            "major_outage",
            "--message",
            "Checking.",
            "--json",
        ],
    );
    assert!(second.status.success(), "{}", stderr(&second));
    let second: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    let second = second["id"].as_i64().unwrap();
    let (status, body) = http_post(
        pharos.address,
        &format!("/api/v1/admin/incidents/{second}/false-alarm"),
        Some(ADMIN_TOKEN),
        r#"{"reason": "A customer's own network."}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    eventually(
        Duration::from_secs(10),
        "the false alarm gone from the API",
        || async {
            let listed = pharos.get_json("/api/v1/incidents").await;
            let ids: Vec<i64> = listed["incidents"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|incident| incident["id"].as_i64())
                .collect();
            (ids == [id]).then_some(())
        },
    )
    .await;
    assert_eq!(pharos.get(&format!("/incidents/{second}")).await.0, 404);
    // The declared impact no longer holds the component (which shows what its checks say).
    let status = pharos.get_json("/api/v1/status").await;
    let shown = status["components"][0]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(shown == "operational" || shown == "pending", "{status}");

    let shown = run(&server, None, &["incident", "show", &id_text]);
    assert!(
        String::from_utf8_lossy(&shown.stdout).contains("closed"),
        "the timeline says who resolved it"
    );
}
