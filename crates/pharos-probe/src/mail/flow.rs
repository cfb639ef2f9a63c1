//! The end-to-end mail-flow check: send a message carrying a unique token through SMTP, wait
//! for it in an IMAP mailbox (quick polls at first, then IDLE where offered), report the delivery
//! latency and the Authentication-Results, and delete it. Messages a timed-out run left behind
//! are found by their marker header and deleted by the next run.

use super::imap::ImapSession;
use super::smtp::SmtpSession;
use super::smtp_probe::tls_for;
use super::stream::MailError;
use crate::clock::PhaseClock;
use crate::net::describe_duration;
use crate::tls_setup::TlsSetup;
use crate::{SetupError, Verdict};
use pharos_config::MailflowSpec;
use rand::RngCore;
use secrecy::ExposeSecret;
use std::time::{Duration, Instant};

/// The header that marks pharos's check messages.
const MARKER_HEADER: &str = "X-Pharos-Check";
/// For this long after acceptance the mailbox is polled quickly, so that the usual fast
/// delivery is measured precisely (servers announce new mail to IDLE with a delay: Dovecot's
/// is half a second).
const FAST_POLLING: Duration = Duration::from_secs(2);
const FAST_POLL_EVERY: Duration = Duration::from_millis(20);
/// After that: one IDLE lasts at most this long, or without IDLE, polls are this far apart.
const IDLE_AT_MOST: Duration = Duration::from_secs(5);
const SLOW_POLL_EVERY: Duration = Duration::from_millis(500);

pub(crate) struct MailflowProbe {
    spec: MailflowSpec,
    /// `pharos-check:<monitor id>:`, followed by the run's token in each message.
    marker: String,
    send_tls: TlsSetup,
    receive_tls: TlsSetup,
}

impl MailflowProbe {
    pub(crate) fn new(spec: &MailflowSpec, monitor_id: &str) -> Result<Self, SetupError> {
        Ok(Self {
            send_tls: tls_for(&spec.send)?,
            receive_tls: tls_for(&spec.receive)?,
            marker: format!("pharos-check:{monitor_id}:"),
            spec: spec.clone(),
        })
    }

    pub(crate) async fn run(&self, clock: &mut PhaseClock) -> Verdict {
        match self.round_trip(clock).await {
            Ok(verdict) => verdict,
            Err(failure) => Verdict::Down(failure),
        }
    }

    async fn round_trip(&self, clock: &mut PhaseClock) -> Result<Verdict, String> {
        let receive = &self.spec.receive;
        // Log in to the mailbox first, so the wait measures delivery and nothing else.
        clock.set_prefix("receive_");
        let mut imap = ImapSession::open(clock, receive, &self.receive_tls)
            .await
            .map_err(|error| format!("mailbox: {error}"))?;
        let (username, password) = match (&receive.username, &receive.password) {
            (Some(username), Some(password)) => (username, password),
            _ => return Err("mailbox: no login configured".to_owned()),
        };
        clock
            .time("login", imap.login(username, password.expose_secret()))
            .await
            .map_err(|error| format!("mailbox: {error}"))?;
        clock
            .time("select", imap.select(&self.spec.mailbox))
            .await
            .map_err(|error| format!("mailbox: SELECT {}: {error}", self.spec.mailbox))?;
        clock.set_prefix("");
        let stale = clock
            .time("cleanup", async {
                let stale = imap.search_header(MARKER_HEADER, &self.marker).await?;
                imap.delete(&stale).await?;
                Ok::<_, MailError>(stale.len())
            })
            .await
            .map_err(|error| format!("mailbox: removing old check messages: {error}"))?;

        let token = new_token();
        clock.set_prefix("send_");
        let accepted = self
            .send(clock, &token)
            .await
            .map_err(|error| format!("sending: {error}"))?;
        clock.set_prefix("");
        let accepted_at = Instant::now();

        let deadline = accepted_at + self.spec.deliver_within;
        let tag = format!("{}{token}", self.marker);
        let arrived = clock
            .time("delivery", async {
                loop {
                    let found = imap.search_header(MARKER_HEADER, &tag).await?;
                    if !found.is_empty() {
                        return Ok::<_, MailError>(Some(found));
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        return Ok(None);
                    }
                    let remaining = deadline - now;
                    if accepted_at.elapsed() < FAST_POLLING {
                        tokio::time::sleep(remaining.min(FAST_POLL_EVERY)).await;
                        // NOOP makes the server look at the mailbox again.
                        imap.command("NOOP").await?;
                    } else if imap.has_capability("IDLE") {
                        imap.idle(remaining.min(IDLE_AT_MOST)).await?;
                    } else {
                        tokio::time::sleep(remaining.min(SLOW_POLL_EVERY)).await;
                    }
                }
            })
            .await
            .map_err(|error| format!("mailbox: while waiting for the message: {error}"))?;
        let latency = accepted_at.elapsed();
        let Some(uids) = arrived else {
            imap.logout().await;
            return Ok(Verdict::Down(format!(
                "message not delivered within {} (accepted by the SMTP server: {accepted})",
                describe_duration(self.spec.deliver_within)
            )));
        };
        clock.set_latency(latency);

        let authentication = match imap.fetch_header(uids[0], "AUTHENTICATION-RESULTS").await {
            Ok(header) => describe_authentication_results(&header),
            Err(_) => "Authentication-Results unreadable".to_owned(),
        };
        clock
            .time("delete", imap.delete(&uids))
            .await
            .map_err(|error| format!("mailbox: deleting the check message: {error}"))?;
        clock.time("logout", imap.logout()).await;

        let mut detail = format!(
            "delivered in {}; {authentication}",
            describe_duration(latency)
        );
        if stale > 0 {
            detail.push_str(&format!(
                "; removed {stale} message(s) left by an earlier run"
            ));
        }
        clock.set_detail(detail);
        if latency > self.spec.degraded_after {
            return Ok(Verdict::Degraded(format!(
                "slow delivery: {}, above {}",
                describe_duration(latency),
                describe_duration(self.spec.degraded_after)
            )));
        }
        Ok(Verdict::Up)
    }

