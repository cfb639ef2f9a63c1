-- Operators of the admin: passwords as argon2id hashes (PHC strings), one role each.
CREATE TABLE users (
    name TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);

-- Logged-in browsers: the cookie only as its SHA-256. Removed on logout, and with every
-- session of the user when their password or role changes or they are removed.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_name TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    address TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_name);

-- API tokens per user, with scopes (comma-separated: read, incidents, admin).
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_name TEXT NOT NULL,
    label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);

-- Who did what when: logins, updates, edits, token use. Only ever appended to.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT,
    address TEXT
);
