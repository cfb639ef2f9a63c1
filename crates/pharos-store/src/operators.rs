//! What the store keeps about operators: users, their sessions, API tokens and the audit log.
//! Passwords, session cookies and tokens are kept only as hashes.

use chrono::{DateTime, Utc};
use pharos_core::{Permission, Role};

/// An operator of the admin.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    /// The password's argon2id hash in PHC form.
    pub password_hash: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub password_changed_at: DateTime<Utc>,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("name", &self.name)
            .field("password_hash", &"[redacted]")
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("password_changed_at", &self.password_changed_at)
            .finish()
    }
}

/// A logged-in browser: the cookie is kept only as its SHA-256; the CSRF token is sent in
/// every form of the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_hash: String,
    pub user: String,
    pub csrf: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub address: Option<String>,
}

/// An API token of a user, with the scopes it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// A short public id, shown in lists and used to revoke it.
    pub id: String,
    pub user: String,
    pub label: String,
    pub token_hash: String,
    pub scopes: Vec<Permission>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One thing someone did: who (`user:name`, `token:id`, `config:admin_token`, `cli`), what
/// (`login`, `incident.update`, …), on what, with details, from where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// Given by the store; 0 on an entry not written yet.
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub address: Option<String>,
}
