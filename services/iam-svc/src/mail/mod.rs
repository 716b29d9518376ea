//! Outgoing mail: the [`Mailer`] trait, the verification mail, and two
//! implementations chosen by `IAM_MAILER` (see [`MailSettings`]):
//!
//! - [`FileMailer`] (the default) writes each message as an `.eml` file into
//!   `IAM_MAIL_DIR`, so development and tests need no mail server;
//! - [`SmtpMailer`] sends it over SMTP (`IAM_SMTP_URL`).
//!
//! Both format messages the same way, with lettre's message builder, so a
//! file written in development is byte for byte what SMTP would carry (but
//! for its `Date` and `Message-ID`).
//!
//! A mail body may hold a secret (a verification token): only the recipient's
//! domain is ever logged, never the address, the body or the token.

mod file;
mod settings;
mod smtp;

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use async_trait::async_trait;
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use uuid::Uuid;

use crate::domain::email::EmailAddress;
use crate::domain::tokens::OpaqueToken;

pub use self::file::FileMailer;
pub use self::settings::{
    DEFAULT_MAIL_DIR, DEFAULT_MAIL_FROM, MAIL_DIR_VAR, MAIL_FROM_VAR, MAILER_VAR, MailSettings,
    MailTransport, MailerKind, SMTP_URL_VAR, VERIFY_URL_BASE_VAR,
};
pub use self::smtp::SmtpMailer;

/// Delivers mail. Implementations are shared by every request.
#[async_trait]
pub trait Mailer: Send + Sync + fmt::Debug {
    /// Delivers `message`, or says why it could not.
    async fn send(&self, message: &OutgoingMail) -> Result<(), MailError>;
}

/// A plain-text mail to one recipient. Body lines end in `\n` (formatting
/// turns them into CRLF). `Debug` shows only the recipient's domain and the
/// subject: the body may hold a token.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: EmailAddress,
    pub subject: String,
    pub text_body: String,
}

impl fmt::Debug for OutgoingMail {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("OutgoingMail")
            .field("to_domain", &self.to.domain())
            .field("subject", &self.subject)
            .field("text_body_len", &self.text_body.len())
            .finish()
    }
}

/// The subject of the verification mail.
pub const VERIFICATION_SUBJECT: &str = "Confirm your email address";
/// Start of the body line that carries the verification token; tests and
/// developers find the token by it.
pub const VERIFICATION_TOKEN_LINE: &str = "Verification token: ";

/// The mail that delivers an email-verification token to `to`. The token
/// stands on a line of its own, `Verification token: <token>`; when
/// `IAM_VERIFY_URL_BASE` is set the mail also links to
/// `<base>?token=<token>`.
pub fn verification_mail(
    to: &EmailAddress,
    display_name: &str,
    token: &OpaqueToken,
    settings: &MailSettings,
) -> OutgoingMail {
    let greeting = match display_name.trim() {
        "" => "Hello,".to_owned(),
        name => format!("Hello {name},"),
    };
    let mut body = format!(
        "{greeting}\n\nPlease confirm that this email address belongs to your account.\n\n"
    );
    if let Some(base) = &settings.verify_url_base {
        let mut link = base.clone();
        link.query_pairs_mut().append_pair("token", token.expose());
        body.push_str("Open this link to confirm it:\n\n");
        body.push_str(link.as_str());
        body.push_str("\n\nor enter this token where you signed up:\n\n");
    } else {
        body.push_str("Enter this token where you signed up:\n\n");
    }
    body.push_str(VERIFICATION_TOKEN_LINE);
    body.push_str(token.expose());
    body.push_str(
        "\n\nThe token works once and expires soon; if it has expired, ask for a new \
         verification email.\nIf you did not sign up, ignore this email.\n",
    );
    OutgoingMail {
        to: to.clone(),
        subject: VERIFICATION_SUBJECT.to_owned(),
        text_body: body,
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

/// Formats `mail` as an RFC 5322 message from `from`, dated `date`, with
/// Message-ID `<message_id@from's domain>`.
///
/// The body is always quoted-printable: lettre would otherwise pick 7bit,
/// quoted-printable or base64 by content, and base64 would hide the token
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
    let body = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::QuotedPrintable)
        .body(mail.text_body.clone());
    Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to_address))
        .subject(mail.subject.clone())
        .date(date)
        .message_id(Some(format!("<{message_id}@{}>", from.email.domain())))
        .singlepart(body)
        .map_err(MailError::Build)
}

