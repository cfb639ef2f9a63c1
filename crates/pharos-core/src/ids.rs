//! Identifiers of configured things: short, user-chosen slugs such as `smtp-submission`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

macro_rules! slug_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl $name {
            pub fn new(id: impl Into<Arc<str>>) -> Self {
                Self(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_id!(
    /// The id of a monitor, unique within a configuration.
    MonitorId
);
slug_id!(
    /// The id of a component, unique within a configuration.
    ComponentId
);
