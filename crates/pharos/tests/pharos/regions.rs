//! A server and three probe agents as separate processes on loopback, each agent connecting
//! from its own address (127.0.0.2, .3, .4), against a real HTTP target that can refuse
//! chosen source addresses: one region failing is a localized partial outage, all of them a
//! widespread major one; a server away for 60 s loses no agent result; a killed agent makes
//! its region unknown with one `agent.silent` and no incident; a revoked token is refused.

use crate::support::*;
use pharos_demo::WebhookReceiver;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The regions, each with the address its agent connects from.
const REGIONS: [(&str, &str); 3] = [
    ("eu-west", "127.0.0.2"),
    ("us-east", "127.0.0.3"),
    ("ap-south", "127.0.0.4"),
];

/// A running `pharos agent`, killed when dropped.
struct Agent {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Agent {
    fn start(server: SocketAddr, region: &str, source: &str, dir: &Path) -> Self {
        let mut child = Command::new(binary())
            .args(["agent", "--server"])
            .arg(format!("http://{server}/"))
            .args(["--region", region, "--source-address", source])
            .arg("--token-file")
            .arg(dir.join(format!("{region}.token")))
            .arg("--state-dir")
            .arg(dir.join(format!("{region}-state")))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the agent starts");
        let stderr = child.stderr.take().unwrap();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        Self { child, log }
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, database: &str, target: SocketAddr, webhook: &str) -> PathBuf {
    let config = format!(
        r#"
[server]
database = "{database}"

[incidents]
settle = "2s"

[defaults]
interval = "2s"
timeout = "1s"
confirm_delay = "1s"
regions = ["eu-west", "us-east", "ap-south"]

[[components]]
id = "web"
name = "Web"

[[monitors]]
id = "site"
name = "Site"
component = "web"
type = "http"
url = "http://{target}/"

[[channels]]
id = "ops"
type = "webhook"
url = "{webhook}"
secret = "{SECRET}"
events = ["incident.opened", "incident.updated", "incident.resolved", "agent.silent", "agent.back"]
"#,
    );
    let path = dir.join("pharos.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn cli(args: &[&str], config: &Path) -> std::process::Output {
    Command::new(binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("pharos runs")
}

fn refused(sources: &[&str]) -> Vec<IpAddr> {
    sources
        .iter()
        .map(|source| source.parse().unwrap())
        .collect()
}

fn count(receiver: &WebhookReceiver, event: &str) -> usize {
    receiver
        .received()
        .iter()
        .filter(|received| received.event == event)
        .count()
}

/// The monitor's word from each region, by region.
async fn regions(pharos: &Pharos) -> Vec<(String, String)> {
    let components = pharos.get_json("/api/v1/components").await;
    components[0]["monitors"][0]["regions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|cell| {
            (
                cell["region"].as_str().unwrap_or_default().to_owned(),
                cell["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn component_status(pharos: &Pharos) -> String {
    pharos.get_json("/api/v1/components").await[0]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn active_incident(pharos: &Pharos) -> Option<serde_json::Value> {
    let status = pharos.get_json("/api/v1/status").await;
    status["active_incidents"].as_array()?.first().cloned()
}

/// How many results of `region` the store holds, and how far the agent's numbers reached.
async fn stored(database: &str, region: &str) -> (usize, u64) {
    let store = open_store(database).await;
    let results = store
        .recent_results(
            &pharos_core::MonitorId::new(format!("site@{region}")),
            1_000_000,
        )
        .await
        .unwrap();
    let last_seq = store
        .agents()
        .await
        .unwrap()
        .into_iter()
        .find(|agent| agent.name == region)
        .map_or(0, |agent| agent.last_seq);
    (results.len(), last_seq)
}

#[tokio::test]
async fn three_agents_tell_local_from_widespread_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Answers 200, except to the source addresses it is told to refuse (closed unanswered).
    let gate = pharos_demo::targets::RegionalTarget::start().await.unwrap();
    let receiver = WebhookReceiver::start("127.0.0.1:0".parse().unwrap(), SECRET)
        .await
        .unwrap();
    let database = test_database(dir.path(), "regions");
    let config = write_config(dir.path(), &database, gate.address, &receiver.url());
    for (region, _) in REGIONS {
        let made = cli(&["agent-token", "create", region], &config);
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        std::fs::write(dir.path().join(format!("{region}.token")), &made.stdout).unwrap();
    }
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let pharos = Pharos::start_on(&config, dir.path(), listen);
    let mut agents: Vec<Agent> = REGIONS
        .iter()
        .map(|(region, source)| Agent::start(listen, region, source, dir.path()))
        .collect();

    eventually(Duration::from_secs(30), "every region up", || async {
        let cells = regions(&pharos).await;
        (cells.len() == 3 && cells.iter().all(|(_, status)| status == "up")).then_some(())
    })
    .await;

    // One region cannot reach the target: a localized partial outage, never a major one.
    gate.refuse(&refused(&["127.0.0.2"]));
    let incident = eventually(Duration::from_secs(20), "a localized incident", || async {
        let incident = active_incident(&pharos).await?;
        (incident["scope"]["reach"] == "localized").then_some(incident)
    })
    .await;
    assert_eq!(incident["scope"]["regions"], serde_json::json!(["eu-west"]));
    assert_eq!(incident["impact"], "partial_outage", "{incident:#}");
    assert_eq!(component_status(&pharos).await, "partial_outage");
    let page = pharos.get("/").await.1;
    assert!(page.contains("By region"), "the page shows the region grid");
    assert!(page.contains("Localized: seen from eu-west"), "{page}");

    // Everywhere: widespread and major.
    gate.refuse(&refused(&["127.0.0.2", "127.0.0.3", "127.0.0.4"]));
    eventually(
        Duration::from_secs(20),
        "a widespread major outage",
        || async {
            let incident = active_incident(&pharos).await?;
            (incident["scope"]["reach"] == "widespread" && incident["impact"] == "major_outage")
                .then_some(())
        },
    )
    .await;
    assert_eq!(component_status(&pharos).await, "major_outage");

    gate.refuse(&[]);
    eventually(Duration::from_secs(20), "recovery", || async {
        active_incident(&pharos).await.is_none().then_some(())
    })
    .await;

    // The server goes away for a minute; the agents go on probing and keep their results.
    assert!(pharos.terminate().success());
    let (_, before) = stored(&database, "eu-west").await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let pharos = Pharos::start_on(&config, dir.path(), listen);
    for (region, _) in REGIONS {
        let (rows, last_seq) = eventually(
            Duration::from_secs(30),
            "the results kept during the outage delivered",
            || async {
                // Rows and the stored number are read apart: a reading counts only if no
                // commit came between (the number did not move).
                let (_, first) = stored(&database, region).await;
                let (rows, last_seq) = stored(&database, region).await;
                (last_seq == first && last_seq >= before + 25).then_some((rows, last_seq))
            },
        )
        .await;
        assert_eq!(
            rows as u64, last_seq,
            "{region}: every result numbered 1..={last_seq} stored exactly once"
        );
    }

    // A change of the configuration reaches the agents without a restart of theirs.
    let mut changed = std::fs::read_to_string(&config).unwrap();
    changed.push_str(&format!(
        "\n[[monitors]]\nid = \"again\"\nname = \"Site again\"\ncomponent = \"web\"\ntype = \"http\"\nurl = \"http://{}/again\"\n",
        gate.address
    ));
    std::fs::write(&config, changed).unwrap();
    let reloaded = Command::new("kill")
        .args(["-HUP", &pharos.pid().to_string()])
        .status()
        .unwrap();
    assert!(reloaded.success());
    eventually(
        Duration::from_secs(30),
        "the new monitor checked from every region",
        || async {
            let components = pharos.get_json("/api/v1/components").await;
            let cells = components[0]["monitors"][1]["regions"].as_array()?.clone();
            (cells.len() == 3 && cells.iter().all(|cell| cell["status"] == "up")).then_some(())
        },
    )
    .await;
    for agent in &agents {
        assert_eq!(
            agent.log_text().matches("checking 2 monitors").count(),
            1,
            "the agent took the new assignment as it ran: {}",
            agent.log_text()
        );
    }

    // An agent killed: its region cannot say, one operator event, no incident.
    let opened_before = count(&receiver, "incident.opened");
    let killed = agents.pop().unwrap();
    drop(killed);
    eventually(Duration::from_secs(45), "ap-south unknown", || async {
        let cells = regions(&pharos).await;
        cells
            .iter()
            .any(|(region, status)| region == "ap-south" && status == "unknown")
            .then_some(())
    })
    .await;
    eventually(Duration::from_secs(10), "one agent.silent", || async {
        (count(&receiver, "agent.silent") == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(&receiver, "agent.silent"), 1, "told once");
    assert_eq!(
        count(&receiver, "incident.opened"),
        opened_before,
        "no incident"
    );
    assert_eq!(component_status(&pharos).await, "operational");

    // An agent of another protocol version is refused, saying so.
    let eu_token = std::fs::read_to_string(dir.path().join("eu-west.token")).unwrap();
    let future = serde_json::json!({ "protocol": 2, "region": "eu-west", "shape": "unknown" });
    let (status, body) = http_post(
        pharos.address,
        "/api/agent/v1/exchange",
        Some(eu_token.trim()),
        &future.to_string(),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body.contains("protocol version 2 is not supported"),
        "{body}"
    );

    // A revoked token is refused within seconds.
    let revoked = cli(&["agent-token", "revoke", "us-east"], &config);
    assert!(revoked.status.success());
    let token = std::fs::read_to_string(dir.path().join("us-east.token")).unwrap();
    let report = serde_json::json!({
        "protocol": 1, "region": "us-east", "agent_version": "test",
        "generation": null, "results": [], "dropped": 0
    })
    .to_string();
    let (status, body) = eventually(Duration::from_secs(10), "a refusal", || async {
        let answer = http_post(
            pharos.address,
            "/api/agent/v1/exchange",
            Some(token.trim()),
            &report,
        )
        .await;
        (answer.0 == 401).then_some(answer)
    })
    .await;
    assert!(body.contains("revoked"), "{status}: {body}");
    eventually(Duration::from_secs(15), "the agent told", || async {
        agents[1].log_text().contains("revoked").then_some(())
    })
    .await;
}
