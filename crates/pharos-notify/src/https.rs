//! The HTTPS client of the HTTP channels: the one constructor, pharos-probe's.

pub use pharos_probe::{https_client, HttpsClient};
