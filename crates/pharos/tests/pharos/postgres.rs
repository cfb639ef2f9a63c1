//! Moving an install from SQLite to PostgreSQL with `pharos db migrate-from`: the open
//! incident, its history and the checks so far are there when pharos starts on PostgreSQL, and
//! it goes on from them.

use crate::support::*;
use std::process::Command;
use std::time::Duration;

#[tokio::test]
async fn an_install_moved_from_sqlite_to_postgresql_goes_on_with_its_incident() {
    let Some(database) = crate::pg_server::fresh_database("the move to PostgreSQL") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut target = TcpTarget::start().await;
    let config = write_config(dir.path(), target.address, "http://127.0.0.1:9/unused");
    // The install being moved is on SQLite, whichever backend the suite runs on.
    use_database(&config, &dir.path().join("pharos.db").display().to_string());
    let pharos = Pharos::start(&config, dir.path());
    eventually(Duration::from_secs(10), "a first check", || async {
        let components = pharos.get_json("/api/v1/components").await;
        (components[0]["monitors"][0]["last_check"]["status"] == "up").then_some(())
    })
    .await;
    target.stop().await;
    let incident = eventually(Duration::from_secs(10), "an incident", || async {
        let incidents = pharos.get_json("/api/v1/incidents").await;
        incidents["incidents"][0]["id"]
            .as_i64()
            .map(|_| incidents["incidents"][0].clone())
    })
    .await;
    assert!(pharos.terminate().success());

    let moved = dir.path().join("postgres.toml");
    std::fs::copy(&config, &moved).unwrap();
    use_database(&moved, &database);
    let copy = || {
        Command::new(binary())
            .args(["db", "migrate-from"])
            .arg(dir.path().join("pharos.db"))
            .arg("--config")
            .arg(&moved)
            .output()
            .unwrap()
    };
    let output = copy();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("every table's rows counted equal on both sides"),
        "{stdout}"
    );
    assert!(stdout.contains("incident_updates"), "{stdout}");

    let pharos = Pharos::start(&moved, dir.path());
    let incidents = pharos.get_json("/api/v1/incidents").await;
    assert_eq!(
        incidents["incidents"][0]["id"], incident["id"],
        "{incidents}"
    );
    assert_eq!(incidents["incidents"][0]["status"], "investigating");
    assert_eq!(
        incidents["incidents"][0]["updates"], incident["updates"],
        "{incidents}"
    );
    // It goes on: the target comes back and the same incident resolves.
    target.restart().await;
    eventually(Duration::from_secs(15), "the incident resolved", || async {
        let one = pharos
            .get_json(&format!("/api/v1/incidents/{}", incident["id"]))
            .await;
        (one["status"] == "resolved").then_some(())
    })
    .await;
    assert!(pharos.terminate().success());

    let again = copy();
    assert_eq!(again.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already copied from SQLite"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}
