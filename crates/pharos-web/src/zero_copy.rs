//! Sending large kept documents without copying them through user space. Serving a 300 KB
//! overview, nearly half of pharos's CPU went to the kernel copying each answer from memory
//! into the socket; nginx avoids that copy with `sendfile`. So a large rendered body is also
//! written once to a memory file, and a connection's write recognises those bytes among what
//! hyper asks it to send and has the kernel send them from the file instead. The head that
//! precedes such a body goes out with `MSG_MORE`, so that it shares its first segment rather
//! than costing the client a read of its own (what nginx's `tcp_nopush` does).

use bytes::Bytes;
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{ready, Context, Poll};
use tokio::io::Interest;
use tokio::net::TcpStream;

/// Bodies from this size on are sent from a memory file.
pub(crate) const FROM_FILE_SIZE: usize = 64 * 1024;
/// The most memory files held at once (each is a descriptor); larger documents beyond these
/// are sent the ordinary way.
const MAX_FILES: usize = 32;

/// The bodies held in memory files, by the address of their bytes.
#[derive(Default)]
pub struct MemoryFiles {
    regions: RwLock<Vec<Region>>,
    /// Bytes the kernel sent from memory files.
    sent: AtomicU64,
}

struct Region {
    start: usize,
    len: usize,
    file: Arc<File>,
}

/// A body's place among the memory files, given up when dropped (with the document). It
/// holds the body, so that its memory cannot be freed and reused by other bytes while its
/// address still names the file.
pub(crate) struct Registration {
    files: Arc<MemoryFiles>,
    start: usize,
    _body: Bytes,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Ok(mut regions) = self.files.regions.write() {
            regions.retain(|region| region.start != self.start);
        }
    }
}

impl MemoryFiles {
    /// Writes `body` to a new memory file and remembers where its bytes are; `None` (served
    /// the ordinary way) for a small body or when no memory file can be made.
    pub(crate) fn register(self: &Arc<Self>, body: &Bytes) -> Option<Registration> {
        if body.len() < FROM_FILE_SIZE || self.regions.read().ok()?.len() >= MAX_FILES {
            return None;
        }
        let fd =
            rustix::fs::memfd_create("pharos-document", rustix::fs::MemfdFlags::CLOEXEC).ok()?;
        let mut file = File::from(fd);
        file.write_all(body).ok()?;
        let start = body.as_ptr() as usize;
        self.regions.write().ok()?.push(Region {
            start,
            len: body.len(),
            file: Arc::new(file),
        });
        Some(Registration {
            files: self.clone(),
            start,
            _body: body.clone(),
        })
    }

    /// The memory file holding the `len` bytes at `address`, and their offset in it.
    fn find(&self, address: usize, len: usize) -> Option<(Arc<File>, u64)> {
        let regions = self.regions.read().ok()?;
        regions
            .iter()
            .find(|region| address >= region.start && address + len <= region.start + region.len)
            .map(|region| (region.file.clone(), (address - region.start) as u64))
    }

    /// Bytes sent from memory files so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

/// A TCP connection whose writes send registered bodies from their memory files.
pub(crate) struct ZeroCopyStream {
    io: hyper_util::rt::TokioIo<TcpStream>,
    files: Arc<MemoryFiles>,
}

impl ZeroCopyStream {
    pub(crate) fn new(stream: TcpStream, files: Arc<MemoryFiles>) -> Self {
        Self {
            io: hyper_util::rt::TokioIo::new(stream),
            files,
        }
    }

