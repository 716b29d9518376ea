//! Outgoing mail, shared by every service that sends some (iam-svc's
//! verification mail, notifications-svc's order mails): the [`Mailer`]
//! trait and two implementations chosen by `<PREFIX>_MAILER` (see
//! [`MailSettings`]):
//!
//! - [`FileMailer`] (the default) writes each message as an `.eml` file into
//!   `<PREFIX>_MAIL_DIR`, so development and tests need no mail server;
//! - [`SmtpMailer`] sends it over SMTP (`<PREFIX>_SMTP_URL`).
//!
//! Both format messages the same way, with lettre's message builder, so a
//! file written in development is byte for byte what SMTP would carry (but
//! for its `Date` and `Message-ID`). A mail with only a text body is one
//! `text/plain` part (what IAM has always sent); one with an HTML body too
//! is `multipart/alternative` (text first, HTML second).
//!
//! A mail body may hold a secret (a verification token) or personal data
//! (an order): only the recipient's domain is ever logged, never the
//! address or the body.

mod file;
mod settings;
mod smtp;

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use async_trait::async_trait;
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use uuid::Uuid;

pub use self::file::FileMailer;
pub use self::settings::{
    DEFAULT_MAIL_DIR, DEFAULT_MAIL_FROM, MailSettings, MailTransport, MailVars, MailerKind,
};
pub use self::smtp::SmtpMailer;

/// Delivers mail. Implementations are shared by every request.
#[async_trait]
pub trait Mailer: Send + Sync + fmt::Debug {
    /// Delivers `message`, or says why it could not.
    async fn send(&self, message: &OutgoingMail) -> Result<(), MailError>;
}

/// A recipient's address as its two halves. Checked by the mail library
/// when a message is formatted (an address it refuses is
/// [`MailError::Address`]); the services check their addresses earlier.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MailAddress {
    local_part: String,
    domain: String,
}

impl MailAddress {
    pub fn new(local_part: impl Into<String>, domain: impl Into<String>) -> Self {
        Self {
            local_part: local_part.into(),
            domain: domain.into(),
        }
    }

    /// `local@domain`, split at the last `@`; `None` when either half is
    /// empty.
    pub fn parse(address: &str) -> Option<Self> {
        let (local_part, domain) = address.trim().rsplit_once('@')?;
        if local_part.is_empty() || domain.is_empty() {
            return None;
        }
        Some(Self::new(local_part, domain))
    }

    pub fn local_part(&self) -> &str {
        &self.local_part
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl fmt::Display for MailAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}@{}", self.local_part, self.domain)
    }
}

/// Only the domain: an address is personal data.
impl fmt::Debug for MailAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "<hidden>@{}", self.domain)
    }
}

/// A mail to one recipient: a text body, and optionally an HTML body with
/// the same content. Body lines end in `\n` (formatting turns them into
/// CRLF). `Debug` shows only the recipient's domain and the subject: the
/// body may hold a token.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: MailAddress,
    pub subject: String,
    pub text_body: String,
    pub html_body: Option<String>,
}

impl OutgoingMail {
    /// A plain-text mail.
    pub fn text(to: MailAddress, subject: impl Into<String>, text_body: impl Into<String>) -> Self {
        Self {
            to,
            subject: subject.into(),
            text_body: text_body.into(),
            html_body: None,
        }
    }

    /// The same mail with an HTML alternative.
    pub fn with_html(mut self, html_body: impl Into<String>) -> Self {
        self.html_body = Some(html_body.into());
        self
    }
}

impl fmt::Debug for OutgoingMail {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OutgoingMail")
            .field("to_domain", &self.to.domain())
            .field("subject", &self.subject)
            .field("text_body_len", &self.text_body.len())
            .field("html_body_len", &self.html_body.as_ref().map(String::len))
            .finish()
    }
}

/// Why a mail was not delivered. Never contains the body.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the mail library refused the address: {0}")]
    Address(lettre::address::AddressError),
    #[error("could not build the mail: {0}")]
    Build(lettre::error::Error),
    #[error("could not write mail file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the mail writing task failed: {0}")]
    Task(tokio::task::JoinError),
    #[error("invalid SMTP settings: {0}")]
    SmtpSettings(lettre::transport::smtp::Error),
    #[error("could not send mail over SMTP: {0}")]
    Smtp(lettre::transport::smtp::Error),
}

