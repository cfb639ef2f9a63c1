//! A line-oriented mail connection over TCP or TLS, with STARTTLS upgrade in place.

use crate::clock::PhaseClock;
use crate::net::{describe_io_error, quote_peer_text, resolve_and_connect, Stream};
use crate::tls_setup::{describe_tls_error, CertificateFacts, TlsSetup};
use pharos_config::{MailEndpoint, TlsMode};
use rustls::pki_types::ServerName;
use std::fmt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_rustls::TlsConnector;

/// The longest line accepted from a server; longer is a protocol error, not a memory hazard.
const MAX_LINE: usize = 16 * 1024;

/// Why a mail session failed, in the words of the issue it points to.
#[derive(Debug)]
pub(crate) enum MailError {
    /// Connecting or reading failed ("connection refused", "connection closed by server").
    Network(String),
    /// The server answered with a 4xx / NO / -ERR it may not repeat later.
    Temporary(String),
    /// The server refused for good (5xx).
    Permanent(String),
    Tls(String),
    Authentication(String),
    RecipientRejected(String),
    /// The server said something that is not the protocol.
    Protocol(String),
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailError::Network(text) | MailError::Protocol(text) => f.write_str(text),
            MailError::Temporary(text) => write!(f, "temporary failure: {text}"),
            MailError::Permanent(text) => write!(f, "permanent failure: {text}"),
            MailError::Tls(text) => f.write_str(text),
            MailError::Authentication(text) => write!(f, "authentication failed: {text}"),
            MailError::RecipientRejected(text) => write!(f, "recipient rejected: {text}"),
        }
    }
}

pub(crate) struct MailStream {
    reader: BufReader<Box<dyn Stream>>,
    /// Facts about the server's certificate, once TLS is up (none when verification is off).
    pub(crate) certificate: Option<CertificateFacts>,
}

impl MailStream {
    /// Connects to the endpoint, with TLS from the start when it is implicit.
    pub(crate) async fn connect(
        clock: &mut PhaseClock,
        endpoint: &MailEndpoint,
        tls: &TlsSetup,
    ) -> Result<Self, MailError> {
        let tcp = resolve_and_connect(clock, &endpoint.host, endpoint.port)
            .await
            .map_err(MailError::Network)?;
        let stream = Self {
            reader: BufReader::new(Box::new(tcp)),
            certificate: None,
        };
        if endpoint.tls == TlsMode::Implicit {
            return stream.start_tls(clock, tls, &endpoint.host).await;
        }
        Ok(stream)
    }

    /// Wraps a connection made elsewhere (to an address found by another resolver).
    pub(crate) fn from_tcp(tcp: tokio::net::TcpStream) -> Self {
        Self {
            reader: BufReader::new(Box::new(tcp)),
            certificate: None,
        }
    }

    /// Upgrades the connection to TLS, after STARTTLS or at once for implicit TLS.
    pub(crate) async fn start_tls(
        self,
        clock: &mut PhaseClock,
        tls: &TlsSetup,
        host: &str,
    ) -> Result<Self, MailError> {
        if !self.reader.buffer().is_empty() {
            // Bytes sent before the handshake could be injected commands: refuse them.
            return Err(MailError::Tls(
                "the server sent data before the TLS handshake".to_owned(),
            ));
        }
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| MailError::Tls(format!("`{host}` is not a valid TLS server name")))?;
        let (config, verifier) = tls.connection_config();
        let stream = self.reader.into_inner();
        match clock
            .time("tls", TlsConnector::from(config).connect(name, stream))
            .await
        {
            Ok(tls_stream) => {
                let certificate = verifier
                    .presented()
                    .as_ref()
                    .and_then(CertificateFacts::read);
                Ok(Self {
                    reader: BufReader::new(Box::new(tls_stream)),
                    certificate,
                })
            }
            Err(error) => Err(MailError::Tls(describe_tls_error(
                &error,
                verifier.presented().as_ref(),
                host,
            ))),
        }
    }

    /// One line without its line ending.
    pub(crate) async fn read_line(&mut self) -> Result<String, MailError> {
        let mut line = Vec::with_capacity(128);
        let read = (&mut self.reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|error| MailError::Network(describe_io_error(&error)))?;
        if read == 0 {
            return Err(MailError::Network(
                "connection closed by the server".to_owned(),
            ));
        }
        if line.len() > MAX_LINE {
            return Err(MailError::Protocol(format!(
                "the server sent a line longer than {MAX_LINE} bytes"
            )));
        }
        while line
            .last()
            .is_some_and(|byte| *byte == b'\n' || *byte == b'\r')
        {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    /// Exactly `length` bytes (an IMAP literal), refusing absurd sizes.
    pub(crate) async fn read_bytes(&mut self, length: usize) -> Result<Vec<u8>, MailError> {
        if length > 4 * 1024 * 1024 {
            return Err(MailError::Protocol(format!(
                "the server announced a {length}-byte literal"
            )));
        }
        let mut bytes = vec![0; length];
        self.reader
            .read_exact(&mut bytes)
            .await
            .map_err(|error| MailError::Network(describe_io_error(&error)))?;
        Ok(bytes)
    }

    /// Sends one line (the line ending is added).
    pub(crate) async fn send_line(&mut self, line: &str) -> Result<(), MailError> {
        self.send_raw(format!("{line}\r\n").as_bytes()).await
    }

    pub(crate) async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), MailError> {
        let stream = self.reader.get_mut();
        stream
            .write_all(bytes)
            .await
            .map_err(|error| MailError::Network(describe_io_error(&error)))?;
        stream
            .flush()
            .await
            .map_err(|error| MailError::Network(describe_io_error(&error)))
    }
}

/// A server's words, made safe and short for a reason.
pub(crate) fn quote(text: &str) -> String {
    quote_peer_text(text.as_bytes())
}
