//! Dependencies end to end: the real binary probing a tree of real loopback services
//! (network → {smtp, imap} → mailflow; webmail → imap; a website apart), a verifying webhook
//! receiver counting notifications.

use crate::support::*;
use pharos_demo::WebhookReceiver;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The tree, and a website that needs none of it (so pharos can tell that it still reaches
/// the network itself).
const TREE: [(&str, &str, &[&str]); 6] = [
    ("network", "Network", &[]),
    ("smtp", "Mail submission", &["network"]),
    ("imap", "Mailbox access", &["network"]),
    ("mailflow", "Mail delivery", &["smtp", "imap"]),
    ("webmail", "Webmail", &["imap"]),
    ("website", "Website", &[]),
];

fn config(dir: &Path, targets: &[TcpTarget], webhook: &str) -> PathBuf {
    let mut config = format!(
        "[server]\ndatabase = \"{}\"\nadmin_token = \"{ADMIN_TOKEN}\"\n\n\
         [incidents]\ncorrelation_window = \"4s\"\nsettle = \"1s\"\n\n\
         [[channels]]\nid = \"ops\"\ntype = \"webhook\"\nurl = \"{webhook}\"\nsecret = \"{SECRET}\"\n\
         events = [\"incident.opened\", \"incident.updated\", \"incident.resolved\"]\n",
        crate::support::test_database(dir, "dependencies")
    );
    for ((id, name, needs), target) in TREE.iter().zip(targets) {
        let needs: Vec<String> = needs.iter().map(|need| format!("\"{need}\"")).collect();
        config.push_str(&format!(
            "\n[[components]]\nid = \"{id}\"\nname = \"{name}\"\ndepends_on = [{}]\n\n\
             [[monitors]]\nid = \"{id}\"\nname = \"{name} port\"\ncomponent = \"{id}\"\n\
             type = \"tcp\"\nhost = \"127.0.0.1\"\nport = {}\nexpect = \"220\"\n\
             interval = \"1s\"\ntimeout = \"500ms\"\nconfirm_delay = \"300ms\"\n",
            needs.join(", "),
            target.address.port()
        ));
    }
    let path = dir.join("pharos.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn count(receiver: &WebhookReceiver, event: &str) -> usize {
    receiver
        .received()
        .iter()
        .filter(|received| received.event == event)
        .count()
}

async fn incidents(pharos: &Pharos) -> Vec<serde_json::Value> {
    let mut all = pharos.get_json("/api/v1/incidents").await["incidents"]
        .as_array()
        .unwrap()
        .clone();
    all.sort_by_key(|incident| incident["id"].as_i64());
    all
}

fn affected(incident: &serde_json::Value) -> Vec<String> {
    incident["dependents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|dependent| {
            dependent["recovered_at"].is_null() && dependent["split_into"].is_null()
        })
        .map(|dependent| dependent["component"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_failing_root_is_one_incident_and_a_dependent_that_outlives_it_is_split_out() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let mut targets = Vec::new();
    for _ in TREE {
        targets.push(TcpTarget::start().await);
    }
    let pharos = Pharos::start(&config(dir.path(), &targets, &receiver.url()), dir.path());
    eventually(
        Duration::from_secs(20),
        "every component checked",
        || async {
            let status = pharos.get_json("/api/v1/status").await;
            (status["status"] == "operational").then_some(())
        },
    )
    .await;

    // The network goes: everything on top of it fails with it.
    for target in &mut targets[..5] {
        target.stop().await;
    }
    let opened = eventually(
        Duration::from_secs(20),
        "the dependents to join",
        || async {
            let incidents = incidents(&pharos).await;
            (incidents.len() == 1 && affected(&incidents[0]).len() == 4)
                .then(|| incidents[0].clone())
        },
    )
    .await;
    assert_eq!(opened["component"]["id"], "network", "{opened:#}");
    assert_eq!(opened["title"], "Network: major outage");
    eventually(Duration::from_secs(10), "the joins to be told", || async {
        (count(&receiver, "incident.updated") >= 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        incidents(&pharos).await.len(),
        1,
        "one incident for one cause"
    );
    assert_eq!(count(&receiver, "incident.opened"), 1);
    assert_eq!(
        count(&receiver, "incident.updated"),
        1,
        "one update for the four joins, not one each"
    );
    let page = pharos.get(&format!("/incidents/{}", opened["id"])).await.1;
    let told = page
        .split("<p class=\"cause\">")
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or_else(|| panic!("no root cause on the page: {page}"));
    assert!(
        told.ends_with(" are affected because Network is down."),
        "{told}"
    );
    for (_, name, _) in &TREE[1..5] {
        assert!(told.contains(name), "{told}");
    }

    // The network and everything but IMAP come back; IMAP (and webmail, which needs it)
    // stays down and is split into its own incident once the window has passed.
    for (index, target) in targets[..5].iter_mut().enumerate() {
        if !matches!(TREE[index].0, "imap" | "webmail") {
            target.restart().await;
        }
    }
    let split = eventually(Duration::from_secs(30), "IMAP to be split out", || async {
        let incidents = incidents(&pharos).await;
        (incidents.len() == 2 && incidents[0]["status"] == "resolved").then_some(incidents)
    })
    .await;
    let (root, split) = (&split[0], &split[1]);
    assert_eq!(split["component"]["id"], "imap", "{split:#}");
    assert_eq!(
        split["title"],
        "Mailbox access still failing after Network recovered"
    );
    assert_eq!(affected(split), ["webmail"]);
    let root_page = pharos.get(&format!("/incidents/{}", root["id"])).await.1;
    assert!(
        root_page.contains("Mail submission operational again"),
        "{root_page}"
    );
    assert!(
        root_page.contains(&format!("followed in incident #{}", split["id"])),
        "{root_page}"
    );

    targets[2].restart().await;
    targets[4].restart().await;
    eventually(Duration::from_secs(20), "everything resolved", || async {
        incidents(&pharos)
            .await
            .iter()
            .all(|incident| incident["status"] == "resolved")
            .then_some(())
    })
    .await;
    eventually(
        Duration::from_secs(10),
        "the resolutions delivered",
        || async { (count(&receiver, "incident.resolved") == 2).then_some(()) },
    )
    .await;
    assert_eq!(count(&receiver, "incident.opened"), 2);
    let _ = pharos.terminate();
}

#[tokio::test]
async fn when_every_check_fails_pharos_tells_its_operators_and_opens_no_incident() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let mut targets = Vec::new();
    for _ in TREE {
        targets.push(TcpTarget::start().await);
    }
    let config = config(dir.path(), &targets, &receiver.url());
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "\"incident.resolved\"]",
        "\"incident.resolved\", \"pharos.degraded\"]",
    );
    std::fs::write(&config, text).unwrap();
    let pharos = Pharos::start(&config, dir.path());
    eventually(
        Duration::from_secs(20),
        "every component checked",
        || async {
            let status = pharos.get_json("/api/v1/status").await;
            (status["status"] == "operational").then_some(())
        },
    )
    .await;
    for target in &mut targets {
        target.stop().await;
    }
    let told = eventually(Duration::from_secs(20), "operators told", || async {
        receiver
            .received()
            .into_iter()
            .find(|received| received.event == "pharos.degraded")
    })
    .await;
    let reason = told.body["data"]["reason"].as_str().unwrap().to_owned();
    assert!(
        reason.starts_with("pharos cannot reach the network from local"),
        "{reason}"
    );
    // The components show what the checks see, but no public incident blames them.
    eventually(
        Duration::from_secs(10),
        "everything down on the page",
        || async {
            let status = pharos.get_json("/api/v1/status").await;
            (status["status"] == "major_outage").then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(incidents(&pharos).await.is_empty());
    assert_eq!(count(&receiver, "incident.opened"), 0);
    assert_eq!(count(&receiver, "pharos.degraded"), 1);
    let _ = pharos.terminate();
}
