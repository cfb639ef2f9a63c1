//! The demo's two probe agents: `pharos agent` processes started by the demo server, each
//! connecting from its own loopback address (127.0.0.2, 127.0.0.3) with a token made at
//! start, so the demo shows a region-by-region view and a localized outage. They stop with
//! the server, even one killed outright (each watches that its parent is still the server).

use pharos_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;

pub(crate) struct DemoAgents {
    _children: Vec<tokio::process::Child>,
    dir: PathBuf,
}

impl Drop for DemoAgents {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub(crate) async fn start(
    store: &Arc<dyn Store>,
    server: SocketAddr,
) -> anyhow::Result<DemoAgents> {
    use anyhow::Context as _;
    let dir = std::env::temp_dir().join(format!("pharos-demo-agents-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let server = if server.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], server.port()))
    } else {
        server
    };
    let program = std::env::current_exe().context("cannot find the pharos binary")?;
    let mut children = Vec::new();
    for (region, address) in pharos_demo::DEMO_AGENTS {
        let name = format!("demo-{region}");
        let token = pharos_wire::token::generate();
        let now = chrono::Utc::now();
        // A token of an earlier demo run on this database is replaced.
        store.revoke_agent(&name, now).await?;
        store
            .create_agent(&name, &pharos_wire::token::digest(&token), now)
            .await?;
        let token_file = dir.join(format!("{region}.token"));
        write_private(&token_file, &token)?;
        let child = tokio::process::Command::new(&program)
            .arg("agent")
            .arg("--server")
            .arg(format!("http://{server}/"))
            .args(["--region", region])
            .arg("--source-address")
            .arg(std::net::IpAddr::from(address).to_string())
            .arg("--token-file")
            .arg(&token_file)
            .arg("--state-dir")
            .arg(dir.join(format!("{region}-state")))
            .env(
                crate::agent_command::EXIT_WITH_PARENT,
                std::process::id().to_string(),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start the demo agent of {region}"))?;
        children.push(child);
    }
    tracing::info!(
        target: "pharos::demo",
        "demo: probe agents for eu-west (127.0.0.2) and ap-south (127.0.0.3) report to this server"
    );
    Ok(DemoAgents {
        _children: children,
        dir,
    })
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}
