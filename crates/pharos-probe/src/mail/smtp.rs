//! An SMTP client session: greeting, EHLO, STARTTLS, AUTH, envelope and DATA, each reply
//! checked and each refusal classified.

use super::auth;
use super::stream::{quote, MailError, MailStream};
use crate::clock::PhaseClock;
use crate::tls_setup::TlsSetup;
use pharos_config::{MailEndpoint, TlsMode};

/// One SMTP reply: its code and its lines of text.
pub(crate) struct Reply {
    pub(crate) code: u16,
    pub(crate) lines: Vec<String>,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        quote(&format!("{} {}", self.code, self.lines.join(" ")))
    }
}

pub(crate) struct SmtpSession {
    pub(crate) stream: MailStream,
    pub(crate) greeting: String,
    extensions: Vec<String>,
}

impl SmtpSession {
    /// Connects, reads the greeting, says EHLO, and upgrades to TLS when the endpoint asks.
    pub(crate) async fn open(
        clock: &mut PhaseClock,
        endpoint: &MailEndpoint,
        tls: &TlsSetup,
        helo: &str,
    ) -> Result<Self, MailError> {
        let stream = MailStream::connect(clock, endpoint, tls).await?;
        let session = Self::greet(clock, stream, helo).await?;
        if endpoint.tls == TlsMode::StartTls {
            if !session.offers_starttls() {
                return Err(MailError::Tls(
                    "the server does not offer STARTTLS".to_owned(),
                ));
            }
            return session.starttls(clock, tls, &endpoint.host, helo).await;
        }
        Ok(session)
    }

    /// Reads the greeting on a fresh connection and says EHLO.
    pub(crate) async fn greet(
        clock: &mut PhaseClock,
        stream: MailStream,
        helo: &str,
    ) -> Result<Self, MailError> {
        let mut session = Self {
            stream,
            greeting: String::new(),
            extensions: Vec::new(),
        };
        let greeting = clock
            .time("greeting", read_reply(&mut session.stream))
            .await?;
        let greeting = expect(greeting, "greeting", &[220])?;
        session.greeting = quote(&greeting.lines.join(" "));
        clock.time("ehlo", session.ehlo(helo)).await?;
        Ok(session)
    }

    pub(crate) fn offers_starttls(&self) -> bool {
        self.has_extension("STARTTLS")
    }

    /// STARTTLS, the handshake (with `host` as the certificate's expected name), EHLO again.
    pub(crate) async fn starttls(
        mut self,
        clock: &mut PhaseClock,
        tls: &TlsSetup,
        host: &str,
        helo: &str,
    ) -> Result<Self, MailError> {
        let reply = self.command("STARTTLS").await?;
        expect(reply, "STARTTLS", &[220])?;
        self.stream = self.stream.start_tls(clock, tls, host).await?;
        clock.time("ehlo_tls", self.ehlo(helo)).await?;
        Ok(self)
    }

    async fn ehlo(&mut self, helo: &str) -> Result<(), MailError> {
        let reply = expect(self.command(&format!("EHLO {helo}")).await?, "EHLO", &[250])?;
        self.extensions = reply
            .lines
            .iter()
            .skip(1)
            .map(|line| line.to_ascii_uppercase())
            .collect();
        Ok(())
    }

    fn has_extension(&self, name: &str) -> bool {
        self.extensions
            .iter()
            .any(|line| line.split_whitespace().next() == Some(name))
    }

    fn auth_mechanisms(&self) -> Vec<String> {
        self.extensions
            .iter()
            .filter_map(|line| {
                line.strip_prefix("AUTH ")
                    .or_else(|| line.strip_prefix("AUTH="))
            })
            .flat_map(|mechanisms| mechanisms.split_whitespace().map(str::to_owned))
            .collect()
    }

    pub(crate) async fn command(&mut self, line: &str) -> Result<Reply, MailError> {
        self.stream.send_line(line).await?;
        read_reply(&mut self.stream).await
    }

