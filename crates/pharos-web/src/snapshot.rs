//! The rendered site: every page, feed and API answer as ready-to-send bytes (plain and
//! gzip) with an ETag. Each render puts a new view in place with the overview already
//! rendered; any other document is rendered on its first request and kept until the next
//! view. A document is compressed only when its bytes changed since it was last rendered.

use crate::site::{self, Document};
use crate::view::StatusView;
use crate::zero_copy::{MemoryFiles, Registration};
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

#[derive(Clone)]
pub(crate) struct Rendered {
    pub(crate) content_type: &'static str,
    pub(crate) body: Bytes,
    /// Present when compression saves something.
    pub(crate) gzip: Option<Bytes>,
    pub(crate) etag: String,
    /// The ETag as a ready header value: answers are served many times, built once.
    pub(crate) etag_header: Option<axum::http::HeaderValue>,
    pub(crate) status: u16,
    /// The body's memory file, when it is large enough to be sent from one.
    pub(crate) file: Option<Arc<Registration>>,
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
            etag_header: axum::http::HeaderValue::from_str(&etag).ok(),
            etag,
            status,
            file: None,
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

    /// Takes the bytes (body, gzip, memory file) of `previous` if it holds the same
    /// document, else compresses anew and puts a large body in a memory file. Returns
    /// whether it compressed.
    fn compress_unless_same(
        &mut self,
        previous: Option<&Rendered>,
        files: Option<&Arc<MemoryFiles>>,
    ) -> bool {
        match previous {
            Some(previous) if previous.etag == self.etag && previous.body == self.body => {
                self.body = previous.body.clone();
                self.gzip = previous.gzip.clone();
                self.file = previous.file.clone();
                false
            }
            _ => {
                self.compress();
                self.file = files
                    .and_then(|files| files.register(&self.body))
                    .map(Arc::new);
                true
            }
        }
    }
}

/// The documents of one view: the overview rendered ahead, every other document on its
/// first request, then kept until the next view replaces the whole set.
#[derive(Default)]
pub(crate) struct PageSet {
    view: Option<Arc<StatusView>>,
    /// One cell per path: when a crowd asks for a document nobody asked for yet in this view
    /// (an incident's page, right after it changed), one request renders it and the others
    /// wait for that render instead of doing it again.
    rendered: RwLock<HashMap<String, Arc<OnceLock<Arc<Rendered>>>>>,
    /// The previous set's documents not rendered again yet: an unchanged document takes its
    /// compressed bytes instead of being compressed anew.
    previous: Mutex<HashMap<String, Arc<Rendered>>>,
    /// How many documents this set has rendered.
    renders: std::sync::atomic::AtomicUsize,
    /// Where large bodies are put to be sent without a copy (none for an export).
    files: Option<Arc<MemoryFiles>>,
}

/// The key the not-found page is kept under (no request path looks like it).
const NOT_FOUND: &str = "\0not-found";

impl PageSet {
    /// The document at `path` (without a trailing slash), or the not-found page; `None`
    /// before the first view.
    pub(crate) fn get(&self, path: &str) -> Option<Arc<Rendered>> {
        if let Some(found) = self.kept(path) {
            return Some(found);
        }
        self.view.as_ref()?;
        if let (Some(rendered), _) = self.render_path(path) {
            return Some(rendered);
        }
        match self.kept(NOT_FOUND) {
            Some(not_found) => Some(not_found),
            None => Some(self.render(NOT_FOUND, &Document::NotFound).0),
        }
    }

    /// The answer for `path` if it needs no render: the document when it is kept, the
    /// not-found page when there is no such document and that page is kept.
    pub(crate) fn ready(&self, path: &str) -> Option<Arc<Rendered>> {
        if let Some(found) = self.kept(path) {
            return Some(found);
        }
        let view = self.view.as_ref()?;
        match site::resolve(view, path) {
            Some(_) => None,
            None => self.kept(NOT_FOUND),
        }
    }

