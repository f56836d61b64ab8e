//! Delivering outbox rows as letters over SMTP, through lettre's pooled client: one letter per
//! row, threaded under the customer's last letter (`In-Reply-To`, `References`, "Re: " and the
//! subject kept), with a Message-ID of our own derived from the row (a retried row is the same
//! letter to the customer's program) and a `Reply-To` that names the thread. The text goes as a
//! plain part and a simple HTML part rendered from the same Fluent text; agents' photos are
//! attached. The bot's letters carry `Auto-Submitted: auto-replied` (RFC 3834), so other
//! robots do not answer them.
//!
//! SMTP's answer decides what the outbox does: 4xx (and a lost connection) is tried again with
//! backoff, 5xx is a dead letter, and a 5xx that says the mailbox does not exist marks the
//! contact unreachable.

use super::CHANNEL;
use super::thread::Threads;
use crate::channels::numbered::numbered_text;
use crate::channels::{Channel, Delivery, DeliveryError, Renderer, stored_image};
use crate::config::email::{EmailSettings, Security};
use crate::core::keys;
use crate::core::message::{MediaRef, Outbound, Reply};
use crate::media::MediaStore;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::Arc;

/// Connections the pool keeps open to the SMTP server.
const POOL_SIZE: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum EmailSetupError {
    #[error("SWITCHBOARD_EMAIL_SMTP_URL: {0}")]
    Smtp(String),
    #[error("SWITCHBOARD_EMAIL_FROM: {0}")]
    From(String),
}

/// The email channel: delivers outbox rows, and hands out the inbound half for the IMAP loop.
/// Cheap to clone; clones share the SMTP pool.
#[derive(Clone)]
pub struct EmailChannel {
    smtp: AsyncSmtpTransport<Tokio1Executor>,
    media: MediaStore,
    render: Renderer,
    threads: Threads,
    settings: Arc<EmailSettings>,
}

