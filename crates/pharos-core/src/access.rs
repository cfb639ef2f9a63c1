//! Who may do what: operators' roles, API tokens' scopes, and the permission an action needs.

use std::fmt;

/// What an action needs. Token scopes are the same words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// See the admin: components, monitors, incidents, deliveries, the audit log.
    Read,
    /// Run incidents and maintenance: open, update, resolve, reopen.
    Incidents,
    /// Users, tokens, reloads and settings.
    Admin,
}

impl Permission {
    pub const ALL: [Permission; 3] = [Permission::Read, Permission::Incidents, Permission::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Incidents => "incidents",
            Permission::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == text)
    }

    /// Reads a comma-separated list of scopes (`read,incidents`), naming the first unknown one.
    pub fn parse_list(text: &str) -> Result<Vec<Permission>, String> {
        let mut scopes = Vec::new();
        for word in text
            .split(',')
            .map(str::trim)
            .filter(|word| !word.is_empty())
        {
            let scope = Permission::parse(word)
                .ok_or_else(|| format!("unknown scope `{word}`: use read, incidents or admin"))?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err("give at least one scope: read, incidents or admin".into());
        }
        scopes.sort();
        Ok(scopes)
    }

    /// Scopes as stored and shown: `read,incidents`.
    pub fn join(scopes: &[Permission]) -> String {
        scopes
            .iter()
            .map(|scope| scope.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operator's role: each includes the ones below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads the admin.
    Viewer,
    /// Runs incidents and maintenance.
    Editor,
    /// Manages users, tokens and settings.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Editor, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Whether this role may do what needs `permission`.
    pub fn allows(self, permission: Permission) -> bool {
        match permission {
            Permission::Read => true,
            Permission::Incidents => self >= Role::Editor,
            Permission::Admin => self == Role::Admin,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a token with `scopes`, held by a user of `role`, may do what needs `permission`:
/// the token's scope must name it and its owner's role must still allow it (a user moved to
/// a lesser role loses what their old tokens said).
pub fn token_allows(role: Role, scopes: &[Permission], permission: Permission) -> bool {
    role.allows(permission)
        && scopes.iter().any(|scope| match scope {
            // A wider scope includes the narrower ones.
            Permission::Admin => true,
            Permission::Incidents => permission != Permission::Admin,
            Permission::Read => permission == Permission::Read,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_include_the_ones_below() {
        assert!(Role::Viewer.allows(Permission::Read));
        assert!(!Role::Viewer.allows(Permission::Incidents));
        assert!(Role::Editor.allows(Permission::Incidents));
        assert!(!Role::Editor.allows(Permission::Admin));
        assert!(Role::Admin.allows(Permission::Admin));
    }

    #[test]
    fn a_token_needs_both_its_scope_and_its_owners_role() {
        let read = [Permission::Read];
        assert!(token_allows(Role::Admin, &read, Permission::Read));
        assert!(!token_allows(Role::Admin, &read, Permission::Incidents));
        let incidents = [Permission::Incidents];
        assert!(token_allows(Role::Editor, &incidents, Permission::Read));
        assert!(token_allows(
            Role::Editor,
            &incidents,
            Permission::Incidents
        ));
        assert!(!token_allows(
            Role::Viewer,
            &incidents,
            Permission::Incidents
        ));
        let admin = [Permission::Admin];
        assert!(!token_allows(Role::Editor, &admin, Permission::Admin));
        assert!(token_allows(Role::Admin, &admin, Permission::Admin));
    }

    #[test]
    fn scope_lists_are_read_sorted_and_unknown_words_named() {
        assert_eq!(
            Permission::parse_list("incidents, read,read").unwrap(),
            vec![Permission::Read, Permission::Incidents]
        );
        assert!(Permission::parse_list("read,write")
            .unwrap_err()
            .contains("`write`"));
        assert!(Permission::parse_list(" , ").is_err());
    }
}
