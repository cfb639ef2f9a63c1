//! Command-line arguments.

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Outage detection, incident response and status pages for cloud services.
#[derive(Parser)]
#[command(name = "pharos", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub(crate) log_format: LogFormat,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run the monitors, the status page, the API and notifications.
    Serve {
        /// The configuration file.
        #[arg(long, short, conflicts_with = "demo")]
        config: Option<PathBuf>,
        /// Run the built-in demo: targets that fail and recover on a cycle, no set-up needed.
        #[arg(long)]
        demo: bool,
        /// Listen on this address instead of the configured one (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<SocketAddr>,
        /// Keep the whole public site as static files in this directory, rewritten on every
        /// change (as `[publish] dir`).
        #[arg(long, value_name = "DIR")]
        publish: Option<PathBuf>,
    },
    /// Run every monitor once and print a table of the results.
    Check {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Write the status page, feeds and JSON API as static files, from the database alone.
    Export {
        /// The configuration file (its database is read; nothing is probed).
        #[arg(long, short)]
        config: PathBuf,
        /// The directory to write into (created when missing).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Work with incidents on a running pharos, through its admin API.
    Incident {
        #[command(subcommand)]
        action: IncidentAction,
    },
    /// Work with notification channels.
    Notify {
        #[command(subcommand)]
        action: NotifyAction,
    },
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Work with the database.
    Db {
        #[command(subcommand)]
        action: DbAction,
    },
    /// Check a server's monitors from another region and report back to it.
    Agent {
        /// The pharos server, e.g. https://status.example.com/; repeat it for each replica of
        /// a server with several (reports go to whichever leads).
        #[arg(long, env = "PHAROS_SERVER", value_delimiter = ',', required = true)]
        server: Vec<url::Url>,
        /// The region this agent checks from, as monitors name it in `regions`.
        #[arg(long)]
        region: String,
        /// A file holding the agent's token (from `pharos agent-token create`).
        #[arg(long, value_name = "FILE")]
        token_file: PathBuf,
        /// Where results wait while the server is unreachable.
        #[arg(
            long,
            value_name = "DIR",
            env = "STATE_DIRECTORY",
            default_value = "pharos-agent"
        )]
        state_dir: PathBuf,
        /// Connect every probe from this local address (on a host with several).
        #[arg(long, value_name = "IP")]
        source_address: Option<std::net::IpAddr>,
        /// The most results kept while the server is unreachable (the oldest go first).
        #[arg(long, default_value_t = 1_000_000)]
        buffer: usize,
    },
    /// Make, list and revoke probe agents' tokens (on the server's machine).
    AgentToken {
        #[command(subcommand)]
        action: AgentTokenAction,
    },
    /// Schedule, list and cancel maintenance windows of a running pharos.
    Maintenance {
        #[command(subcommand)]
        action: MaintenanceAction,
    },
    /// Add, list and remove the admin's users, and change their passwords (on the server's
    /// machine: this is how the first admin is made).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Print a shell completion script (e.g. `pharos completions bash > /etc/bash_completion.d/pharos`).
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), e.g. `pharos man > pharos.1`.
    Man,
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
pub(crate) enum AgentTokenAction {
    /// Make a token for a new agent; it is printed once.
    Create {
        /// The agent's name, e.g. its region.
        name: String,
        /// The server's configuration file (its database keeps the token's digest).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// List the agents, when each was last heard from and how many results it sent.
    List {
        /// The server's configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Revoke an agent's token: a running server refuses it within seconds.
    Revoke {
        name: String,
        /// The server's configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum UserAction {
    /// Add a user; without `--password-stdin` a password is generated and printed once.
    Add {
        /// Their login name (letters, digits, `.`, `-`, `_`, `@`).
        name: String,
        /// admin (users, tokens, settings), editor (incidents, maintenance) or viewer.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The server's configuration file (its database keeps the users).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// List the users, their roles and how many API tokens each holds.
    List {
        /// The server's configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Remove a user: their sessions end and their API tokens stop working at once.
    Remove {
        name: String,
        /// The server's configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Set a user's password (generated unless `--password-stdin`), and their role with
    /// `--role`; their sessions end.
    Passwd {
        name: String,
        /// A new role: admin, editor or viewer.
        #[arg(long)]
        role: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The server's configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum DbAction {
    /// Copy everything a SQLite database holds (history, incidents, notifications) into the
    /// PostgreSQL database of `[server] database`; an interrupted copy resumes when run again.
    /// Stop pharos first.
    MigrateFrom {
        /// The SQLite database: a path or sqlite:// URL.
        source: String,
        /// The configuration file naming the PostgreSQL database.
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum IncidentAction {
    /// List the incidents a running pharos shows (open ones and the last 90 days).
    List {
        /// The pharos server.
        #[arg(long, env = "PHAROS_SERVER", default_value = "http://127.0.0.1:8080")]
        server: url::Url,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one incident: its updates and timeline.
    Show {
        /// The incident's number.
        id: i64,
        /// The pharos server.
        #[arg(long, env = "PHAROS_SERVER", default_value = "http://127.0.0.1:8080")]
        server: url::Url,
        /// Print the API's JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Post an update on an open incident; it appears on the page and goes out to every channel.
    Update {
        /// The incident's number.
        id: i64,
        /// investigating, identified or monitoring (`pharos incident resolve` resolves).
        #[arg(long, short)]
        status: String,
        /// What readers should know (Markdown).
        #[arg(long, short)]
        message: String,
        #[command(flatten)]
        times: PromisedTimes,
        /// A new title for the incident (pharos keeps it from then on).
        #[arg(long)]
        title: Option<String>,
        /// A new impact, for an incident opened by hand: degraded_performance, partial_outage
        /// or major_outage.
        #[arg(long)]
        impact: Option<String>,
        /// Another component's impact, for an incident opened by hand, as COMPONENT=IMPACT
        /// (`operational`: no longer affected); repeat for several.
        #[arg(long, value_name = "COMPONENT=IMPACT")]
        affected: Vec<String>,
        #[command(flatten)]
        access: Access,
    },
    /// Open an incident by hand on a component (for a problem the checks do not see); it
    /// stays until resolved by hand.
    Open {
        /// The component's id.
        #[arg(long)]
        component: String,
        /// The incident's title.
        #[arg(long)]
        title: String,
        /// degraded_performance, partial_outage or major_outage.
        #[arg(long)]
        impact: String,
        /// Another component it takes, as COMPONENT=IMPACT; repeat for several.
        #[arg(long, value_name = "COMPONENT=IMPACT")]
        affected: Vec<String>,
        /// The first update (Markdown).
        #[arg(long, short)]
        message: String,
        /// investigating, identified or monitoring.
        #[arg(long, short, default_value = "investigating")]
        status: String,
        #[command(flatten)]
        times: PromisedTimes,
        #[command(flatten)]
        access: Access,
    },
    /// Resolve an open incident by hand (an automatic one once its checks pass).
    Resolve {
        /// The incident's number.
        id: i64,
        /// What readers should know.
        #[arg(long, short)]
        message: String,
        #[command(flatten)]
        access: Access,
    },
}

#[derive(Subcommand)]
pub(crate) enum MaintenanceAction {
    /// Schedule a window: its components show under maintenance while it runs, open no
    /// incident and send no alert.
    Schedule {
        /// What readers see.
        #[arg(long)]
        title: String,
        /// A component's id; repeat for several.
        #[arg(long = "component", required = true)]
        components: Vec<String>,
        /// When it starts: a time (2026-12-12T22:00:00Z) or a duration from now (2h).
        #[arg(long)]
        start: String,
        /// How long it lasts (30m, 2h).
        #[arg(long)]
        duration: String,
        /// Repeats this often (7d); once without it.
        #[arg(long)]
        every: Option<String>,
        /// What readers should know.
        #[arg(long, short)]
        message: Option<String>,
        #[command(flatten)]
        access: Access,
    },
    /// List every window: the configuration file's and those scheduled.
    List {
        #[command(flatten)]
        access: Access,
    },
    /// Cancel a scheduled window (the configuration file's change with the file).
    Cancel {
        /// The window's id (see `pharos maintenance list`).
        id: String,
        #[command(flatten)]
        access: Access,
    },
}

/// When the service is expected back and when the next update comes: a time
/// (2026-12-06T14:00:00Z) or a duration from now (90m, 2h).
#[derive(clap::Args)]
pub(crate) struct PromisedTimes {
    /// When the service is expected back.
    #[arg(long, value_name = "TIME")]
    pub(crate) expected_by: Option<String>,
    /// When the next update comes at the latest (operators are reminded then).
    #[arg(long, value_name = "TIME")]
    pub(crate) next_update_by: Option<String>,
}

/// Where the server is and how to act on it.
#[derive(clap::Args)]
pub(crate) struct Access {
    /// The pharos server.
    #[arg(long, env = "PHAROS_SERVER", default_value = "http://127.0.0.1:8080")]
    pub(crate) server: url::Url,
    /// A file holding an API token (otherwise the token is read from PHAROS_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// Print the server's JSON answer.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Subcommand)]
pub(crate) enum NotifyAction {
    /// Send one test message through a configured channel and show what the service answered
    /// (exit 1 when it was not delivered). Paging services open a low-urgency test alert.
    Test {
        /// The channel's id.
        channel: String,
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum ConfigAction {
    /// Print a fully commented example configuration.
    Example,
    /// Check a configuration file and list every problem in it.
    Validate { file: PathBuf },
    /// Print a new random webhook signing secret.
    Secret,
}