impl EmailChannel {
    /// Validates the sender and builds the SMTP pool. Call it inside a Tokio runtime: the pool
    /// starts its task that closes idle connections.
    pub fn new(
        settings: EmailSettings,
        media: MediaStore,
        render: Renderer,
    ) -> Result<EmailChannel, EmailSetupError> {
        let endpoint = &settings.smtp;
        let builder = match endpoint.security {
            Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&endpoint.host),
            Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&endpoint.host),
            Security::Plain => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&endpoint.host)),
        }
        .map_err(|error| EmailSetupError::Smtp(error.to_string()))?;
        let smtp = builder
            .port(endpoint.port)
            .credentials(Credentials::new(endpoint.user.clone(), settings.smtp_password.expose().to_owned()))
            .timeout(Some(settings.timeout))
            .pool_config(PoolConfig::new().max_size(POOL_SIZE))
            .build();
        settings
            .from_address
            .parse::<lettre::Address>()
            .map_err(|error| EmailSetupError::From(error.to_string()))?;
        let threads = Threads::new(settings.thread_key.expose().as_bytes(), &settings.from_address);
        Ok(EmailChannel { smtp, media, render, threads, settings: Arc::new(settings) })
    }

    /// The inbound half, sharing this channel's settings, thread key and media store.
    pub fn receiver(&self) -> super::EmailReceiver {
        super::EmailReceiver {
            media: self.media.clone(),
            threads: self.threads.clone(),
            settings: self.settings.clone(),
        }
    }

    pub fn settings(&self) -> &EmailSettings {
        &self.settings
    }

    /// The letter for one outbox row.
    async fn letter(&self, delivery: &Delivery) -> Result<Message, DeliveryError> {
        let permanent = |reason: String| DeliveryError::Permanent { reason, unreachable: false };
        let data = delivery.contact_data.as_ref();
        let field = |name: &str| data.and_then(|data| data.get(name)).and_then(serde_json::Value::as_str);
        let address = field("address").ok_or_else(|| permanent("the contact has no email address".into()))?;
        let to_address: lettre::Address = address
            .parse()
            .map_err(|error| permanent(format!("the contact's address does not read: {error}")))?;
        let to = Mailbox::new(field("name").map(str::to_owned), to_address);

        let (text, sender_name, attachments, automatic) = match &delivery.message {
            // Buttons become numbered lines; a reply with the number presses one (the engine
            // reads it back through `core::choices`).
            Outbound::Bot(reply) => {
                let text = numbered_text(&self.render, delivery.lang, reply);
                (text, self.settings.from_name.clone(), reply.attachments.clone(), true)
            }
            // An agent's words go out exactly as written, under the agent's name.
            Outbound::Agent { agent, text, attachments } => {
                let name = Some(agent.trim().to_owned()).filter(|name| !name.is_empty());
                (text.clone(), name.or_else(|| self.settings.from_name.clone()), attachments.clone(), false)
            }
        };
        let from_address: lettre::Address =
            self.settings.from_address.parse().map_err(|error| permanent(format!("our address: {error}")))?;
        let reply_to: lettre::Address = self
            .threads
            .reply_address(&delivery.external_id, address)
            .parse()
            .map_err(|error| permanent(format!("the reply address: {error}")))?;

        let subject = match field("subject").map(str::trim).filter(|subject| !subject.is_empty()) {
            Some(subject) if has_reply_prefix(subject) => subject.to_owned(),
            Some(subject) => format!("Re: {subject}"),
            None => (self.render)(delivery.lang, &Reply::new(keys::EMAIL_SUBJECT_DEFAULT)).text,
        };
        let subject = with_ticket_number(subject, delivery.ticket);
        let message_id = self.threads.message_id(&delivery.external_id, address, delivery.outbox_id);
        let mut builder = Message::builder()
            .from(Mailbox::new(sender_name, from_address))
            .reply_to(Mailbox::new(self.settings.from_name.clone(), reply_to))
            .to(to)
            .subject(subject)
            .message_id(Some(format!("<{message_id}>")))
            .date_now();
        if let Some(parent) = field("message_id") {
            builder = builder.in_reply_to(format!("<{parent}>"));
        }
        let references: Vec<String> = data
            .and_then(|data| data.get("references"))
            .and_then(serde_json::Value::as_array)
            .map(|ids| ids.iter().filter_map(serde_json::Value::as_str).map(|id| format!("<{id}>")).collect())
            .unwrap_or_default();
        if !references.is_empty() {
            builder = builder.references(references.join(" "));
        }
        if automatic {
            builder = builder.raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-replied".to_owned(),
            ));
        }

        let body = MultiPart::alternative_plain_html(text.clone(), html_of(&text));
        let files = self.attachments(&attachments).await?;
        let letter = if files.is_empty() {
            builder.multipart(body)
        } else {
            let mixed = files
                .into_iter()
                .fold(MultiPart::mixed().multipart(body), |mixed, file| mixed.singlepart(file));
            builder.multipart(mixed)
        };
        letter.map_err(|error| permanent(format!("the letter could not be built: {error}")))
    }

    /// The stored photos, as attachments named after their order and type.
    async fn attachments(&self, media: &[MediaRef]) -> Result<Vec<SinglePart>, DeliveryError> {
        let mut parts = Vec::new();
        for (index, photo) in media.iter().enumerate() {
            let Some(bytes) = stored_image(&self.media, photo, "a letter").await? else { continue };
            let extension = if photo.content_type == "image/jpeg" { "jpg" } else { "png" };
            let content_type = ContentType::parse(&photo.content_type)
                .map_err(|error| DeliveryError::Transient(format!("the image's type: {error}")))?;
            parts.push(Attachment::new(format!("photo-{}.{extension}", index + 1)).body(bytes, content_type));
        }
        Ok(parts)
    }
}

/// `Re:`, `RE:`, `Fwd:`-free subjects get one `Re: `; one that already answers is kept.
fn has_reply_prefix(subject: &str) -> bool {
    let lowered = subject.to_lowercase();
    ["re:", "re :", "ответ:", "回复：", "回复:", "答复："].iter().any(|prefix| lowered.starts_with(prefix))
}

