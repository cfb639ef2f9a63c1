//! TLS client set-up shared by the probes: trusted roots (built in, plus an optional CA file), a
//! verifier that keeps the server's certificate so a failure can be explained in plain words
//! ("expired 3 days ago"), and the certificate facts the probes report.

use crate::SetupError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Installs the process-wide rustls crypto provider (ring); harmless if already installed.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Everything needed to open verified TLS connections, built once per monitor.
pub(crate) struct TlsSetup {
    provider: Arc<CryptoProvider>,
    webpki: Arc<WebPkiServerVerifier>,
    /// The certificates of the CA file, trusted also as exactly themselves: a self-hosted
    /// server's own self-signed certificate given as its CA file.
    exact: Arc<Vec<CertificateDer<'static>>>,
    /// Public-key pins: with any, only a key among them is trusted (and it is, whatever its
    /// chain).
    pins: Arc<Vec<[u8; 32]>>,
    verify: bool,
    alpn: Vec<Vec<u8>>,
}

impl TlsSetup {
    pub(crate) fn new(
        ca_file: Option<&Path>,
        pins: &[[u8; 32]],
        verify: bool,
        alpn: &[&[u8]],
    ) -> Result<Self, SetupError> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let mut exact = Vec::new();
        if let Some(path) = ca_file {
            let ca_error = |reason: String| SetupError::CaFile {
                path: path.display().to_string(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|error| ca_error(error.to_string()))?;
            let mut added = 0;
            for certificate in rustls_pemfile::certs(&mut pem.as_slice()) {
                let certificate = certificate.map_err(|error| ca_error(error.to_string()))?;
                exact.push(certificate.clone());
                roots
                    .add(certificate)
                    .map_err(|error| ca_error(error.to_string()))?;
                added += 1;
            }
            if added == 0 {
                return Err(ca_error("no PEM certificate in it".to_owned()));
            }
        }
        let provider = provider();
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|error| SetupError::CaFile {
                path: "built-in roots".into(),
                reason: error.to_string(),
            })?;
        Ok(Self {
            provider,
            webpki,
            exact: Arc::new(exact),
            pins: Arc::new(pins.to_vec()),
            verify,
            alpn: alpn.iter().map(|protocol| protocol.to_vec()).collect(),
        })
    }

    /// A client configuration for one connection, with a verifier that records the
    /// certificate the server presents.
    pub(crate) fn connection_config(&self) -> (Arc<ClientConfig>, Arc<RecordingVerifier>) {
        let verifier = Arc::new(RecordingVerifier {
            inner: self.webpki.clone(),
            exact: self.exact.clone(),
            pins: self.pins.clone(),
            verify: self.verify,
            presented: Mutex::new(None),
        });
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        config.alpn_protocols = self.alpn.clone();
        (Arc::new(config), verifier)
    }
}

/// Delegates to the WebPKI verifier (unless verification is off) and keeps what it was shown.
#[derive(Debug)]
pub(crate) struct RecordingVerifier {
    inner: Arc<WebPkiServerVerifier>,
    exact: Arc<Vec<CertificateDer<'static>>>,
    pins: Arc<Vec<[u8; 32]>>,
    verify: bool,
    presented: Mutex<Option<CertificateDer<'static>>>,
}

impl RecordingVerifier {
    pub(crate) fn presented(&self) -> Option<CertificateDer<'static>> {
        self.presented
            .lock()
            .map(|certificate| certificate.clone())
            .unwrap_or(None)
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut presented) = self.presented.lock() {
            *presented = Some(end_entity.clone().into_owned());
        }
        if !self.pins.is_empty() {
            return verify_pinned(end_entity, &self.pins, now);
        }
        if !self.verify {
            return Ok(ServerCertVerified::assertion());
        }
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => Ok(verified),
            // The server presents exactly a certificate the CA file holds (a self-signed
            // one, most often): trusted as itself, as curl and OpenSSL do, if it is valid now
            // and names the server.
            Err(error)
                if self
                    .exact
                    .iter()
                    .any(|trusted| trusted.as_ref() == end_entity.as_ref()) =>
            {
                verify_exact(end_entity, server_name, now).map_err(|exact| match exact {
                    Some(reason) => reason,
                    None => error,
                })
            }
            Err(error) => Err(error),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// With pins, the key decides: a pinned key is trusted while its certificate is valid (its
/// chain and names do not matter, as with curl's `--pinnedpubkey`); any other is refused.
fn verify_pinned(
    end_entity: &CertificateDer<'_>,
    pins: &[[u8; 32]],
    now: UnixTime,
) -> Result<ServerCertVerified, rustls::Error> {
    use sha2::{Digest, Sha256};
    let parsed = rustls::server::ParsedCertificate::try_from(end_entity)?;
    let spki = parsed.subject_public_key_info();
    let hash: [u8; 32] = Sha256::digest(spki.as_ref()).into();
    if !pins.contains(&hash) {
        return Err(rustls::Error::General(
            "the server's public key matches no pin_sha256".to_owned(),
        ));
    }
    CertificateFacts::read(end_entity)
        .ok_or(rustls::Error::InvalidCertificate(
            CertificateError::BadEncoding,
        ))?
        .valid_at(now)?;
    Ok(ServerCertVerified::assertion())
}

