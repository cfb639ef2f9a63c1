//! Passwords (argon2id, in PHC strings), the rules a new one must meet, and the random
//! secrets handed out once: generated passwords, session cookies and API tokens, kept only
//! as digests.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

/// The shortest password accepted; long enough that guessing is hopeless at argon2's cost.
pub const PASSWORD_MIN: usize = 12;
/// The longest accepted, so that hashing cost stays bounded.
pub const PASSWORD_MAX: usize = 1_024;

/// Every API token starts with this, so one found in a log or a file is recognisable.
pub const API_TOKEN_PREFIX: &str = "pharos_api_";

/// A user's name: 1 to 64 letters, digits, `.`, `-`, `_` or `@` (an email address will do).
pub fn is_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
}

/// Why a password is refused, in words for the person choosing it.
pub fn password_problem(password: &str) -> Option<String> {
    let length = password.chars().count();
    if length < PASSWORD_MIN {
        return Some(format!(
            "a password must have at least {PASSWORD_MIN} characters (this one has {length})"
        ));
    }
    if length > PASSWORD_MAX {
        return Some(format!(
            "a password must have at most {PASSWORD_MAX} characters"
        ));
    }
    if password.chars().any(char::is_control) {
        return Some("a password cannot hold control characters".into());
    }
    None
}

/// The argon2id hash of `password` (OWASP's parameters: 19 MiB, 2 passes), with a random salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes are a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with its default parameters hashes any password")
        .to_string()
}

/// Whether `password` matches `hash`; a malformed hash matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash nobody's password matches, verified when a login names no user so that the answer
/// takes as long as for a real one (no telling which names exist by the time taken).
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&pharos_wire::token::random("decoy-")))
}

/// A new password of 24 characters (about 143 bits), for `pharos user add` without one.
pub fn generate_password() -> String {
    pharos_wire::token::random("")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect()
}

/// A session cookie's value.
pub fn session_secret() -> String {
    pharos_wire::token::random("")
}

/// A new API token.
pub fn api_token() -> String {
    pharos_wire::token::random(API_TOKEN_PREFIX)
}

/// A Standard Webhooks signing secret's key part (base64 of 24 random bytes; `whsec_` goes
/// before it).
pub fn webhook_secret() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A new short id for a record (`m-3f9a1c2d`): `prefix`, a dash and `length` hex digits.
pub fn short_id(prefix: &str, length: usize) -> String {
    format!("{prefix}-{}", &digest(&session_secret())[..length])
}

/// What the store keeps of a cookie or token: its SHA-256 in hex (they are random enough
/// that no slow hash is needed).
pub fn digest(secret: &str) -> String {
    pharos_wire::token::digest(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse batterY"));
        assert!(!verify_password("not a hash", "correct horse battery"));
        assert_ne!(hash, hash_password("correct horse battery"), "salted");
    }

    #[test]
    fn short_long_and_control_character_passwords_are_refused() {
        assert!(password_problem("short").unwrap().contains("at least 12"));
        assert!(password_problem(&"x".repeat(2_000)).is_some());
        assert!(password_problem("twelve chars\u{7}!").is_some());
        assert_eq!(password_problem("a good long password"), None);
        let generated = generate_password();
        assert_eq!(generated.len(), 24);
        assert_eq!(password_problem(&generated), None);
    }
}
