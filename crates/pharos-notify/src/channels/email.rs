//! Email to operators through an SMTP submission server (lettre): plain text with an HTML
//! alternative; the messages of one incident thread together (the opening's Message-ID is
//! derived from the incident, and every later message answers it with In-Reply-To and
//! References), and a retried message keeps its Message-ID. A 5xx refusal gives up at once;
//! 4xx, TLS and connection failures are retried.
//! Format: RFC 5322 (Message-ID, In-Reply-To, References: section 3.6.4), RFC 2046
//! (multipart/alternative).

use super::summary::{escape_html, Summary};
use crate::channel::{Channel, Delivery, EventContext};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use pharos_config::{EmailChannel, TlsMode};
use pharos_core::{Event, EventKind};
use pharos_store::OutboxMessage;
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use std::time::Duration;

pub(crate) struct Email {
    account: EmailChannel,
    timeout: Duration,
}

impl Email {
    pub(crate) fn new(account: EmailChannel, timeout: Duration) -> Self {
        Self { account, timeout }
    }

    pub(crate) fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let server = &self.account.server;
        let parameters = || -> Result<TlsParameters, String> {
            let mut builder = TlsParameters::builder(server.host.clone())
                .dangerous_accept_invalid_certs(!server.verify_tls);
            if let Some(path) = &server.ca_file {
                let pem = std::fs::read(path)
                    .map_err(|error| format!("cannot read ca_file {}: {error}", path.display()))?;
                let certificate = Certificate::from_pem(&pem)
                    .map_err(|error| format!("ca_file {}: {error}", path.display()))?;
                builder = builder.add_root_certificate(certificate);
            }
            builder
                .build_rustls()
                .map_err(|error| format!("TLS set-up: {error}"))
        };
        let tls = match server.tls {
            TlsMode::StartTls => Tls::Required(parameters()?),
            TlsMode::Implicit => Tls::Wrapper(parameters()?),
            TlsMode::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&server.host)
            .port(server.port)
            .tls(tls)
            .timeout(Some(self.timeout));
        if let (Some(username), Some(password)) = (&server.username, &server.password) {
            builder = builder.credentials(Credentials::new(
                username.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(builder.build())
    }

    /// `text` with the account's password replaced, whatever a server quoted back.
    pub(crate) fn redact(&self, text: String) -> String {
        let secrets: Vec<&str> = self
            .account
            .server
            .password
            .iter()
            .map(|password| password.expose_secret())
            .collect();
        super::http_request::redact(&text, &secrets)
    }

    /// The domain of the sender's address, for Message-IDs.
    pub(crate) fn domain(&self) -> String {
        let address = self.account.from.trim_end_matches('>');
        address
            .rsplit('@')
            .next()
            .unwrap_or("pharos.invalid")
            .to_owned()
    }

    fn build(&self, message: &OutboxMessage) -> Result<Message, String> {
        let stored: Value = serde_json::from_str(&message.payload)
            .map_err(|_| "the stored message cannot be read".to_owned())?;
        let text = |key: &str| stored[key].as_str().unwrap_or_default().to_owned();
        let domain = self.domain();
        let thread = format!("<{}@{domain}>", text("thread"));
        let from: Mailbox = self
            .account
            .from
            .parse()
            .map_err(|error| format!("`from` {}: {error}", self.account.from))?;
        let mut builder = Message::builder().from(from).subject(text("subject"));
        for to in &self.account.to {
            let mailbox: Mailbox = to.parse().map_err(|error| format!("`to` {to}: {error}"))?;
            builder = builder.to(mailbox);
        }
        builder = if stored["opens_thread"].as_bool().unwrap_or(false) {
            builder.message_id(Some(thread))
        } else {
            builder
                .message_id(Some(format!("<{}@{domain}>", message.id)))
                .in_reply_to(thread.clone())
                .references(thread)
        };
        builder
            .multipart(MultiPart::alternative_plain_html(
                text("text"),
                text("html"),
            ))
            .map_err(|error| format!("the message cannot be built: {error}"))
    }
}

#[async_trait]
impl Channel for Email {
    fn render(&self, event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
        render(event, context, at)
    }

    async fn deliver(&self, message: &OutboxMessage) -> Delivery {
        let secrets: Vec<&str> = self
            .account
            .server
            .password
            .iter()
            .map(|password| password.expose_secret())
            .collect();
        let redact = |text: String| super::http_request::redact(&text, &secrets);
        let built = self
            .transport()
            .and_then(|transport| Ok((transport, self.build(message)?)));
        let (transport, email) = match built {
            Ok(built) => built,
            Err(reason) => {
                return Delivery::GiveUp {
                    status_code: None,
                    reason: redact(reason),
                }
            }
        };
        let sent = tokio::time::timeout(self.timeout * 3, transport.send(email)).await;
        match sent {
            Ok(Ok(response)) => Delivery::Delivered {
                status_code: Some(u16::from(response.code())),
            },
            Ok(Err(error)) => {
                let status_code = error.status().map(u16::from);
                let reason = redact(format!("the mail server refused: {error}"));
                if error.is_permanent() {
                    Delivery::GiveUp {
                        status_code,
                        reason,
                    }
                } else {
                    Delivery::Retry {
                        status_code,
                        reason,
                        retry_after: None,
                    }
                }
            }
            Err(_) => Delivery::Retry {
                status_code: None,
                reason: format!("no answer within {}s", (self.timeout * 3).as_secs()),
                retry_after: None,
            },
        }
    }
}

/// An event as an email: subject, plain text, HTML, and the incident's thread.
pub(crate) fn render(event: &Event, context: &EventContext, at: DateTime<Utc>) -> String {
    let summary = Summary::of(event, context, at);
    let mut text = format!("{}\n\n{}\n", summary.title, summary.plain_text());
    for (label, value) in summary.facts() {
        text.push_str(&format!("\n{label}: {value}"));
    }
    text.push_str("\n\n-- \nSent by pharos\n");
    let mut html = format!(
        "<h2 style=\"color:{}\">{}</h2><p><b>{}</b></p>",
        summary.tone.colour(),
        escape_html(&summary.title),
        escape_html(&summary.state)
    );
    if let Some(message) = &summary.message {
        html.push_str(&format!("<p>{}</p>", escape_html(message)));
    }
    if !summary.failing.is_empty() {
        html.push_str("<ul>");
        for check in &summary.failing {
            html.push_str(&format!("<li>{}</li>", escape_html(check)));
        }
        html.push_str("</ul>");
    }
    html.push_str("<table>");
    for (label, value) in summary.facts() {
        html.push_str(&format!(
            "<tr><th align=\"left\">{label}</th><td>{}</td></tr>",
            escape_html(&value)
        ));
    }
    html.push_str("</table>");
    if let Some(link) = &summary.link {
        html.push_str(&format!(
            "<p><a href=\"{}\">View on the status page</a></p>",
            escape_html(link)
        ));
    }
    json!({
        // One subject for the whole incident, so that mail clients thread it.
        "subject": format!("[pharos] {}", summary.title),
        "text": text,
        "html": html,
        "thread": summary.key,
        "opens_thread": matches!(summary.kind, EventKind::IncidentOpened),
    })
    .to_string()
}