impl MailError {
    /// Whether sending the same mail again may succeed: a refused address
    /// or a message that cannot be built never will.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Address(_) | Self::Build(_) | Self::SmtpSettings(_) => false,
            Self::Write { .. } | Self::Task(_) | Self::Smtp(_) => true,
        }
    }
}

/// Formats `mail` as an RFC 5322 message from `from`, dated `date`, with
/// Message-ID `<message_id@from's domain>`.
///
/// Every body is quoted-printable: lettre would otherwise pick 7bit,
/// quoted-printable or base64 by content, and base64 would hide a token
/// line from anyone reading an `.eml` file. Quoted-printable leaves short
/// ASCII lines such as the token line as they are.
fn format_message(
    from: &Mailbox,
    mail: &OutgoingMail,
    date: SystemTime,
    message_id: Uuid,
) -> Result<Message, MailError> {
    let to_address =
        lettre::Address::new(mail.to.local_part(), mail.to.domain()).map_err(MailError::Address)?;
    let part = |content_type: ContentType, body: &str| {
        SinglePart::builder()
            .header(content_type)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(body.to_owned())
    };
    let text = part(ContentType::TEXT_PLAIN, &mail.text_body);
    let builder = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to_address))
        .subject(mail.subject.clone())
        .date(date)
        .message_id(Some(format!("<{message_id}@{}>", from.email.domain())));
    match &mail.html_body {
        None => builder.singlepart(text),
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .singlepart(text)
                .singlepart(part(ContentType::TEXT_HTML, html)),
        ),
    }
    .map_err(MailError::Build)
}

#[cfg(test)]
pub(crate) mod tests {
    use ecommerce_platform::settings::EnvSource;

    use super::*;

    pub(crate) fn settings(pairs: &[(&str, &str)]) -> MailSettings {
        MailSettings::from_source(
            MailVars::of("TEST"),
            &EnvSource::from_pairs(pairs.iter().copied()),
        )
        .unwrap()
    }

    pub(crate) fn jane() -> MailAddress {
        MailAddress::new("jane.doe", "example.com")
    }

    #[test]
    fn addresses_split_at_the_last_at_and_hide_the_local_part() {
        let address = MailAddress::parse(" jane@doe@example.com ").unwrap();
        assert_eq!(address.local_part(), "jane@doe");
        assert_eq!(address.domain(), "example.com");
        assert_eq!(address.to_string(), "jane@doe@example.com");
        assert_eq!(format!("{address:?}"), "<hidden>@example.com");
        for bad in ["", "jane", "@example.com", "jane@"] {
            assert!(MailAddress::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_bodies_and_the_local_part() {
        let mail = OutgoingMail::text(jane(), "Hi", "secret-token").with_html("<p>secret</p>");
        let printed = format!("{mail:?}");
        assert!(!printed.contains("secret"), "{printed}");
        assert!(!printed.contains("jane.doe"), "{printed}");
        assert!(printed.contains("example.com"), "{printed}");
    }

    #[test]
    fn a_text_mail_is_one_plain_part_and_an_html_mail_two_alternatives() {
        let from = settings(&[]).from;
        let text = OutgoingMail::text(jane(), "Hi", "Hello\n");
        let formatted = String::from_utf8(
            format_message(&from, &text, SystemTime::now(), Uuid::now_v7())
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(formatted.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(!formatted.contains("multipart"), "{formatted}");

        let html = text.with_html("<p>Hello</p>\n");
        let formatted = String::from_utf8(
            format_message(&from, &html, SystemTime::now(), Uuid::now_v7())
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(
            formatted.contains("Content-Type: multipart/alternative"),
            "{formatted}"
        );
        let plain_at = formatted.find("Content-Type: text/plain").unwrap();
        let html_at = formatted.find("Content-Type: text/html").unwrap();
        assert!(plain_at < html_at, "text first, HTML last: {formatted}");
        assert!(formatted.contains("<p>Hello</p>"), "{formatted}");
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        let refused = lettre::Address::new("a b", "example.com").unwrap_err();
        assert!(!MailError::Address(refused).is_retryable());
        let write = MailError::Write {
            path: PathBuf::from("/x"),
            source: std::io::Error::other("disk full"),
        };
        assert!(write.is_retryable());
    }
}