    /// The document kept under `key`, if it was rendered already.
    pub(crate) fn kept(&self, key: &str) -> Option<Arc<Rendered>> {
        let kept = self.rendered.read().ok()?;
        kept.get(key)?.get().cloned()
    }

    /// Renders and keeps the document at `path`, if there is one; says whether it was
    /// compressed anew.
    fn render_path(&self, path: &str) -> (Option<Arc<Rendered>>, bool) {
        let document = self
            .view
            .as_ref()
            .and_then(|view| site::resolve(view, path));
        match document {
            Some(document) => {
                let (rendered, compressed) = self.render(path, &document);
                (Some(rendered), compressed)
            }
            None => (None, false),
        }
    }

    /// Renders and keeps one document under `key`; says whether it was compressed anew.
    fn render(&self, key: &str, document: &Document) -> (Arc<Rendered>, bool) {
        let Some(view) = self.view.as_ref() else {
            return (Arc::new(Rendered::new(site::HTML, String::new())), false);
        };
        let cell = match self.rendered.write() {
            Ok(mut kept) => kept.entry(key.to_owned()).or_default().clone(),
            Err(_) => Arc::new(OnceLock::new()),
        };
        let mut compressed = false;
        let rendered = cell.get_or_init(|| {
            self.renders
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut rendered = site::render(view, document);
            let previous = self
                .previous
                .lock()
                .ok()
                .and_then(|mut previous| previous.remove(key));
            compressed = rendered.compress_unless_same(previous.as_deref(), self.files.as_ref());
            Arc::new(rendered)
        });
        (rendered.clone(), compressed)
    }

    /// Every document of the view, by path, for a static export.
    pub(crate) fn render_all(
        view: Arc<StatusView>,
    ) -> (Vec<(String, Arc<Rendered>)>, Arc<Rendered>) {
        let set = PageSet {
            view: Some(view.clone()),
            ..PageSet::default()
        };
        let documents = site::paths(&view)
            .into_iter()
            .filter_map(|path| {
                let rendered = set.render_path(&path).0?;
                Some((path, rendered))
            })
            .collect();
        let not_found = set.render(NOT_FOUND, &Document::NotFound).0;
        (documents, not_found)
    }

    /// How many documents are rendered so far.
    #[cfg(test)]
    pub(crate) fn rendered_count(&self) -> usize {
        self.rendered
            .read()
            .map(|kept| kept.values().filter(|cell| cell.get().is_some()).count())
            .unwrap_or(0)
    }
}

/// The current page set, swapped atomically by the renderer.
#[derive(Clone)]
pub struct PageCache {
    current: Arc<RwLock<Arc<PageSet>>>,
    /// Counts the views put in place, for whoever follows every change (the publisher).
    version: Arc<tokio::sync::watch::Sender<u64>>,
    files: Arc<MemoryFiles>,
}

impl Default for PageCache {
    fn default() -> Self {
        Self {
            current: Arc::default(),
            version: Arc::new(tokio::sync::watch::channel(0).0),
            files: Arc::default(),
        }
    }
}

impl PageCache {
    pub(crate) fn get(&self) -> Arc<PageSet> {
        self.current
            .read()
            .map(|set| set.clone())
            .unwrap_or_default()
    }

