//! Who is asking: an operator logged in with a session cookie, or a bearer token (a user's
//! API token, or the configuration's `admin_token`), with their role and what their
//! credential allows; and the audit log entries made in their name.

use crate::router::WebState;
use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use chrono::Utc;
use pharos_core::{Permission, Role};
use pharos_store::{AuditEntry, StoreResult};
use std::net::IpAddr;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "pharos_session";
/// A session ends this long after login, whatever happens in between.
pub(crate) const SESSION_LIFETIME: chrono::Duration = chrono::Duration::hours(12);

/// How the operator proved who they are.
#[derive(Clone, Debug)]
pub(crate) enum Credential {
    /// A browser session; its forms must carry `csrf`.
    Session { token_hash: String, csrf: String },
    /// A user's API token, limited to its scopes.
    ApiToken { id: String, scopes: Vec<Permission> },
    /// The configuration's `admin_token`: an admin without a user.
    ConfigToken,
}

/// An authenticated operator.
#[derive(Clone, Debug)]
pub(crate) struct Operator {
    /// The user's name (`admin_token` for the configured token).
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) credential: Credential,
    pub(crate) address: IpAddr,
}

impl Operator {
    /// How the audit log names them: `user:ada`, `token:3f9a1c (ada)`, `config:admin_token`.
    pub(crate) fn actor(&self) -> String {
        match &self.credential {
            Credential::Session { .. } => format!("user:{}", self.name),
            Credential::ApiToken { id, .. } => format!("token:{id} ({})", self.name),
            Credential::ConfigToken => "config:admin_token".into(),
        }
    }

    /// Whether they may do what needs `permission`: their role, and a token's scopes.
    pub(crate) fn may(&self, permission: Permission) -> bool {
        match &self.credential {
            Credential::ApiToken { scopes, .. } => {
                pharos_core::token_allows(self.role, scopes, permission)
            }
            Credential::Session { .. } | Credential::ConfigToken => self.role.allows(permission),
        }
    }

    /// The session's CSRF token, for its forms.
    pub(crate) fn csrf(&self) -> &str {
        match &self.credential {
            Credential::Session { csrf, .. } => csrf,
            _ => "",
        }
    }

    /// Appends to the audit log in their name. The action has happened; a log that does not
    /// take the entry is reported, not undone.
    pub(crate) async fn audit(
        &self,
        state: &WebState,
        action: &str,
        target: Option<String>,
        detail: Option<String>,
    ) {
        record(state, self.actor(), self.address, action, target, detail).await;
    }
}

/// Appends one entry to the audit log (or says in the log why it could not).
pub(crate) async fn record(
    state: &WebState,
    actor: String,
    address: IpAddr,
    action: &str,
    target: Option<String>,
    detail: Option<String>,
) {
    let entry = AuditEntry {
        id: 0,
        at: Utc::now(),
        actor,
        action: action.into(),
        target,
        detail,
        address: Some(address.to_string()),
    };
    if let Err(error) = state.store.record_audit(&entry).await {
        tracing::error!(%error, action, actor = %entry.actor, "the audit log did not take an entry");
    }
}

/// The session cookie's value, if the request carries one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// The operator whose session this request carries, if it is live.
pub(crate) async fn from_session(
    state: &WebState,
    headers: &HeaderMap,
    address: IpAddr,
) -> StoreResult<Option<Operator>> {
    let Some(cookie) = session_cookie(headers) else {
        return Ok(None);
    };
    let token_hash = crate::credentials::digest(cookie);
    Ok(state
        .store
        .session(&token_hash, Utc::now())
        .await?
        .map(|(session, user)| Operator {
            name: user.name,
            role: user.role,
            credential: Credential::Session {
                token_hash,
                csrf: session.csrf,
            },
            address,
        }))
}

/// The operator a user's API token belongs to, if the token is live.
pub(crate) async fn from_api_token(
    state: &WebState,
    token: &str,
    address: IpAddr,
) -> StoreResult<Option<Operator>> {
    let digest = crate::credentials::digest(token);
    Ok(state
        .store
        .use_api_token(&digest, Utc::now())
        .await?
        .map(|(token, user)| Operator {
            name: user.name,
            role: user.role,
            credential: Credential::ApiToken {
                id: token.id,
                scopes: token.scopes,
            },
            address,
        }))
}

/// `Set-Cookie` for a new session: HTTP only, same-site strict, for the admin's paths,
/// `Secure` when the public address is HTTPS.
pub(crate) fn session_set_cookie(value: &str, secure: bool) -> HeaderValue {
    cookie(value, SESSION_LIFETIME.num_seconds(), secure)
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn session_clear_cookie(secure: bool) -> HeaderValue {
    cookie("", 0, secure)
}

fn cookie(value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("pharos_session=; Path=/admin; Max-Age=0"))
}

/// Whether two secrets are equal, in time independent of where they differ.
pub(crate) fn same_secret(left: &str, right: &str) -> bool {
    use sha2::{Digest, Sha256};
    Sha256::digest(left.as_bytes()) == Sha256::digest(right.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("theme=dark; pharos_session=abc123 ; other=1"),
        );
        assert_eq!(session_cookie(&headers), Some("abc123"));
        headers.insert(COOKIE, HeaderValue::from_static("pharos_session="));
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn session_cookies_are_http_only_strict_and_secure_over_https() {
        let set = session_set_cookie("v", true);
        let set = set.to_str().unwrap();
        for flag in [
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/admin",
            "Max-Age=43200",
        ] {
            assert!(set.contains(flag), "{set}");
        }
        assert!(!session_set_cookie("v", false)
            .to_str()
            .unwrap()
            .contains("Secure"));
        assert!(session_clear_cookie(false)
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
    }
}
