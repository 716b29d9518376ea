//! The SMTP mailer, on lettre's async tokio transport.

use std::fmt;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Tokio1Executor};
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;
use uuid::Uuid;

use super::settings::server_of;
use super::{MailError, Mailer, OutgoingMail, format_message};

/// How long one SMTP command may take before the send fails. Lettre's
/// default is a minute; a verification mail is sent after the request's
/// transaction, and neither its caller nor a sender loop should wait that
/// long for a dead server.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends mail through an SMTP server, one connection per message.
///
/// TLS (`smtps://`, or `smtp://…?tls=required` for STARTTLS) uses rustls with
/// the webpki root certificates. `Debug` and logs show only the server's
/// scheme, host and port, never the credentials.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

impl SmtpMailer {
    /// A mailer for the server at `url` (see
    /// [`MailTransport::Smtp`](crate::MailTransport::Smtp) for its forms),
    /// sending as `from`. Does not connect.
    pub fn from_url(url: &SecretString, from: Mailbox) -> Result<Self, MailError> {
        let url = url.expose_secret().trim();
        let server = Url::parse(url).map_or_else(|_| "<hidden>".to_owned(), |url| server_of(&url));
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(MailError::SmtpSettings)?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self {
            transport,
            from,
            server,
        })
    }

    /// `scheme://host[:port]` of the server, for logs.
    pub fn server(&self) -> &str {
        &self.server
    }
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The transport's own Debug prints the credentials.
        formatter
            .debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let message = format_message(&self.from, mail, SystemTime::now(), Uuid::now_v7())?;
        self.transport
            .send(message)
            .await
            .map_err(MailError::Smtp)?;
        tracing::info!(
            to_domain = %mail.to.domain(),
            server = %self.server,
            "mail sent"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::settings;

    fn from() -> Mailbox {
        settings(&[]).from
    }

    fn mailer(url: &str) -> Result<SmtpMailer, MailError> {
        SmtpMailer::from_url(&SecretString::from(url), from())
    }

    #[test]
    fn plain_starttls_and_tls_urls_build_without_connecting() {
        for (url, server) in [
            ("smtp://localhost:1025", "smtp://localhost:1025"),
            (
                "smtp://user:s3cr3t-pw@mail.example.com:587?tls=required",
                "smtp://mail.example.com:587",
            ),
            (
                "smtp://mail.example.com?tls=opportunistic",
                "smtp://mail.example.com",
            ),
            (
                "smtps://user:s3cr3t-pw@mail.example.com",
                "smtps://mail.example.com",
            ),
        ] {
            let mailer = mailer(url).unwrap();
            assert_eq!(mailer.server(), server);
            let printed = format!("{mailer:?}");
            assert!(!printed.contains("s3cr3t-pw"), "{printed}");
            assert!(!printed.contains("user"), "{printed}");
            assert!(printed.contains(server), "{printed}");
        }
    }

    #[test]
    fn urls_lettre_cannot_use_are_refused() {
        for url in [
            "http://mail.example.com",
            "smtp://mail.example.com?tls=maybe",
            "nonsense",
        ] {
            let error = mailer(url).unwrap_err();
            assert!(
                matches!(error, MailError::SmtpSettings(_)),
                "{url}: {error:?}"
            );
        }
    }
}