/// Checks a certificate trusted as exactly itself: valid at `now` and naming the server.
/// `Err(None)` when it cannot even be parsed (the original refusal stands).
fn verify_exact(
    end_entity: &CertificateDer<'_>,
    server_name: &ServerName<'_>,
    now: UnixTime,
) -> Result<ServerCertVerified, Option<rustls::Error>> {
    CertificateFacts::read(end_entity)
        .ok_or(None)?
        .valid_at(now)
        .map_err(Some)?;
    let parsed = rustls::server::ParsedCertificate::try_from(end_entity).map_err(|_| None)?;
    rustls::client::verify_server_name(&parsed, server_name).map_err(Some)?;
    Ok(ServerCertVerified::assertion())
}

/// What a certificate says about itself, for reasons and warnings.
pub(crate) struct CertificateFacts {
    pub(crate) not_after_unix: i64,
    pub(crate) not_before_unix: i64,
    pub(crate) names: Vec<String>,
}

impl CertificateFacts {
    /// Whether the certificate is within its validity period at `now`.
    fn valid_at(&self, now: UnixTime) -> Result<(), rustls::Error> {
        let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if now > self.not_after_unix {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
        }
        if now < self.not_before_unix {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidYet,
            ));
        }
        Ok(())
    }

    pub(crate) fn read(der: &CertificateDer<'_>) -> Option<Self> {
        let (_, certificate) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
        let validity = certificate.validity();
        let mut names = Vec::new();
        if let Ok(Some(alternatives)) = certificate.subject_alternative_name() {
            for name in &alternatives.value.general_names {
                match name {
                    x509_parser::extensions::GeneralName::DNSName(dns) => {
                        names.push((*dns).to_owned())
                    }
                    x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                        names.push(describe_ip(bytes))
                    }
                    _ => {}
                }
            }
        }
        Some(Self {
            not_after_unix: validity.not_after.timestamp(),
            not_before_unix: validity.not_before.timestamp(),
            names,
        })
    }

    /// Whole days left before expiry (zero on the last day, negative once expired).
    pub(crate) fn days_left(&self) -> i64 {
        (self.not_after_unix - now_unix()).div_euclid(86_400)
    }

    /// Whole days since expiry (zero on the day it expired).
    pub(crate) fn days_expired(&self) -> i64 {
        (now_unix() - self.not_after_unix).div_euclid(86_400)
    }
}

fn describe_ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(octets).to_string()
        }
        _ => "?".to_owned(),
    }
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// Explains a failed TLS handshake in plain words, using the certificate the server showed.
pub(crate) fn describe_tls_error(
    error: &std::io::Error,
    presented: Option<&CertificateDer<'_>>,
    host: &str,
) -> String {
    let facts = presented.and_then(CertificateFacts::read);
    let rustls_error = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(certificate_error)) => match certificate_error {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => match facts {
                Some(facts) => match facts.days_expired() {
                    ..=0 => "TLS certificate expired today".to_owned(),
                    1 => "TLS certificate expired 1 day ago".to_owned(),
                    days => format!("TLS certificate expired {days} days ago"),
                },
                None => "TLS certificate expired".to_owned(),
            },
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                let days =
                    facts.map(|facts| (facts.not_before_unix - now_unix()).div_euclid(86_400) + 1);
                match days {
                    Some(days) => format!("TLS certificate not valid yet (valid in {days} days)"),
                    None => "TLS certificate not valid yet".to_owned(),
                }
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                let names = facts
                    .map(|facts| facts.names.join(", "))
                    .unwrap_or_default();
                if names.is_empty() {
                    format!("TLS certificate is not valid for {host}")
                } else {
                    format!("TLS certificate is not valid for {host} (valid for {names})")
                }
            }
            CertificateError::UnknownIssuer => {
                "TLS certificate issued by an unknown authority (self-signed or incomplete chain)"
                    .to_owned()
            }
            CertificateError::Revoked => "TLS certificate revoked".to_owned(),
            CertificateError::Other(other)
                if format!("{other:?}").contains("CaUsedAsEndEntity") =>
            {
                "TLS certificate is a CA certificate used as the server's own (self-signed)"
                    .to_owned()
            }
            other => format!("TLS certificate rejected: {other:?}"),
        },
        Some(other) => format!("TLS handshake failed: {other}"),
        None => format!(
            "TLS handshake failed: {}",
            crate::net::describe_io_error(error)
        ),
    }
}