#[cfg(test)]
pub(crate) mod tests {
    use ecommerce_platform::settings::EnvSource;

    use super::*;
    use crate::domain::tokens::TokenKind;

    pub(crate) fn settings(pairs: &[(&str, &str)]) -> MailSettings {
        MailSettings::from_source(&EnvSource::from_pairs(pairs.iter().copied())).unwrap()
    }

    pub(crate) fn jane() -> EmailAddress {
        EmailAddress::parse("Jane.Doe@Example.com").unwrap()
    }

    pub(crate) fn verification_token() -> OpaqueToken {
        OpaqueToken::generate(TokenKind::EmailVerification).unwrap()
    }

    /// The token a body carries, found the way the integration tests do.
    pub(crate) fn token_line(text: &str) -> Option<&str> {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(VERIFICATION_TOKEN_LINE))
    }

    #[test]
    fn the_verification_mail_carries_the_token_on_its_own_line() {
        let token = verification_token();
        let mail = verification_mail(&jane(), "Jane", &token, &settings(&[]));
        assert_eq!(mail.to, jane());
        assert_eq!(mail.subject, "Confirm your email address");
        assert!(
            mail.text_body.starts_with("Hello Jane,\n"),
            "{}",
            mail.text_body
        );
        assert_eq!(token_line(&mail.text_body), Some(token.expose()));
        assert!(
            mail.text_body
                .contains(&format!("\nVerification token: {}\n", token.expose()))
        );
        // No base URL, no link.
        assert!(!mail.text_body.contains("http"), "{}", mail.text_body);
        assert!(!mail.text_body.contains("?token="), "{}", mail.text_body);
    }

    #[test]
    fn with_a_base_url_the_mail_also_links_to_it() {
        let token = verification_token();
        let settings = settings(&[(VERIFY_URL_BASE_VAR, "https://shop.example/verify-email")]);
        let mail = verification_mail(&jane(), "Jane", &token, &settings);
        let link = format!("https://shop.example/verify-email?token={}", token.expose());
        assert!(
            mail.text_body.contains(&format!("\n{link}\n")),
            "{}",
            mail.text_body
        );
        assert_eq!(token_line(&mail.text_body), Some(token.expose()));
    }

    #[test]
    fn a_base_url_with_a_query_keeps_it() {
        let token = verification_token();
        let settings = settings(&[(VERIFY_URL_BASE_VAR, "http://localhost:3000/verify?lang=en")]);
        let mail = verification_mail(&jane(), "Jane", &token, &settings);
        assert!(
            mail.text_body.contains(&format!(
                "http://localhost:3000/verify?lang=en&token={}",
                token.expose()
            )),
            "{}",
            mail.text_body
        );
    }

    #[test]
    fn a_blank_name_gets_a_plain_greeting() {
        let mail = verification_mail(&jane(), "  ", &verification_token(), &settings(&[]));
        assert!(mail.text_body.starts_with("Hello,\n"), "{}", mail.text_body);
    }

    #[test]
    fn debug_hides_the_body_and_the_local_part() {
        let token = verification_token();
        let mail = verification_mail(&jane(), "Jane", &token, &settings(&[]));
        let printed = format!("{mail:?}");
        assert!(!printed.contains(token.expose()), "{printed}");
        assert!(!printed.contains("jane.doe"), "{printed}");
        assert!(printed.contains("example.com"), "{printed}");
    }
}
