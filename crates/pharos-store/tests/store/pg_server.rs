//! A throwaway PostgreSQL server for tests: `initdb` and `postgres` from
//! `/usr/lib/postgresql/*/bin` (or `PHAROS_POSTGRES_BIN`) on a temporary directory and a free
//! port, started once per test process (as the `postgres` user when run as root) and stopped
//! and removed with it; each caller gets a database of its own. Without PostgreSQL installed
//! callers get `None` and a printed notice; `PHAROS_TEST_POSTGRES=required` makes that a
//! failure. Shared by the store's and the binary's tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub(crate) const REQUIRED: &str = "PHAROS_TEST_POSTGRES";

/// A running throwaway server: gone with the test process (a watcher stops it and removes
/// its directory).
struct Server {
    bin: PathBuf,
    user: Option<(u32, u32)>,
    port: u16,
    _dir: tempfile::TempDir,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static NEXT_DATABASE: AtomicU32 = AtomicU32::new(0);

/// The URL of a new, empty database for `test`, or `None` (having said why) when there is
/// no PostgreSQL here.
pub(crate) fn fresh_database(test: &str) -> Option<String> {
    let server = match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(because) => {
            if std::env::var(REQUIRED).as_deref() == Ok("required") {
                panic!("{REQUIRED}=required but {because}");
            }
            // Past the test harness's capture, so that a skip is seen.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "notice: skipping {test} on PostgreSQL: {because}"
            );
            return None;
        }
    };
    let name = format!(
        "test_{}_{}",
        std::process::id(),
        NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
    );
    // Listening is not yet accepting: the server may still be starting up.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let created = command(&server.bin.join("createdb"), server.user)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &server.port.to_string(),
                "-U",
                "pharos",
                &name,
            ])
            .output()
            .expect("createdb runs");
        if created.status.success() {
            break;
        }
        if Instant::now() > deadline {
            panic!(
                "the throwaway server refuses to create a database: {}",
                String::from_utf8_lossy(&created.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(format!(
        "postgres://pharos@127.0.0.1:{}/{name}",
        server.port
    ))
}

/// The newest installed server's binaries.
fn binaries() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("PHAROS_POSTGRES_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// The uid and gid to run the server as: the server refuses to run as root, so as root it
/// runs as the `postgres` user the Debian package creates.
fn run_as() -> Result<Option<(u32, u32)>, String> {
    let me = id(&["-u"])?;
    if me != 0 {
        return Ok(None);
    }
    let uid = id(&["-u", "postgres"])
        .map_err(|_| "running as root and there is no `postgres` user".to_owned())?;
    let gid = id(&["-g", "postgres"])?;
    Ok(Some((uid, gid)))
}

fn id(args: &[&str]) -> Result<u32, String> {
    let output = Command::new("id")
        .args(args)
        .output()
        .map_err(|error| format!("`id` did not run: {error}"))?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| format!("`id {}` failed", args.join(" ")))
}

fn command(program: &Path, user: Option<(u32, u32)>) -> Command {
    use std::os::unix::process::CommandExt as _;
    let mut command = Command::new(program);
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command
}

fn start() -> Result<Server, String> {
    let bin = binaries().ok_or("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin)")?;
    let user = run_as()?;
    let dir = tempfile::Builder::new()
        .prefix("pharos-pg-")
        .tempdir()
        .map_err(|error| error.to_string())?;
    if let Some((uid, gid)) = user {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
            .map_err(|error| format!("cannot hand the data directory over: {error}"))?;
    }
    let data = dir.path().join("data");
    let initdb = command(&bin.join("initdb"), user)
        .arg("-D")
        .arg(&data)
        .args(["-U", "pharos", "--auth=trust", "-E", "UTF8", "--no-sync"])
        .stdout(Stdio::null())
        .output()
        .map_err(|error| format!("initdb did not run: {error}"))?;
    if !initdb.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        ));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| error.to_string())?
        .port();
    // The server, and a watcher that stops it once this test process is gone.
    let script = format!(
        "'{postgres}' -D '{data}' -p {port} -k '{dir}' -c listen_addresses=127.0.0.1 \
         -c fsync=off -c max_connections=200 >'{dir}/log' 2>&1 & server=$!; \
         while [ -d /proc/{parent} ] && kill -0 $server 2>/dev/null; do sleep 0.5; done; \
         kill -QUIT $server 2>/dev/null; wait $server; rm -rf '{dir}'",
        postgres = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.path().display(),
        parent = std::process::id(),
    );
    command(Path::new("/bin/sh"), user)
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("the server did not start: {error}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
            return Err(format!("the server did not listen within 30 s: {log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Server {
        bin,
        user,
        port,
        _dir: dir,
    })
}