/// The subject with the ticket's number (`[#42]`) at its end, once: a customer's reply keeps
/// it, and it is not added again.
fn with_ticket_number(subject: String, ticket: Option<i64>) -> String {
    match ticket {
        Some(ticket) if !subject.contains(&format!("[#{ticket}]")) => format!("{subject} [#{ticket}]"),
        _ => subject,
    }
}

/// The simple HTML part: the same text, escaped, paragraphs as `<p>`, line breaks kept.
pub fn html_of(text: &str) -> String {
    let mut html = String::from("<!DOCTYPE html><html><body>");
    for paragraph in text.split("\n\n").filter(|paragraph| !paragraph.trim().is_empty()) {
        html.push_str("<p>");
        let lines: Vec<String> = paragraph.trim().lines().map(escape).collect();
        html.push_str(&lines.join("<br>"));
        html.push_str("</p>");
    }
    html.push_str("</body></html>");
    html
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// What an SMTP failure means for the outbox.
fn delivery_error(error: &lettre::transport::smtp::Error) -> DeliveryError {
    if error.is_permanent() {
        let code = error.status().map(|code| code.to_string()).unwrap_or_default();
        // 550, 551 and 553: the mailbox does not exist or is not accepted; more letters to it
        // would only bounce too.
        let unreachable = matches!(code.as_str(), "550" | "551" | "553");
        DeliveryError::Permanent {
            reason: format!("the SMTP server refused the letter: {error}"),
            unreachable,
        }
    } else {
        DeliveryError::Transient(format!("SMTP: {error}"))
    }
}

#[async_trait::async_trait]
impl Channel for EmailChannel {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    fn shows_ticket_number(&self) -> bool {
        true
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError> {
        let letter = self.letter(delivery).await?;
        self.smtp.send(letter).await.map_err(|error| delivery_error(&error))?;
        tracing::debug!(outbox_id = delivery.outbox_id, "delivered by email");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::email::Endpoint;
    use crate::secret::Secret;

    fn settings(security: Security) -> EmailSettings {
        let endpoint =
            |host: &str| Endpoint { host: host.into(), port: 465, user: "support".into(), security };
        EmailSettings {
            imap: endpoint("imap.example.com"),
            mailbox: "INBOX".into(),
            imap_password: Secret::new("pw"),
            smtp: endpoint("smtp.example.com"),
            smtp_password: Secret::new("pw"),
            from_address: "support@example.com".into(),
            from_name: Some("Support".into()),
            thread_key: Secret::new("a thread key of some length"),
            idle_refresh: crate::config::email::DEFAULT_IDLE_REFRESH,
            timeout: std::time::Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn tls_and_starttls_clients_build_with_our_crypto_provider() {
        // Building sets up rustls without a connection: a provider that cannot be chosen
        // would fail here rather than at the first reply.
        let folder = tempfile::tempdir().unwrap();
        let render: Renderer = Arc::new(|_, reply: &Reply| crate::i18n::RenderedReply {
            text: reply.key().to_owned(),
            buttons: Vec::new(),
            attachments: Vec::new(),
        });
        for security in [Security::Tls, Security::StartTls, Security::Plain] {
            let media = MediaStore::new(folder.path(), 1024);
            assert!(EmailChannel::new(settings(security), media, render.clone()).is_ok(), "{security:?}");
        }
    }

    #[test]
    fn the_html_part_is_the_same_text_escaped() {
        assert_eq!(
            html_of("Hello <b>Anna</b> & co.\nLine two\n\nSecond"),
            "<!DOCTYPE html><html><body><p>Hello &lt;b&gt;Anna&lt;/b&gt; &amp; co.<br>Line two</p><p>Second</p></body></html>"
        );
        assert!(has_reply_prefix("RE: order"));
        assert_eq!(with_ticket_number("Re: Order".into(), Some(42)), "Re: Order [#42]");
        assert_eq!(with_ticket_number("Re: Order [#42]".into(), Some(42)), "Re: Order [#42]");
        assert_eq!(with_ticket_number("Re: Order".into(), None), "Re: Order");
        assert!(!has_reply_prefix("Order 12345678"));
    }
}
