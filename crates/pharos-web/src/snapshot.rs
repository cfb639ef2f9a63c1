//! The rendered site: every page, feed and API answer as ready-to-send bytes (plain and
//! gzip) with an ETag, replaced as a whole after each render. Requests only read it. A
//! document is compressed only when its bytes changed since the last render.

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
        Self {
            content_type,
            body: Bytes::from(body),
            gzip: None,
            etag,
            status,
        }
    }

    /// Compresses the body, unless it is too small to gain.
    fn compress(&mut self) {
        let body = &self.body;
        let gzip = (body.len() > 512).then(|| {
            let mut encoder =
                GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::default());
            let _ = encoder.write_all(body);
            Bytes::from(encoder.finish().unwrap_or_default())
        });
        self.gzip =
            gzip.filter(|compressed| !compressed.is_empty() && compressed.len() < body.len());
    }

    /// Takes the compressed bytes of `previous` if it holds the same document, else
    /// compresses anew. Returns whether it compressed.
    fn compress_unless_same(&mut self, previous: Option<&Rendered>) -> bool {
        match previous {
            Some(previous) if previous.etag == self.etag && previous.body == self.body => {
                self.gzip = previous.gzip.clone();
                false
            }
            _ => {
                self.compress();
                true
            }
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

    /// Puts a new set in place, compressing only the documents that changed; returns how
    /// many were compressed.
    pub(crate) fn replace(&self, mut set: PageSet) -> usize {
        let previous = self.get();
        let mut compressed = 0;
        for (path, rendered) in set.pages.iter_mut() {
            compressed += usize::from(rendered.compress_unless_same(previous.pages.get(path)));
        }
        if let Some(not_found) = set.not_found.as_mut() {
            compressed += usize::from(not_found.compress_unless_same(previous.not_found.as_ref()));
        }
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(set);
        }
        compressed
    }

    /// Whether a first render has happened.
    pub fn is_ready(&self) -> bool {
        !self.get().pages.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pages: &[(&str, &str)]) -> PageSet {
        PageSet {
            pages: pages
                .iter()
                .map(|(path, body)| {
                    (
                        path.to_string(),
                        Rendered::new("text/html", body.repeat(100)),
                    )
                })
                .collect(),
            not_found: None,
        }
    }

    #[test]
    fn only_changed_documents_are_compressed_again() {
        let cache = PageCache::default();
        assert_eq!(
            cache.replace(set(&[("/", "status "), ("/history", "history ")])),
            2
        );
        assert_eq!(
            cache.replace(set(&[("/", "status "), ("/history", "history ")])),
            0
        );
        assert_eq!(
            cache.replace(set(&[("/", "status, changed "), ("/history", "history ")])),
            1
        );
        let current = cache.get();
        let gzip = current.pages["/history"]
            .gzip
            .as_ref()
            .expect("still compressed");
        assert!(gzip.len() < current.pages["/history"].body.len());
    }
}