    /// Sends the check message; returns the server's acceptance line.
    async fn send(&self, clock: &mut PhaseClock, token: &str) -> Result<String, MailError> {
        let send = &self.spec.send;
        let mut session = SmtpSession::open(clock, send, &self.send_tls, &self.spec.helo).await?;
        if let (Some(username), Some(password)) = (&send.username, &send.password) {
            clock
                .time(
                    "auth",
                    session.authenticate(username, password.expose_secret()),
                )
                .await?;
        }
        clock
            .time("envelope", session.envelope(&self.spec.from, &self.spec.to))
            .await?;
        let message = self.message(token);
        let accepted = clock.time("data", session.data(&message)).await?;
        session.quit().await;
        Ok(accepted)
    }

    fn message(&self, token: &str) -> String {
        let date = chrono::Utc::now().to_rfc2822();
        let domain = self
            .spec
            .from
            .rsplit('@')
            .next()
            .unwrap_or("pharos.invalid");
        format!(
            "From: pharos mail-flow check <{from}>\r\nTo: <{to}>\r\nSubject: pharos mail-flow check {token}\r\nDate: {date}\r\nMessage-ID: <{token}@{domain}>\r\n{MARKER_HEADER}: {marker}{token}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThis message checks that mail is delivered. pharos deletes it on arrival.\r\n",
            from = self.spec.from,
            to = self.spec.to,
            marker = self.marker,
        )
    }
}

fn new_token() -> String {
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `spf=pass dkim=none dmarc=fail` from Authentication-Results header text.
fn describe_authentication_results(header: &str) -> String {
    let mut results: Vec<String> = Vec::new();
    for token in header.split(|c: char| c.is_whitespace() || c == ';') {
        let lower = token.to_ascii_lowercase();
        for method in ["spf=", "dkim=", "dmarc="] {
            if lower.starts_with(method) && !results.contains(&lower) {
                results.push(lower.clone());
            }
        }
    }
    if results.is_empty() {
        "no Authentication-Results".to_owned()
    } else {
        results.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::describe_authentication_results;

    #[test]
    fn authentication_results_are_summarized() {
        let header = "* 1 FETCH (UID 4 BODY[HEADER.FIELDS (AUTHENTICATION-RESULTS)]\nAuthentication-Results: mx.example.com;\r\n\tspf=pass smtp.mailfrom=example.org;\r\n\tdkim=pass header.d=example.org;\r\n\tdmarc=pass header.from=example.org\r\n\r\n)";
        assert_eq!(
            describe_authentication_results(header),
            "spf=pass dkim=pass dmarc=pass"
        );
        assert_eq!(
            describe_authentication_results("* 1 FETCH (UID 4 BODY[...] \n\r\n)"),
            "no Authentication-Results"
        );
    }
}
