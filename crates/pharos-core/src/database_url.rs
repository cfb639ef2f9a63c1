//! Where pharos keeps its data, as configured: a SQLite path or `sqlite:` URL, or a server URL
//! such as `postgres://user:password@host/db`. Shown anywhere (logs, errors, `Debug`), the
//! password reads `[redacted]`.

use std::fmt;

/// The database location as written in the configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

/// Which store a URL calls for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl DatabaseUrl {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The location in full, password included: only for opening the database.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The backend the URL calls for: `postgres://` or `postgresql://` for PostgreSQL,
    /// anything else (`sqlite:` URLs and plain paths) for SQLite.
    pub fn backend(&self) -> Backend {
        let lower = self.0.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Whether a PostgreSQL URL names a server: `postgres://user:password@host:port/db`.
    pub fn check_postgres(&self) -> Result<(), String> {
        let rest = self.0.split_once("://").map_or("", |(_, rest)| rest);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host);
        if host.is_empty() && !rest.contains("host=") {
            return Err(
                "name the server, e.g. postgres://pharos@db.example.com:5432/pharos".into(),
            );
        }
        if self.0.chars().any(char::is_whitespace) {
            return Err("a URL cannot contain spaces; percent-encode them (%20)".into());
        }
        Ok(())
    }

    /// The location with any password replaced by `[redacted]`.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return self.0.clone();
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:[redacted]@{host}{tail}"),
                None => self.0.clone(),
            },
            None => self.0.clone(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows() {
        let url = DatabaseUrl::new(
            "postgres://pharos:s3cr3t@db.example.test:5432/pharos?sslmode=require",
        );
        assert_eq!(url.backend(), Backend::Postgres);
        assert_eq!(
            url.to_string(),
            "postgres://pharos:[redacted]@db.example.test:5432/pharos?sslmode=require"
        );
        assert!(!format!("{url:?}").contains("s3cr3t"));
        assert!(url.expose().contains("s3cr3t"));
        assert_eq!(url.check_postgres(), Ok(()));
        assert!(DatabaseUrl::new("postgres:///pharos")
            .check_postgres()
            .is_err());
        assert!(DatabaseUrl::new("postgres:///pharos?host=/run/postgresql")
            .check_postgres()
            .is_ok());
    }

    #[test]
    fn paths_and_sqlite_urls_are_sqlite() {
        for text in [
            "pharos.db",
            "/var/lib/pharos/pharos.db",
            "sqlite://pharos.db",
            "sqlite::memory:",
        ] {
            let url = DatabaseUrl::new(text);
            assert_eq!(url.backend(), Backend::Sqlite, "{text}");
            assert_eq!(url.to_string(), text);
        }
    }
}
