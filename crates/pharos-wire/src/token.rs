//! Agent tokens: 256 random bits, shown once when made; the server keeps only their SHA-256
//! (a token this random needs no slow hash: nobody can guess one from its digest).

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every agent token starts with this, so one found in a log or a file is recognisable.
pub const PREFIX: &str = "pharos_agent_";

/// A new random agent token.
pub fn generate() -> String {
    random(PREFIX)
}

/// 256 random bits after `prefix`, URL-safe (agent and API tokens, session cookies).
pub fn random(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// What the server keeps of a token: its SHA-256, in hex.
pub fn digest(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_and_kept_only_as_digests() {
        let (one, two) = (generate(), generate());
        assert_ne!(one, two);
        assert!(
            one.starts_with(PREFIX) && one.len() == PREFIX.len() + 43,
            "{one}"
        );
        assert_eq!(
            digest(&one),
            digest(&format!("{one}\n")),
            "a file's newline does not count"
        );
        assert_ne!(digest(&one), digest(&two));
        assert_eq!(digest(&one).len(), 64);
        assert!(!digest(&one).contains(&one[PREFIX.len()..]));
    }
}
