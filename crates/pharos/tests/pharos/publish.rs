//! `serve --publish DIR`: the whole public site kept as files, served by a plain static server
//! (python's http.server) the same as pharos serves it live, through an incident; never a
//! half-written file; the hook runs after each publish.

use crate::support::*;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A plain static server on `dir`, killed when dropped.
struct StaticServer {
    child: std::process::Child,
    address: std::net::SocketAddr,
}

impl StaticServer {
    fn start(dir: &std::path::Path) -> Option<Self> {
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let server = Self {
            child,
            address: ([127, 0, 0, 1], port).into(),
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(server.address).is_err() {
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn the_published_directory_serves_the_same_site_as_pharos_through_an_incident() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    let mut target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, "http://127.0.0.1:9/unused");
    let hook_log = dir.path().join("hook.log");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "{text}\n[publish]\nhook = [\"/bin/sh\", \"-c\", \"echo \\\"$PHAROS_PUBLISH_DIR\\\" >> '{}'\"]\n",
            hook_log.display()
        ),
    )
    .unwrap();
    let pharos =
        Pharos::start_with_args(&config, dir.path(), &["--publish", site.to_str().unwrap()]);
    std::fs::create_dir_all(&site).unwrap();
    let Some(files) = StaticServer::start(&site) else {
        skip(
            "PHAROS_TEST_PYTHON",
            "the_published_directory_serves_the_same_site",
            "python3 is not installed",
        );
        return;
    };

    // A reader that keeps reading a published file while pharos rewrites it: every read is
    // whole.
    let reading = Arc::new(AtomicBool::new(true));
    let reads = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (reading, reads) = (reading.clone(), reads.clone());
        let file = site.join("api/v1/status.json");
        std::thread::spawn(move || {
            while reading.load(Ordering::SeqCst) {
                if let Ok(bytes) = std::fs::read(&file) {
                    serde_json::from_slice::<serde_json::Value>(&bytes)
                        .unwrap_or_else(|error| panic!("a half-written file: {error}"));
                    reads.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
    };

    let same = |what: &'static str, live: &'static str, published: &'static str| {
        let pharos = &pharos;
        let files = &files;
        async move {
            eventually(Duration::from_secs(20), what, || async {
                let (live_code, live_body) = pharos.get(live).await;
                let (code, body) = http_get(files.address, published, None).await;
                (live_code == 200 && code == 200 && live_body == body).then_some(body)
            })
            .await
        }
    };
    let page = same("the published page to match the live one", "/", "/").await;
    assert!(
        page.contains("Mail &lt;script&gt;alert(1)&lt;/script&gt; submission"),
        "{page}"
    );
    same(
        "the published status to match",
        "/api/v1/status",
        "/api/v1/status.json",
    )
    .await;

    target.stop().await;
    let incident = eventually(Duration::from_secs(15), "an incident", || async {
        pharos.get_json("/api/v1/incidents").await["incidents"][0]["id"].as_i64()
    })
    .await;
    let page = same("the published page to show the incident", "/", "/").await;
    assert!(
        page.contains("major outage") || page.contains("Major outage"),
        "{page}"
    );
    let path: &'static str = Box::leak(format!("/incidents/{incident}").into_boxed_str());
    let published: &'static str = Box::leak(format!("/incidents/{incident}/").into_boxed_str());
    same("the incident's own page to be published", path, published).await;
    same(
        "the Statuspage summary to be published",
        "/api/v2/summary.json",
        "/api/v2/summary.json",
    )
    .await;
    assert_eq!(http_get(files.address, "/404.html", None).await.0, 200);

    reading.store(false, Ordering::SeqCst);
    reader
        .join()
        .expect("every read of a published file was whole");
    assert!(reads.load(Ordering::SeqCst) > 0);
    let hook = std::fs::read_to_string(&hook_log).unwrap_or_default();
    assert!(
        hook.lines().count() >= 2 && hook.lines().all(|line| line == site.to_str().unwrap()),
        "the hook ran after each publish, told where: {hook}"
    );
    let leftovers: Vec<_> = walk(&site)
        .into_iter()
        .filter(|file| file.contains(".pharos-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = pharos.terminate();
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path.display().to_string());
        }
    }
    found
}
