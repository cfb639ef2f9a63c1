//! An IMAP client session: tagged commands, untagged data with literals, STARTTLS, LOGIN or
//! AUTHENTICATE PLAIN, SELECT, SEARCH, IDLE, FETCH, STORE and EXPUNGE.

use super::auth;
use super::stream::{quote, MailError, MailStream};
use crate::clock::PhaseClock;
use crate::tls_setup::TlsSetup;
use pharos_config::{MailEndpoint, TlsMode};
use std::time::Duration;

/// The answer to one tagged command.
pub(crate) struct Response {
    /// Untagged lines, literals folded in.
    pub(crate) untagged: Vec<String>,
}

pub(crate) struct ImapSession {
    stream: MailStream,
    next_tag: u32,
    capabilities: Vec<String>,
    pub(crate) greeting: String,
}

impl ImapSession {
    /// Connects, reads the greeting, and upgrades to TLS when the endpoint asks.
    pub(crate) async fn open(
        clock: &mut PhaseClock,
        endpoint: &MailEndpoint,
        tls: &TlsSetup,
    ) -> Result<Self, MailError> {
        let stream = MailStream::connect(clock, endpoint, tls).await?;
        let mut session = Self {
            stream,
            next_tag: 1,
            capabilities: Vec::new(),
            greeting: String::new(),
        };
        let greeting = clock.time("greeting", session.stream.read_line()).await?;
        if let Some(text) = greeting.strip_prefix("* BYE") {
            return Err(MailError::Temporary(format!(
                "greeting: the server said BYE{}",
                quote(text)
            )));
        }
        if !(greeting.starts_with("* OK") || greeting.starts_with("* PREAUTH")) {
            return Err(MailError::Protocol(format!(
                "not an IMAP greeting: `{}`",
                quote(&greeting)
            )));
        }
        session.greeting = quote(greeting.trim_start_matches("* OK").trim());
        clock
            .time("capability", session.refresh_capabilities())
            .await?;
        if endpoint.tls == TlsMode::StartTls {
            if !session.has_capability("STARTTLS") {
                return Err(MailError::Tls(
                    "the server does not offer STARTTLS".to_owned(),
                ));
            }
            session.command("STARTTLS").await?;
            session.stream = session.stream.start_tls(clock, tls, &endpoint.host).await?;
            session.refresh_capabilities().await?;
        }
        Ok(session)
    }

    pub(crate) fn stream(&self) -> &MailStream {
        &self.stream
    }

    async fn refresh_capabilities(&mut self) -> Result<(), MailError> {
        let response = self.command("CAPABILITY").await?;
        self.capabilities = response
            .untagged
            .iter()
            .filter_map(|line| line.strip_prefix("* CAPABILITY "))
            .flat_map(|list| list.split_whitespace().map(str::to_ascii_uppercase))
            .collect();
        Ok(())
    }

    pub(crate) fn has_capability(&self, name: &str) -> bool {
        self.capabilities
            .iter()
            .any(|capability| capability == name)
    }

    /// Logs in with LOGIN, or AUTHENTICATE PLAIN when LOGIN is disabled.
    pub(crate) async fn login(&mut self, username: &str, password: &str) -> Result<(), MailError> {
        let result = if self.has_capability("LOGINDISABLED") {
            if !self.has_capability("AUTH=PLAIN") {
                return Err(MailError::Authentication(
                    "LOGIN is disabled and AUTHENTICATE PLAIN is not offered".to_owned(),
                ));
            }
            self.command(&format!(
                "AUTHENTICATE PLAIN {}",
                auth::plain(username, password)
            ))
            .await
        } else {
            self.command(&format!("LOGIN {} {}", quoted(username), quoted(password)))
                .await
        };
        match result {
            Ok(_) => Ok(()),
            Err(MailError::Temporary(text) | MailError::Permanent(text)) => {
                Err(MailError::Authentication(text))
            }
            Err(other) => Err(other),
        }
    }

    /// Selects a mailbox; returns how many messages it holds.
    pub(crate) async fn select(&mut self, mailbox: &str) -> Result<u64, MailError> {
        let response = self.command(&format!("SELECT {}", quoted(mailbox))).await?;
        Ok(response
            .untagged
            .iter()
            .find_map(|line| {
                line.strip_prefix("* ")
                    .and_then(|rest| rest.strip_suffix(" EXISTS"))
                    .and_then(|count| count.parse().ok())
            })
            .unwrap_or(0))
    }

    /// UIDs of the messages whose `header` contains `value`.
    pub(crate) async fn search_header(
        &mut self,
        header: &str,
        value: &str,
    ) -> Result<Vec<u32>, MailError> {
        let response = self
            .command(&format!(
                "UID SEARCH HEADER {} {}",
                quoted(header),
                quoted(value)
            ))
            .await?;
        Ok(response
            .untagged
            .iter()
            .filter_map(|line| line.strip_prefix("* SEARCH"))
            .flat_map(|list| list.split_whitespace().filter_map(|uid| uid.parse().ok()))
            .collect())
    }