    /// Logs in with AUTH PLAIN, or AUTH LOGIN when PLAIN is not offered.
    pub(crate) async fn authenticate(
        &mut self,
        username: &str,
        password: &str,
    ) -> Result<(), MailError> {
        let mechanisms = self.auth_mechanisms();
        let reply = if mechanisms.iter().any(|mechanism| mechanism == "PLAIN") {
            self.command(&format!("AUTH PLAIN {}", auth::plain(username, password)))
                .await?
        } else if mechanisms.iter().any(|mechanism| mechanism == "LOGIN") {
            expect(self.command("AUTH LOGIN").await?, "AUTH LOGIN", &[334])?;
            expect(
                self.command(&auth::base64(username)).await?,
                "AUTH LOGIN",
                &[334],
            )?;
            self.command(&auth::base64(password)).await?
        } else if mechanisms.is_empty() {
            return Err(MailError::Authentication(
                "the server offers no AUTH (is TLS required first?)".to_owned(),
            ));
        } else {
            return Err(MailError::Authentication(format!(
                "the server offers neither PLAIN nor LOGIN ({})",
                mechanisms.join(" ")
            )));
        };
        match reply.code {
            235 => Ok(()),
            400..=499 => Err(MailError::Temporary(format!("AUTH: {}", reply.text()))),
            _ => Err(MailError::Authentication(reply.text())),
        }
    }

    /// MAIL FROM and RCPT TO; a refused recipient is reported as such.
    pub(crate) async fn envelope(&mut self, from: &str, to: &str) -> Result<(), MailError> {
        expect(
            self.command(&format!("MAIL FROM:<{from}>")).await?,
            "MAIL FROM",
            &[250],
        )?;
        let reply = self.command(&format!("RCPT TO:<{to}>")).await?;
        match reply.code {
            250 | 251 => Ok(()),
            400..=499 => Err(MailError::Temporary(format!("RCPT TO: {}", reply.text()))),
            _ => Err(MailError::RecipientRejected(reply.text())),
        }
    }

    /// Sends a message after the envelope; returns the server's acceptance (with its queue id).
    pub(crate) async fn data(&mut self, message: &str) -> Result<String, MailError> {
        expect(self.command("DATA").await?, "DATA", &[354])?;
        let mut body = String::with_capacity(message.len() + 8);
        for line in message.lines() {
            if line.starts_with('.') {
                body.push('.');
            }
            body.push_str(line);
            body.push_str("\r\n");
        }
        body.push_str(".\r\n");
        self.stream.send_raw(body.as_bytes()).await?;
        let accepted = expect(read_reply(&mut self.stream).await?, "end of DATA", &[250])?;
        Ok(accepted.text())
    }

    pub(crate) async fn quit(mut self) {
        let _ = self.command("QUIT").await;
    }
}

/// Reads a (possibly multi-line) reply.
pub(crate) async fn read_reply(stream: &mut MailStream) -> Result<Reply, MailError> {
    let mut lines = Vec::new();
    loop {
        let line = stream.read_line().await?;
        let code = line
            .get(..3)
            .filter(|code| code.bytes().all(|byte| byte.is_ascii_digit()))
            .and_then(|code| code.parse::<u16>().ok());
        let Some(code) = code.filter(|code| (200..600).contains(code)) else {
            return Err(MailError::Protocol(format!(
                "not an SMTP reply: `{}`",
                quote(&line)
            )));
        };
        let more = line.as_bytes().get(3) == Some(&b'-');
        lines.push(line.get(4..).unwrap_or("").to_owned());
        if !more {
            return Ok(Reply { code, lines });
        }
        if lines.len() > 200 {
            return Err(MailError::Protocol(
                "an SMTP reply of more than 200 lines".to_owned(),
            ));
        }
    }
}

/// Accepts the expected codes; classifies anything else by its class.
pub(crate) fn expect(reply: Reply, step: &str, codes: &[u16]) -> Result<Reply, MailError> {
    if codes.contains(&reply.code) {
        return Ok(reply);
    }
    Err(match reply.code {
        400..=499 => MailError::Temporary(format!("{step}: {}", reply.text())),
        500..=599 => MailError::Permanent(format!("{step}: {}", reply.text())),
        _ => MailError::Protocol(format!("unexpected reply to {step}: {}", reply.text())),
    })
}
