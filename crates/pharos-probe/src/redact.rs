//! Keeps a monitor's secrets out of what its probe reports: a server that echoes a command
//! (`PASS …`, `AUTH PLAIN …`, a header) must not put the password in a reason, which is
//! stored, shown on the public page and sent in notifications.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use pharos_config::{Header, MailEndpoint, ProbeSpec};
use secrecy::ExposeSecret;

const REDACTED: &str = "[redacted]";
/// Shorter secrets are not searched for: replacing them everywhere would garble reasons.
const SHORTEST: usize = 4;

/// The texts to hide, in every form a protocol sends them in.
#[derive(Clone, Debug, Default)]
pub(crate) struct Redactor {
    needles: Vec<String>,
}

impl Redactor {
    pub(crate) fn for_probe(spec: &ProbeSpec) -> Self {
        let mut redactor = Self::default();
        match spec {
            ProbeSpec::Http(spec) => {
                redactor.headers(&spec.headers);
                for value in spec.secret_query_values() {
                    redactor.add(&value);
                }
                if let Some(password) = spec.url.password() {
                    redactor.add(password);
                    let user = spec.url.username();
                    redactor.add(&STANDARD.encode(format!("{user}:{password}")));
                    if let Ok(decoded) = urlencoding_decode(password) {
                        redactor.add(&decoded);
                        redactor.add(&STANDARD.encode(format!("{user}:{decoded}")));
                    }
                }
            }
            ProbeSpec::Smtp(spec) => redactor.endpoint(&spec.endpoint),
            ProbeSpec::Imap(spec) => redactor.endpoint(&spec.endpoint),
            ProbeSpec::Pop3(spec) => redactor.endpoint(&spec.endpoint),
            ProbeSpec::Mailflow(spec) => {
                redactor.endpoint(&spec.send);
                redactor.endpoint(&spec.receive);
            }
            ProbeSpec::Provider(pharos_config::ProviderSpec::Microsoft365 {
                client_secret,
                ..
            }) => {
                use secrecy::ExposeSecret as _;
                redactor.add(client_secret.expose_secret());
            }
            ProbeSpec::Tcp(_)
            | ProbeSpec::Dns(_)
            | ProbeSpec::Tls(_)
            | ProbeSpec::MailDomain(_)
            | ProbeSpec::Provider(_) => {}
        }
        // Longest first, so that a secret containing another is replaced whole.
        redactor
            .needles
            .sort_by_key(|needle| std::cmp::Reverse(needle.len()));
        redactor.needles.dedup();
        redactor
    }

    fn headers(&mut self, headers: &[Header]) {
        for header in headers {
            let value = header.value.expose_secret();
            self.add(value);
            // "Bearer abc…": the credential alone may be echoed too.
            if let Some((_, credential)) = value.split_once(' ') {
                self.add(credential);
            }
        }
    }

    fn endpoint(&mut self, endpoint: &MailEndpoint) {
        let Some(password) = &endpoint.password else {
            return;
        };
        let password = password.expose_secret();
        let user = endpoint.username.as_deref().unwrap_or_default();
        self.add(password);
        // AUTH LOGIN sends the password alone in base64, AUTH PLAIN "\0user\0password".
        self.add(&STANDARD.encode(password));
        self.add(&STANDARD.encode(format!("\0{user}\0{password}")));
        self.add(&STANDARD.encode(format!("{user}\0{user}\0{password}")));
        // IMAP quotes the password, escaping `"` and `\`.
        let quoted = password.replace('\\', "\\\\").replace('"', "\\\"");
        self.add(&quoted);
    }

    fn add(&mut self, secret: &str) {
        if secret.chars().count() >= SHORTEST {
            self.needles.push(secret.to_owned());
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub(crate) fn apply(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for needle in &self.needles {
            if text.contains(needle.as_str()) {
                text = text.replace(needle.as_str(), REDACTED);
            }
        }
        text
    }
}

/// Percent-decoding of a URL's password, as it is sent.
fn urlencoding_decode(text: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[index], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                index += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(password: &str) -> ProbeSpec {
        let source = format!(
            "[[components]]\nid = \"c\"\nname = \"C\"\n[[monitors]]\nid = \"m\"\ncomponent = \"c\"\ntype = \"smtp\"\n\
             host = \"127.0.0.1\"\nport = 465\ntls = \"implicit\"\nusername = \"probe@example.test\"\npassword = \"{password}\"\n"
        );
        pharos_config::parse("r.toml", &source, &|_| None)
            .unwrap()
            .monitors
            .remove(0)
            .probe
    }

    #[test]
    fn a_password_is_hidden_in_every_form_a_server_may_echo() {
        let redactor = Redactor::for_probe(&smtp("s3cret-pass"));
        let plain = STANDARD.encode("\0probe@example.test\0s3cret-pass");
        let login = STANDARD.encode("s3cret-pass");
        for echoed in [
            "535 5.7.8 bad credentials for PASS s3cret-pass".to_owned(),
            format!("501 cannot decode AUTH PLAIN {plain}"),
            format!("535 {login} rejected"),
        ] {
            let shown = redactor.apply(&echoed);
            assert!(shown.contains(REDACTED), "{shown}");
            assert!(
                !shown.contains("s3cret") && !shown.contains(&login) && !shown.contains(&plain),
                "{shown}"
            );
        }
        assert_eq!(redactor.apply("250 OK"), "250 OK");
    }
}
