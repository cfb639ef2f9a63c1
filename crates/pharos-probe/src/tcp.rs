//! The TCP probe: connect, optionally send something, optionally expect a banner.

use crate::clock::PhaseClock;
use crate::net::{describe_io_error, quote_peer_text, resolve_and_connect};
use crate::Verdict;
use pharos_config::TcpSpec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) struct TcpProbe {
    pub(crate) host: String,
    pub(crate) port: u16,
    send: Option<Vec<u8>>,
    expect: Option<String>,
}

/// The most of a banner read while looking for the expected text.
const BANNER_LIMIT: usize = 8 * 1024;

impl TcpProbe {
    pub(crate) fn new(spec: &TcpSpec) -> Self {
        Self {
            host: spec.host.clone(),
            port: spec.port,
            send: spec.send.as_ref().map(|text| text.as_bytes().to_vec()),
            expect: spec.expect.clone(),
        }
    }

    pub(crate) async fn run(&self, clock: &mut PhaseClock) -> Verdict {
        let mut stream = match resolve_and_connect(clock, &self.host, self.port).await {
            Ok(stream) => stream,
            Err(reason) => return Verdict::Down(reason),
        };
        if let Some(payload) = &self.send {
            if let Err(error) = clock.time("send", stream.write_all(payload)).await {
                return Verdict::Down(format!("send failed: {}", describe_io_error(&error)));
            }
        }
        let Some(expected) = &self.expect else {
            return Verdict::Up;
        };
        clock
            .time("banner", async {
                let mut received = Vec::with_capacity(512);
                let mut buffer = [0u8; 1024];
                loop {
                    if contains(&received, expected.as_bytes()) {
                        return Verdict::Up;
                    }
                    if received.len() >= BANNER_LIMIT {
                        break;
                    }
                    match stream.read(&mut buffer).await {
                        Ok(0) => break,
                        Ok(read) => received.extend_from_slice(&buffer[..read]),
                        Err(error) => {
                            return Verdict::Down(format!(
                                "reading the answer failed: {}",
                                describe_io_error(&error)
                            ))
                        }
                    }
                }
                if received.is_empty() {
                    Verdict::Down(format!(
                        "connection closed before `{expected}` was received"
                    ))
                } else {
                    Verdict::Down(format!(
                        "expected `{expected}` in the answer, got `{}`",
                        quote_peer_text(&received)
                    ))
                }
            })
            .await
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}
