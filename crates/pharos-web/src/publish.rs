//! Publishing: the whole public site kept as static files in a directory, so that any static
//! host, object store or CDN can serve it from somewhere that does not share pharos's fate.
//! After every new view (at most every `SPACING`), each document whose bytes changed is
//! written to a temporary file beside it and renamed into place, so no reader ever sees half a
//! file; documents no longer part of the site are removed; then the hook runs.

use crate::export::file_for;
use crate::snapshot::{PageCache, PageSet};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::watch;

/// Views arriving closer together than this are published together.
const SPACING: Duration = Duration::from_secs(2);
/// The longest a hook may run before it is stopped.
const HOOK_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Publisher {
    cache: PageCache,
    dir: PathBuf,
    hook: Vec<String>,
    /// Each file written, with the tag of the bytes it holds.
    written: HashMap<PathBuf, String>,
}

/// What one publish changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Published {
    pub written: usize,
    pub removed: usize,
    pub unchanged: usize,
}

impl Publisher {
    pub fn new(cache: PageCache, dir: PathBuf, hook: Vec<String>) -> Self {
        Self {
            cache,
            dir,
            hook,
            written: HashMap::new(),
        }
    }

    /// Publishes every new view until shutdown.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut views = self.cache.subscribe();
        views.mark_changed();
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                changed = views.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
            let Some(view) = self.cache.view() else {
                continue;
            };
            let dir = self.dir.clone();
            let mut written = std::mem::take(&mut self.written);
            let outcome = tokio::task::spawn_blocking(move || {
                let result = publish(&dir, view, &mut written);
                (result, written)
            })
            .await;
            match outcome {
                Ok((Ok(published), written)) => {
                    self.written = written;
                    if published.written + published.removed > 0 {
                        tracing::info!(
                            dir = %self.dir.display(),
                            written = published.written,
                            removed = published.removed,
                            "published the site"
                        );
                        self.run_hook().await;
                    }
                }
                Ok((Err(error), written)) => {
                    self.written = written;
                    tracing::error!(dir = %self.dir.display(), %error, "cannot publish the site; trying again at the next change");
                }
                Err(error) => tracing::error!(%error, "the publish task failed"),
            }
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tokio::time::sleep(SPACING) => {}
            }
        }
    }

    async fn run_hook(&self) {
        let Some((program, args)) = self.hook.split_first() else {
            return;
        };
        let run = tokio::process::Command::new(program)
            .args(args)
            .env("PHAROS_PUBLISH_DIR", &self.dir)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        match tokio::time::timeout(HOOK_TIMEOUT, run).await {
            Ok(Ok(output)) if output.status.success() => {
                tracing::info!(hook = %program, "publish hook done");
            }
            Ok(Ok(output)) => {
                let said = String::from_utf8_lossy(&output.stderr);
                let said: String = said.trim().chars().take(500).collect();
                tracing::warn!(hook = %program, status = %output.status, stderr = %said, "publish hook failed");
            }
            Ok(Err(error)) => tracing::warn!(hook = %program, %error, "publish hook did not run"),
            Err(_) => {
                tracing::warn!(hook = %program, "publish hook stopped after {} s", HOOK_TIMEOUT.as_secs())
            }
        }
    }
}

/// Writes the site of `view` under `dir`, touching only what changed since `written`.
fn publish(
    dir: &Path,
    view: std::sync::Arc<crate::view::StatusView>,
    written: &mut HashMap<PathBuf, String>,
) -> std::io::Result<Published> {
    let (documents, not_found) = PageSet::render_all(view);
    let mut published = Published::default();
    let mut present = HashMap::with_capacity(documents.len() + 1);
    let all = documents
        .iter()
        .map(|(path, rendered)| (file_for(dir, path, rendered), rendered))
        .chain(std::iter::once((dir.join("404.html"), &not_found)));
    for (file, rendered) in all {
        let unchanged = match written.get(&file) {
            Some(tag) => *tag == rendered.etag,
            // Not written by this run: what is on disk may already be it (after a restart).
            None => std::fs::read(&file).is_ok_and(|bytes| bytes == rendered.body[..]),
        };
        if unchanged {
            published.unchanged += 1;
        } else {
            write_atomically(&file, &rendered.body)?;
            published.written += 1;
        }
        present.insert(file, rendered.etag.clone());
    }
    for gone in written.keys().filter(|file| !present.contains_key(*file)) {
        match std::fs::remove_file(gone) {
            Ok(()) => published.removed += 1,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    *written = present;
    Ok(published)
}

/// Writes `file` so that a reader sees the old bytes or the new ones, never part of them.
fn write_atomically(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = file
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("file");
    let temporary = parent.join(format!(".{name}.pharos-{}", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, file).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}
