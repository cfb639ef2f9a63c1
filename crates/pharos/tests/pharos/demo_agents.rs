//! The demo's probe agents stop with the demo server, even when it is killed outright and
//! cannot stop them itself.

use crate::support::*;
use std::time::Duration;

/// The running (not zombie) processes whose parent is `parent` and that run `pharos agent`.
fn agents_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // pid (comm) state ppid ...
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            let mut fields = after.split_whitespace();
            let state = fields.next();
            let ppid = fields.next().and_then(|ppid| ppid.parse::<u32>().ok());
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            ppid == Some(parent)
                && state != Some("Z")
                && cmdline.split(|byte| *byte == 0).any(|arg| arg == b"agent")
        })
        .collect()
}

/// Whether the process `pid` is gone (or a zombie nobody has reaped yet).
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            == Some("Z")
    })
}

#[tokio::test]
async fn the_demo_agents_stop_when_the_demo_server_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pharos = Pharos::start_demo(dir.path());
    let server = pharos.pid();
    let agents = eventually(Duration::from_secs(20), "the demo's two agents", || async {
        let agents = agents_of(server);
        (agents.len() == 2).then_some(agents)
    })
    .await;
    pharos.kill();
    eventually(
        Duration::from_secs(10),
        "the agents stopping after the server was killed",
        || async { agents.iter().all(|&agent| gone(agent)).then_some(()) },
    )
    .await;
}
