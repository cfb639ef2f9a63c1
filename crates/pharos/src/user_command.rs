//! `pharos user add|list|remove|passwd`: the admin's operators, in the server's database (run
//! on the server's machine, which is how the first admin is made). A password is read from
//! standard input with `--password-stdin`, or generated and printed once. Changing a
//! password or role, or removing a user, ends their sessions at once.

use crate::agent_token_command::open;
use crate::exit;
use chrono::Utc;
use pharos_core::Role;
use pharos_store::{AuditEntry, Store, StoreError, UserRecord};
use pharos_web::credentials;
use std::io::BufRead;
use std::path::Path;
use std::process::ExitCode;

fn parse_role(text: &str) -> Result<Role, ExitCode> {
    Role::parse(text).ok_or_else(|| {
        eprintln!("error: unknown role `{text}`: use admin, editor or viewer");
        exit::code(exit::USAGE)
    })
}

/// The password: one line of standard input, or a new one printed once.
fn password(from_stdin: bool) -> Result<(String, bool), ExitCode> {
    if !from_stdin {
        return Ok((credentials::generate_password(), true));
    }
    let mut line = String::new();
    if let Err(error) = std::io::stdin().lock().read_line(&mut line) {
        eprintln!("error: cannot read the password from standard input: {error}");
        return Err(exit::code(exit::NO_INPUT));
    }
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if let Some(problem) = credentials::password_problem(&password) {
        eprintln!("error: {problem}");
        return Err(exit::code(exit::USAGE));
    }
    Ok((password, false))
}

async fn audit(store: &dyn Store, action: &str, name: &str, detail: Option<String>) {
    let entry = AuditEntry {
        id: 0,
        at: Utc::now(),
        actor: "cli".into(),
        action: action.into(),
        target: Some(format!("user {name}")),
        detail,
        address: None,
    };
    if let Err(error) = store.record_audit(&entry).await {
        eprintln!("warning: the audit log did not take this change: {error}");
    }
}

fn hash(password: String) -> String {
    credentials::hash_password(&password)
}

pub(crate) async fn add(config: &Path, name: &str, role: &str, from_stdin: bool) -> ExitCode {
    if !credentials::is_user_name(name) {
        eprintln!(
            "error: a user's name is 1 to 64 letters, digits, `.`, `-`, `_` or `@`, found `{name}`"
        );
        return exit::code(exit::USAGE);
    }
    let role = match parse_role(role) {
        Ok(role) => role,
        Err(code) => return code,
    };
    let (password, generated) = match password(from_stdin) {
        Ok(password) => password,
        Err(code) => return code,
    };
    let store = match open(config).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let now = Utc::now();
    let user = UserRecord {
        name: name.to_owned(),
        password_hash: hash(password.clone()),
        role,
        created_at: now,
        password_changed_at: now,
    };
    match store.create_user(&user).await {
        Ok(()) => {
            audit(
                store.as_ref(),
                "user.add",
                name,
                Some(format!("role {role}")),
            )
            .await;
            if generated {
                eprintln!(
                    "User `{name}` ({role}) may log in at /admin. Their password, shown this once:"
                );
                println!("{password}");
            } else {
                eprintln!("User `{name}` ({role}) may log in at /admin.");
            }
            ExitCode::SUCCESS
        }
        Err(StoreError::Conflict(message)) => {
            eprintln!("error: {message} (`pharos user passwd` changes a password)");
            exit::code(exit::USAGE)
        }
        Err(error) => {
            eprintln!("error: cannot save the user: {error}");
            exit::code(exit::UNAVAILABLE)
        }
    }
}

pub(crate) async fn list(config: &Path) -> ExitCode {
    let store = match open(config).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let (users, tokens) = match (store.users().await, store.api_tokens(None).await) {
        (Ok(users), Ok(tokens)) => (users, tokens),
        (Err(error), _) | (_, Err(error)) => {
            eprintln!("error: cannot read the users: {error}");
            return exit::code(exit::UNAVAILABLE);
        }
    };
    let time = |at: chrono::DateTime<Utc>| at.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["User", "Role", "API tokens", "Password set", "Created"]);
    for user in &users {
        let live_tokens = tokens
            .iter()
            .filter(|token| token.user == user.name && token.revoked_at.is_none())
            .count();
        table.add_row([
            user.name.clone(),
            user.role.to_string(),
            live_tokens.to_string(),
            time(user.password_changed_at),
            time(user.created_at),
        ]);
    }
    println!("{table}");
    println!("{} users", users.len());
    ExitCode::SUCCESS
}

pub(crate) async fn remove(config: &Path, name: &str) -> ExitCode {
    let store = match open(config).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    match store.remove_user(name).await {
        Ok(true) => {
            audit(store.as_ref(), "user.remove", name, None).await;
            eprintln!("User `{name}` is removed; their sessions and API tokens no longer work.");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!("error: there is no user `{name}` (see `pharos user list`)");
            exit::code(exit::NO_INPUT)
        }
        Err(error) => {
            eprintln!("error: cannot remove the user: {error}");
            exit::code(exit::UNAVAILABLE)
        }
    }
}

pub(crate) async fn passwd(
    config: &Path,
    name: &str,
    role: Option<&str>,
    from_stdin: bool,
) -> ExitCode {
    let role = match role.map(parse_role).transpose() {
        Ok(role) => role,
        Err(code) => return code,
    };
    let (password, generated) = match password(from_stdin) {
        Ok(password) => password,
        Err(code) => return code,
    };
    let store = match open(config).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let existing = match store.user(name).await {
        Ok(Some(user)) => user,
        Ok(None) => {
            eprintln!("error: there is no user `{name}` (see `pharos user list`)");
            return exit::code(exit::NO_INPUT);
        }
        Err(error) => {
            eprintln!("error: cannot read the user: {error}");
            return exit::code(exit::UNAVAILABLE);
        }
    };
    let role = role.unwrap_or(existing.role);
    match store
        .update_user(name, &hash(password.clone()), role, Utc::now())
        .await
    {
        Ok(_) => {
            audit(
                store.as_ref(),
                "user.passwd",
                name,
                Some(format!("role {role}")),
            )
            .await;
            if generated {
                eprintln!("User `{name}` ({role}) has a new password; their sessions are ended. It is shown this once:");
                println!("{password}");
            } else {
                eprintln!("User `{name}` ({role}) has a new password; their sessions are ended.");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: cannot save the password: {error}");
            exit::code(exit::UNAVAILABLE)
        }
    }
}