    /// Sends `len` bytes of a memory file from `offset`, as far as the socket takes them.
    fn poll_send_file(
        &self,
        cx: &mut Context<'_>,
        file: &File,
        offset: u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        let stream = self.io.inner();
        loop {
            ready!(stream.poll_write_ready(cx))?;
            let sent = stream.try_io(Interest::WRITABLE, || {
                let mut at = offset;
                rustix::fs::sendfile(stream.as_fd(), file.as_fd(), Some(&mut at), len)
                    .map_err(io::Error::from)
            });
            match sent {
                Ok(sent) => {
                    self.files.sent.fetch_add(sent as u64, Ordering::Relaxed);
                    return Poll::Ready(Ok(sent));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    /// Sends what precedes a body sent from its file (the head) with `MSG_MORE`, so that the
    /// kernel puts it in one segment with the body's first bytes instead of sending a small
    /// segment of its own, as nginx's `tcp_nopush` does.
    fn poll_send_more(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let stream = self.io.inner();
        loop {
            ready!(stream.poll_write_ready(cx))?;
            let sent = stream.try_io(Interest::WRITABLE, || {
                rustix::net::sendmsg(
                    stream.as_fd(),
                    bufs,
                    &mut rustix::net::SendAncillaryBuffer::default(),
                    rustix::net::SendFlags::MORE | rustix::net::SendFlags::NOSIGNAL,
                )
                .map_err(io::Error::from)
            });
            match sent {
                Ok(sent) => return Poll::Ready(Ok(sent)),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }
}

impl hyper::rt::Read for ZeroCopyStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for ZeroCopyStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Writes what comes before a registered body with `MSG_MORE`, then the body from its
    /// file; anything else as usual. hyper calls again for whatever is left.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let held = bufs.iter().enumerate().find_map(|(index, buf)| {
            (!buf.is_empty())
                .then(|| this.files.find(buf.as_ptr() as usize, buf.len()))
                .flatten()
                .map(|found| (index, found))
        });
        match held {
            Some((0, (file, offset))) => this.poll_send_file(cx, &file, offset, bufs[0].len()),
            Some((index, _)) => this.poll_send_more(cx, &bufs[..index]),
            None => Pin::new(&mut this.io).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Serves `body` over one real connection through `ZeroCopyStream`, asked twice on it
    /// (pipelined); returns the two bodies a slow client received, each checked to follow a
    /// whole head that announces its length.
    async fn fetch_twice_through_server(files: Arc<MemoryFiles>, body: Bytes) -> [Vec<u8>; 2] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let served = body.clone();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(move |_request| {
                let body = served.clone();
                async move { Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(body))) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(ZeroCopyStream::new(stream, files), service)
                .await;
        });
        let mut client = TcpStream::connect(address).await.unwrap();
        client
            .write_all(
                b"GET / HTTP/1.1\r\nhost: pharos\r\n\r\nGET / HTTP/1.1\r\nhost: pharos\r\nconnection: close\r\n\r\n",
            )
            .await
            .unwrap();
        // Read late, so that the server's socket fills and its writes wait.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        let mut rest = answer.as_slice();
        [(); 2].map(|()| {
            let end = rest
                .windows(4)
                .position(|window| window == b"\r\n\r\n")
                .expect("a head")
                + 4;
            let head = String::from_utf8_lossy(&rest[..end]).to_lowercase();
            assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
            assert!(
                head.contains(&format!("content-length: {}\r\n", body.len())),
                "{head}"
            );
            let received = rest[end..(end + body.len()).min(rest.len())].to_vec();
            rest = &rest[(end + body.len()).min(rest.len())..];
            received
        })
    }

    fn large_body() -> Bytes {
        (0..3_000_000u32)
            .map(|n| (n.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    #[tokio::test]
    async fn a_registered_body_is_sent_from_its_file_byte_for_byte() {
        let files = Arc::new(MemoryFiles::default());
        let body = large_body();
        let registration = files.register(&body).expect("a memory file");
        let [first, second] = fetch_twice_through_server(files.clone(), body.clone()).await;
        assert!(first == body, "the same bytes arrive");
        assert!(second == body, "and again on the same connection");
        assert_eq!(
            files.sent(),
            2 * body.len() as u64,
            "every body byte came from the file"
        );
        drop(registration);
        assert!(
            files.find(body.as_ptr() as usize, 1).is_none(),
            "forgotten with its document"
        );
    }

    #[tokio::test]
    async fn other_bodies_are_written_as_usual() {
        let files = Arc::new(MemoryFiles::default());
        let small = Bytes::from_static(b"a small answer");
        assert!(files.register(&small).is_none());
        let body = large_body();
        let [first, second] = fetch_twice_through_server(files.clone(), body.clone()).await;
        assert!(first == body && second == body);
        assert_eq!(files.sent(), 0);
    }

    #[test]
    fn memory_files_are_few() {
        let files = Arc::new(MemoryFiles::default());
        let bodies: Vec<Bytes> = (0..=MAX_FILES)
            .map(|n| Bytes::from(vec![n as u8; FROM_FILE_SIZE]))
            .collect();
        let registered: Vec<_> = bodies.iter().map(|body| files.register(body)).collect();
        assert!(registered[..MAX_FILES].iter().all(Option::is_some));
        assert!(registered[MAX_FILES].is_none(), "one more is sent as usual");
        drop(registered);
        assert!(files.register(&bodies[MAX_FILES]).is_some(), "room again");
    }
}
