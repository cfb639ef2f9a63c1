//! What the store keeps about subscribers: who is told about incidents and maintenance, how,
//! and about which components.

use chrono::{DateTime, Utc};
use pharos_core::ComponentId;

/// How long a confirmation link works; a sign-up not confirmed by then is forgotten.
pub const CONFIRMATION_WORKS_FOR: chrono::Duration = chrono::Duration::days(2);

/// How a subscriber is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubscriberKind {
    Email,
    Webhook,
}

impl SubscriberKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberKind::Email => "email",
            SubscriberKind::Webhook => "webhook",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [SubscriberKind::Email, SubscriberKind::Webhook]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

/// One subscriber.
#[derive(Clone, PartialEq, Eq)]
pub struct SubscriberRecord {
    pub id: String,
    pub kind: SubscriberKind,
    /// An email address, or a webhook's URL.
    pub address: String,
    /// The components they follow; every one when empty.
    pub components: Vec<ComponentId>,
    /// A webhook's signing secret.
    pub secret: Option<String>,
    /// The SHA-256 of an email's pending confirmation token.
    pub confirm_hash: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the address was confirmed (webhooks are confirmed when made).
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The client address that signed up.
    pub signed_up_from: Option<String>,
}

impl SubscriberRecord {
    /// Whether they follow any of `components` (and are confirmed).
    pub fn follows(&self, components: &[ComponentId]) -> bool {
        self.confirmed_at.is_some()
            && (self.components.is_empty()
                || components.iter().any(|id| self.components.contains(id)))
    }
}

impl std::fmt::Debug for SubscriberRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriberRecord")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("address", &self.address)
            .field("components", &self.components)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("confirm_hash", &self.confirm_hash)
            .field("created_at", &self.created_at)
            .field("confirmed_at", &self.confirmed_at)
            .field("signed_up_from", &self.signed_up_from)
            .finish()
    }
}
