//! Standard Webhooks signatures: HMAC-SHA256 over `id.timestamp.body`, keyed with the
//! base64-decoded part of a `whsec_` secret, sent as `v1,<base64>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the secret is not `whsec_` followed by base64")]
    BadSecret,
    #[error("no signature matches")]
    Mismatch,
    #[error("the timestamp is too far from now")]
    Stale,
}

fn key(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .map_err(|_| SignatureError::BadSecret)
}

fn mac(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` header value for one delivery.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let signature = mac(&key(secret)?, id, timestamp, body)
        .finalize()
        .into_bytes();
    Ok(format!("v1,{}", STANDARD.encode(signature)))
}

/// Checks a `webhook-signature` header (space-separated `v1,<base64>` entries) as a receiver
/// would, in constant time, refusing timestamps more than `tolerance_seconds` from `now`.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
    header: &str,
    now: i64,
    tolerance_seconds: i64,
) -> Result<(), SignatureError> {
    if (now - timestamp).abs() > tolerance_seconds {
        return Err(SignatureError::Stale);
    }
    let key = key(secret)?;
    for candidate in header.split_whitespace() {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(signature) = STANDARD.decode(encoded) else {
            continue;
        };
        if mac(&key, id, timestamp, body)
            .verify_slice(&signature)
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks specification.
    #[test]
    fn matches_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let timestamp = 1614265330;
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(secret, id, timestamp, body).unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_eq!(
            verify(secret, id, timestamp, body, &signature, timestamp, 300),
            Ok(())
        );
        assert_eq!(
            verify(
                secret,
                id,
                timestamp,
                b"tampered",
                &signature,
                timestamp,
                300
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(
                secret,
                id,
                timestamp,
                body,
                &signature,
                timestamp + 301,
                300
            ),
            Err(SignatureError::Stale)
        );
    }
}
