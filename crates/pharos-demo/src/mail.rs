//! The demo's mail service: a small SMTP server that accepts mail for one mailbox and an IMAP
//! server that shows it, speaking just what pharos's probes use. A switch holds delivery
//! (mail is accepted but does not arrive), which only the end-to-end check notices.

use crate::targets::TcpTarget;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Notify;

pub const DEMO_MAILBOX: &str = "demo@demo.test";
pub const DEMO_PASSWORD: &str = "demo-password";
const HOST: &str = "mail.demo.test";

struct Message {
    uid: u32,
    /// The X-Pharos-Check header's value, which the IMAP server searches.
    marker: String,
}

/// The mailbox both servers share.
#[derive(Clone, Default)]
pub struct Mailbox {
    messages: Arc<Mutex<Vec<Message>>>,
    /// Accepted messages not yet delivered, while delivery is held.
    held: Arc<Mutex<Vec<String>>>,
    holding: Arc<AtomicBool>,
    next_uid: Arc<AtomicU32>,
    arrived: Arc<Notify>,
}

impl Mailbox {
    /// While held, accepted mail waits; releasing delivers everything that waited.
    pub fn hold_delivery(&self, hold: bool) {
        self.holding.store(hold, Ordering::SeqCst);
        if !hold {
            let waiting: Vec<String> = self
                .held
                .lock()
                .map(|mut held| held.drain(..).collect())
                .unwrap_or_default();
            for marker in waiting {
                self.deliver(marker);
            }
        }
    }

    fn accept(&self, marker: String) {
        if self.holding.load(Ordering::SeqCst) {
            if let Ok(mut held) = self.held.lock() {
                held.push(marker);
            }
            return;
        }
        // A short, varying delivery time, as a real server has.
        let mailbox = self.clone();
        tokio::spawn(async move {
            let pause = 150 + u64::from(rand::random::<u8>()) * 2;
            tokio::time::sleep(Duration::from_millis(pause)).await;
            mailbox.deliver(marker);
        });
    }

    fn deliver(&self, marker: String) {
        let uid = self.next_uid.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut messages) = self.messages.lock() {
            messages.push(Message { uid, marker });
        }
        self.arrived.notify_waiters();
    }

    fn count(&self) -> usize {
        self.messages
            .lock()
            .map(|messages| messages.len())
            .unwrap_or(0)
    }
}

/// Starts the SMTP server (which can be taken down: its port closes) and the IMAP server.
pub async fn start(mailbox: &Mailbox) -> std::io::Result<(TcpTarget, TcpTarget)> {
    let smtp_mailbox = mailbox.clone();
    let smtp = TcpTarget::start(move |stream| {
        let mailbox = smtp_mailbox.clone();
        async move {
            let _ = smtp_session(stream, mailbox).await;
        }
    })
    .await?;
    let imap_mailbox = mailbox.clone();
    let imap = TcpTarget::start(move |stream| {
        let mailbox = imap_mailbox.clone();
        async move {
            let _ = imap_session(stream, mailbox).await;
        }
    })
    .await?;
    Ok((smtp, imap))
}

async fn smtp_session(stream: TcpStream, mailbox: Mailbox) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader.take(1 << 20));
    writer
        .write_all(format!("220 {HOST} ESMTP demo\r\n").as_bytes())
        .await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: String = if command.starts_with("EHLO") {
            format!("250-{HOST}\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
        } else if command.starts_with("AUTH PLAIN") {
            "235 2.7.0 Authentication successful\r\n".into()
        } else if command.starts_with("MAIL FROM") {
            "250 2.1.0 Ok\r\n".into()
        } else if command.starts_with("RCPT TO") {
            if command.contains(&DEMO_MAILBOX.to_ascii_uppercase()) {
                "250 2.1.5 Ok\r\n".into()
            } else {
                "550 5.1.1 Recipient address rejected: user unknown\r\n".into()
            }
        } else if command == "DATA" {
            writer
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut marker = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line.trim_end() == "." {
                    break;
                }
                if let Some(value) = line.strip_prefix("X-Pharos-Check:") {
                    marker = value.trim().to_owned();
                }
            }
            mailbox.accept(marker);
            format!("250 2.0.0 Ok: queued as D{}\r\n", rand::random::<u32>())
        } else if command == "RSET" || command == "NOOP" {
            "250 2.0.0 Ok\r\n".into()
        } else if command == "QUIT" {
            writer.write_all(b"221 2.0.0 Bye\r\n").await?;
            return Ok(());
        } else {
            "502 5.5.2 Command not recognized\r\n".into()
        };
        writer.write_all(reply.as_bytes()).await?;
    }
}

async fn imap_session(stream: TcpStream, mailbox: Mailbox) -> std::io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader.take(1 << 20));
    writer
        .write_all(b"* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] demo mailbox ready\r\n")
        .await?;
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let Some((tag, command)) = line.trim_end().split_once(' ') else {
            continue;
        };
        let (tag, upper) = (tag.to_owned(), command.to_ascii_uppercase());
        let mut out = String::new();
        if upper == "CAPABILITY" {
            out.push_str("* CAPABILITY IMAP4rev1 IDLE UIDPLUS\r\n");
        } else if upper.starts_with("SELECT") || upper == "NOOP" {
            out.push_str(&format!("* {} EXISTS\r\n", mailbox.count()));
        } else if let Some(value) = upper.strip_prefix("UID SEARCH HEADER \"X-PHAROS-CHECK\" ") {
            let value = value.trim_matches('"').to_ascii_lowercase();
            let uids: Vec<String> = mailbox
                .messages
                .lock()
                .map(|messages| {
                    messages
                        .iter()
                        .filter(|m| m.marker.to_ascii_lowercase().contains(&value))
                        .map(|m| m.uid.to_string())
                        .collect()
                })
                .unwrap_or_default();
            out.push_str(&format!("* SEARCH {}\r\n", uids.join(" ")));
        } else if let Some(rest) = upper.strip_prefix("UID FETCH ") {
            let uid = rest.split_whitespace().next().unwrap_or("0");
            let header = format!("Authentication-Results: {HOST}; spf=pass smtp.mailfrom=demo.test; dkim=pass header.d=demo.test; dmarc=pass header.from=demo.test\r\n\r\n");
            out.push_str(&format!("* 1 FETCH (UID {uid} BODY[HEADER.FIELDS (AUTHENTICATION-RESULTS)] {{{}}}\r\n{header})\r\n", header.len()));
        } else if let Some(rest) = upper.strip_prefix("UID EXPUNGE ") {
            let doomed: Vec<u32> = rest
                .split(',')
                .filter_map(|uid| uid.trim().parse().ok())
                .collect();
            if let Ok(mut messages) = mailbox.messages.lock() {
                messages.retain(|message| !doomed.contains(&message.uid));
            }
        } else if upper == "IDLE" {
            writer.write_all(b"+ idling\r\n").await?;
            let arrived = mailbox.arrived.clone();
            let mut done = String::new();
            tokio::select! {
                read = lines.read_line(&mut done) => { read?; }
                _ = arrived.notified() => {
                    writer.write_all(format!("* {} EXISTS\r\n", mailbox.count()).as_bytes()).await?;
                    lines.read_line(&mut done).await?;
                }
            }
        } else if upper == "LOGOUT" {
            writer
                .write_all(format!("* BYE logging out\r\n{tag} OK LOGOUT completed\r\n").as_bytes())
                .await?;
            return Ok(());
        }
        // LOGIN, UID STORE and anything else simply succeed in the demo.
        out.push_str(&format!("{tag} OK done\r\n"));
        writer.write_all(out.as_bytes()).await?;
    }
}
