//! SASL PLAIN and LOGIN encodings.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The SASL PLAIN initial response: base64 of `\0user\0password`.
pub(crate) fn plain(username: &str, password: &str) -> String {
    STANDARD.encode(format!("\0{username}\0{password}"))
}

pub(crate) fn base64(text: &str) -> String {
    STANDARD.encode(text)
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_matches_rfc_4616() {
        assert_eq!(
            super::plain("tim", "tanstaaftanstaaf"),
            "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"
        );
    }
}