    /// The raw text of one header field of a message.
    pub(crate) async fn fetch_header(
        &mut self,
        uid: u32,
        header: &str,
    ) -> Result<String, MailError> {
        let response = self
            .command(&format!(
                "UID FETCH {uid} (BODY.PEEK[HEADER.FIELDS ({header})])"
            ))
            .await?;
        Ok(response.untagged.join("\n"))
    }

    /// Deletes messages for good.
    pub(crate) async fn delete(&mut self, uids: &[u32]) -> Result<(), MailError> {
        if uids.is_empty() {
            return Ok(());
        }
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        self.command(&format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)"))
            .await?;
        if self.has_capability("UIDPLUS") {
            self.command(&format!("UID EXPUNGE {set}")).await?;
        } else {
            self.command("EXPUNGE").await?;
        }
        Ok(())
    }

    /// Waits up to `wait` for the server to announce new mail, with IDLE (which the caller
    /// checks the server offers).
    pub(crate) async fn idle(&mut self, wait: Duration) -> Result<(), MailError> {
        let tag = self.tag();
        self.stream.send_line(&format!("{tag} IDLE")).await?;
        let first = self.stream.read_line().await?;
        if !first.starts_with('+') {
            return Err(MailError::Protocol(format!(
                "IDLE refused: `{}`",
                quote(&first)
            )));
        }
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(line) = tokio::time::timeout_at(deadline, self.stream.read_line()).await {
            if line?.ends_with("EXISTS") {
                break;
            }
        }
        self.stream.send_line("DONE").await?;
        self.finish(&tag).await.map(|_| ())
    }

    pub(crate) async fn logout(mut self) {
        let _ = self.command("LOGOUT").await;
    }

    fn tag(&mut self) -> String {
        let tag = format!("p{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    pub(crate) async fn command(&mut self, command: &str) -> Result<Response, MailError> {
        let tag = self.tag();
        self.stream.send_line(&format!("{tag} {command}")).await?;
        self.finish(&tag).await
    }

    /// Reads until the tagged completion of `tag`.
    async fn finish(&mut self, tag: &str) -> Result<Response, MailError> {
        let mut untagged: Vec<String> = Vec::new();
        // Everything one response holds, lines and literals together, is bounded: a hostile
        // server cannot make a check hold more than this in memory.
        let mut held = 0usize;
        let mut hold = |bytes: usize| {
            held = held.saturating_add(bytes);
            if held > MAX_RESPONSE {
                Err(MailError::Protocol(format!(
                    "the server sent more than {} MiB in one response",
                    MAX_RESPONSE / (1024 * 1024)
                )))
            } else {
                Ok(())
            }
        };
        loop {
            let mut line = self.stream.read_line().await?;
            hold(line.len())?;
            // A literal `{n}` at the end of a line: n bytes follow, then the line goes on.
            while let Some(length) = literal_length(&line) {
                hold(length)?;
                let bytes = self.stream.read_bytes(length).await?;
                line.push('\n');
                line.push_str(&String::from_utf8_lossy(&bytes));
                let rest = self.stream.read_line().await?;
                hold(rest.len())?;
                line.push_str(&rest);
            }
            if let Some(rest) = line
                .strip_prefix(tag)
                .and_then(|rest| rest.strip_prefix(' '))
            {
                let (status, text) = rest.split_once(' ').unwrap_or((rest, ""));
                let text = quote(text);
                return match status.to_ascii_uppercase().as_str() {
                    "OK" => Ok(Response { untagged }),
                    "NO" => Err(MailError::Permanent(format!("NO {text}"))),
                    "BAD" => Err(MailError::Protocol(format!(
                        "the server rejected a command: BAD {text}"
                    ))),
                    _ => Err(MailError::Protocol(format!(
                        "not an IMAP completion: `{}`",
                        quote(&line)
                    ))),
                };
            }
            if let Some(farewell) = line.strip_prefix("* BYE") {
                return Err(MailError::Network(format!(
                    "the server closed the session: {}",
                    quote(farewell)
                )));
            }
            if untagged.len() >= 10_000 {
                return Err(MailError::Protocol(
                    "more than 10,000 untagged responses".to_owned(),
                ));
            }
            untagged.push(line);
        }
    }
}

/// The most one IMAP response may hold, lines and literals together.
const MAX_RESPONSE: usize = 8 * 1024 * 1024;

fn literal_length(line: &str) -> Option<usize> {
    let open = line.rfind('{')?;
    let inner = line[open + 1..].strip_suffix('}')?;
    inner.trim_end_matches('+').parse().ok()
}

/// An IMAP quoted string.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_quoting() {
        assert_eq!(literal_length("* 1 FETCH (BODY[HEADER] {42}"), Some(42));
        assert_eq!(literal_length("* 1 FETCH (FLAGS (\\Seen))"), None);
        assert_eq!(quoted(r#"pa"ss\word"#), r#""pa\"ss\\word""#);
    }
}
