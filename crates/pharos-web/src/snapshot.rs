//! The rendered site: every page, feed and API answer as ready-to-send bytes (plain and
//! gzip) with an ETag, replaced as a whole after each render. Requests only read it.

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, RwLock};

#[derive(Clone)]
pub(crate) struct Rendered {
    pub(crate) content_type: &'static str,
    pub(crate) body: Bytes,
    /// Present when compression saves something.
    pub(crate) gzip: Option<Bytes>,
    pub(crate) etag: String,
    pub(crate) status: u16,
}

impl Rendered {
    pub(crate) fn new(content_type: &'static str, body: String) -> Self {
        Self::with_status(content_type, body, 200)
    }

    pub(crate) fn with_status(content_type: &'static str, body: String, status: u16) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!(
            "\"{}\"",
            digest
                .iter()
                .take(12)
                .map(|byte| format!("{byte:02x}"))
                .collect::<String>()
        );
        let gzip = (body.len() > 512).then(|| {
            let mut encoder =
                GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::default());
            let _ = encoder.write_all(body.as_bytes());
            Bytes::from(encoder.finish().unwrap_or_default())
        });
        let gzip =
            gzip.filter(|compressed| !compressed.is_empty() && compressed.len() < body.len());
        Self {
            content_type,
            body: Bytes::from(body),
            gzip,
            etag,
            status,
        }
    }
}

/// Rendered documents by request path.
#[derive(Default)]
pub(crate) struct PageSet {
    pub(crate) pages: HashMap<String, Rendered>,
    pub(crate) not_found: Option<Rendered>,
}

/// The current page set, swapped atomically by the renderer.
#[derive(Clone, Default)]
pub struct PageCache {
    current: Arc<RwLock<Arc<PageSet>>>,
}

impl PageCache {
    pub(crate) fn get(&self) -> Arc<PageSet> {
        self.current
            .read()
            .map(|set| set.clone())
            .unwrap_or_default()
    }

    pub(crate) fn replace(&self, set: PageSet) {
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(set);
        }
    }

    /// Whether a first render has happened.
    pub fn is_ready(&self) -> bool {
        !self.get().pages.is_empty()
    }
}