    /// Puts the documents of a new view in place, the overview rendered before readers see
    /// it; returns how many of those were compressed anew.
    pub(crate) fn replace(&self, view: StatusView) -> usize {
        // Only what was asked for during the last view is carried: a document nobody reads
        // is not kept for ever.
        let carried: HashMap<String, Arc<Rendered>> = self
            .get()
            .rendered
            .read()
            .map(|rendered| {
                rendered
                    .iter()
                    .filter_map(|(path, cell)| Some((path.clone(), cell.get()?.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let set = PageSet {
            view: Some(Arc::new(view)),
            previous: Mutex::new(carried),
            files: Some(self.files.clone()),
            ..PageSet::default()
        };
        let compressed = site::AHEAD
            .iter()
            .filter(|path| set.render_path(path).1)
            .count();
        if let Ok(mut current) = self.current.write() {
            *current = Arc::new(set);
        }
        self.version.send_modify(|version| *version += 1);
        compressed
    }

    /// Follows every new view.
    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// The view in place, once there is one.
    pub(crate) fn view(&self) -> Option<Arc<StatusView>> {
        self.get().view.clone()
    }

    /// The memory files large documents are sent from; the server's connections need them.
    pub fn memory_files(&self) -> Arc<MemoryFiles> {
        self.files.clone()
    }

    /// Whether a first render has happened.
    pub fn is_ready(&self) -> bool {
        self.get().view.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn view(title: &str) -> StatusView {
        let config = pharos_config::parse(
            "s.toml",
            &format!(
                "[page]\ntitle = \"{title}\"\n[[components]]\nid = \"mail\"\nname = \"Mail\"\n"
            ),
            &|_| None,
        )
        .unwrap();
        let now = Utc.with_ymd_and_hms(2027, 1, 1, 12, 0, 0).unwrap();
        StatusView::build(&config, &Default::default(), vec![], &[], &[], now)
    }

    #[test]
    fn only_changed_documents_are_compressed_again() {
        let cache = PageCache::default();
        assert_eq!(cache.replace(view("Status")), site::AHEAD.len());
        assert_eq!(cache.replace(view("Status")), 0, "same bytes, same gzip");
        assert_eq!(cache.replace(view("Other")), site::AHEAD.len());
        let current = cache.get();
        let index = current.get("/").expect("rendered");
        let gzip = index.gzip.as_ref().expect("compressed");
        assert!(gzip.len() < index.body.len());
    }

    #[test]
    fn documents_other_than_the_overview_wait_for_their_first_reader() {
        let cache = PageCache::default();
        cache.replace(view("Status"));
        let set = cache.get();
        assert_eq!(set.rendered_count(), site::AHEAD.len());
        let history = set.get("/history").expect("a history page");
        assert_eq!(history.status, 200);
        assert_eq!(set.rendered_count(), site::AHEAD.len() + 1);
        let again = set.get("/history").expect("kept");
        assert!(Arc::ptr_eq(&history, &again), "rendered once per view");
        let component = set.get("/components/mail").expect("a component page");
        assert!(String::from_utf8_lossy(&component.body).contains("Mail"));
        assert_eq!(set.get("/components/nope").expect("not found").status, 404);
        assert_eq!(set.get("/incidents/7").expect("not found").status, 404);
        assert_eq!(set.get("/api/v1/status.json").expect("alias").status, 200);
        assert_eq!(set.get("/history.json").expect("not found").status, 404);
        assert_eq!(
            set.ready("/any/unknown/path").map(|found| found.status),
            Some(404),
            "unknown paths need no render once the not-found page is kept"
        );
        assert!(
            set.ready("/feed.rss").is_none(),
            "a document not rendered yet"
        );
    }

    /// Before: every request arriving before a document was rendered rendered it too, so a
    /// crowd on a fresh incident page rendered it once per reader.
    #[test]
    fn a_crowd_asking_for_one_new_document_renders_it_once() {
        let cache = PageCache::default();
        cache.replace(view("Status"));
        let set = cache.get();
        let before = set.renders.load(std::sync::atomic::Ordering::Relaxed);
        let start = std::sync::Barrier::new(16);
        std::thread::scope(|scope| {
            for _ in 0..16 {
                scope.spawn(|| {
                    start.wait();
                    assert_eq!(set.get("/api/v1/components").unwrap().status, 200);
                });
            }
        });
        let renders = set.renders.load(std::sync::atomic::Ordering::Relaxed) - before;
        assert_eq!(renders, 1, "16 readers, one render");
    }
}
