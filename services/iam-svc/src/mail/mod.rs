//! IAM's mail: the verification mail, and the mailer it goes out through
//! (the shared [`ecommerce_mailer`], chosen by `IAM_MAILER`; see
//! [`MailSettings`]):
//!
//! - the file mailer (the default) writes each message as an `.eml` file
//!   into `IAM_MAIL_DIR`, so development and tests need no mail server;
//! - the SMTP mailer sends it over SMTP (`IAM_SMTP_URL`).
//!
//! A mail body may hold a secret (a verification token): only the recipient's
//! domain is ever logged, never the address, the body or the token.

use std::sync::Arc;

pub use ecommerce_mailer::{
    DEFAULT_MAIL_DIR, DEFAULT_MAIL_FROM, FileMailer, MailAddress, MailError, MailTransport,
    MailVars, Mailer, MailerKind, OutgoingMail, SmtpMailer,
};
use ecommerce_platform::settings::{EnvSource, SettingsError};
use url::Url;

use crate::domain::email::EmailAddress;
use crate::domain::tokens::OpaqueToken;

/// The env prefix of IAM's mail variables.
pub const MAIL_ENV_PREFIX: &str = "IAM";
/// `file` (default) or `smtp`.
pub const MAILER_VAR: &str = "IAM_MAILER";
/// Directory of the file mailer; [`DEFAULT_MAIL_DIR`] by default.
pub const MAIL_DIR_VAR: &str = "IAM_MAIL_DIR";
/// SMTP server URL, required when `IAM_MAILER=smtp`; may hold a password.
pub const SMTP_URL_VAR: &str = "IAM_SMTP_URL";
/// Sender mailbox; [`DEFAULT_MAIL_FROM`] by default.
pub const MAIL_FROM_VAR: &str = "IAM_MAIL_FROM";
/// Base of the link in verification mails; no link when unset.
pub const VERIFY_URL_BASE_VAR: &str = "IAM_VERIFY_URL_BASE";

/// IAM's mail settings: the shared mailer's (`IAM_MAILER`, `IAM_MAIL_DIR`,
/// `IAM_SMTP_URL`, `IAM_MAIL_FROM`) and the verification link's base.
/// `Debug` never shows the SMTP URL.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Which mailer, and its sender.
    pub mailer: ecommerce_mailer::MailSettings,
    /// `IAM_VERIFY_URL_BASE`: an absolute `http(s)` URL, e.g. the web shop's
    /// verification page; verification mails link to `<base>?token=<token>`.
    pub verify_url_base: Option<Url>,
}

impl MailSettings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&EnvSource::process())
    }

    /// Reads and validates the settings from `source`; every error names
    /// its variable, and an SMTP URL error never shows the URL's password.
    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let mailer =
            ecommerce_mailer::MailSettings::from_source(MailVars::of(MAIL_ENV_PREFIX), source)?;
        let verify_url_base = source
            .opt::<Url>(VERIFY_URL_BASE_VAR)?
            .map(validate_verify_url_base)
            .transpose()?;
        Ok(Self {
            mailer,
            verify_url_base,
        })
    }

    /// The file mailer writing into `dir`, with the default sender and no
    /// link in verification mails.
    pub fn file(dir: impl Into<std::path::PathBuf>) -> Result<Self, SettingsError> {
        Ok(Self {
            mailer: ecommerce_mailer::MailSettings::file(MailVars::of(MAIL_ENV_PREFIX), dir)?,
            verify_url_base: None,
        })
    }

    /// The mailer these settings select. Builds the SMTP transport (and its
    /// TLS configuration) without connecting: a wrong server shows on the
    /// first send, as an error of that send.
    pub fn build(&self) -> Result<Arc<dyn Mailer>, MailError> {
        self.mailer.build()
    }
}

fn validate_verify_url_base(url: Url) -> Result<Url, SettingsError> {
    if matches!(url.scheme(), "http" | "https") && url.host().is_some() {
        return Ok(url);
    }
    Err(SettingsError::Invalid {
        variable: VERIFY_URL_BASE_VAR.to_owned(),
        value: url.to_string(),
        reason: "expected an absolute http or https URL such as https://shop.example/verify-email"
            .to_owned(),
    })
}

/// The recipient of a mail to `email`.
pub fn mail_address(email: &EmailAddress) -> MailAddress {
    MailAddress::new(email.local_part(), email.domain())
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
    OutgoingMail::text(mail_address(to), VERIFICATION_SUBJECT, body)
}

#[cfg(test)]
pub(crate) mod tests {
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
        assert_eq!(mail.to, mail_address(&jane()));
        assert_eq!(mail.html_body, None);
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

    fn invalid_variable(error: &SettingsError) -> &str {
        match error {
            SettingsError::Invalid { variable, .. } | SettingsError::NotUnicode { variable } => {
                variable
            }
        }
    }

    #[test]
    fn the_shared_mailer_reads_the_iam_variables() {
        let read = settings(&[
            (MAIL_DIR_VAR, "/tmp/iam-mail"),
            (MAIL_FROM_VAR, "Shop <shop@example.com>"),
            (VERIFY_URL_BASE_VAR, "https://shop.example/verify-email"),
        ]);
        let MailTransport::File { dir } = &read.mailer.transport else {
            panic!("expected the file mailer, got {read:?}");
        };
        assert_eq!(dir, &std::path::PathBuf::from("/tmp/iam-mail"));
        assert_eq!(read.mailer.from.email.to_string(), "shop@example.com");
        assert_eq!(
            read.verify_url_base.as_ref().map(Url::as_str),
            Some("https://shop.example/verify-email")
        );
        let error =
            MailSettings::from_source(&EnvSource::from_pairs([(MAILER_VAR, "smtp")])).unwrap_err();
        assert_eq!(invalid_variable(&error), SMTP_URL_VAR);
        let defaults = settings(&[]);
        assert_eq!(defaults.verify_url_base, None);
        let MailTransport::File { dir } = &defaults.mailer.transport else {
            panic!("expected the file mailer, got {defaults:?}");
        };
        assert_eq!(dir, std::path::Path::new(DEFAULT_MAIL_DIR));
    }

    #[test]
    fn the_verify_url_base_must_be_absolute_http() {
        for url in [
            "/verify",
            "ftp://example.com/verify",
            "mailto:x@example.com",
        ] {
            let error =
                MailSettings::from_source(&EnvSource::from_pairs([(VERIFY_URL_BASE_VAR, url)]))
                    .unwrap_err();
            assert_eq!(invalid_variable(&error), VERIFY_URL_BASE_VAR, "{url}");
        }
        let read = settings(&[(VERIFY_URL_BASE_VAR, "http://localhost:3000/verify")]);
        assert!(read.verify_url_base.is_some());
    }

    #[tokio::test]
    async fn the_file_mailer_writes_the_token_line_readable_as_it_is() {
        let temp = tempfile::tempdir().unwrap();
        let settings = MailSettings::file(temp.path()).unwrap();
        let token = verification_token();
        let mail = verification_mail(&jane(), "Jane", &token, &settings);
        settings.build().unwrap().send(&mail).await.unwrap();
        let files: Vec<_> = std::fs::read_dir(temp.path())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(text.contains("To: jane.doe@example.com"), "{text}");
        assert!(
            text.contains("Content-Type: text/plain; charset=utf-8"),
            "{text}"
        );
        assert_eq!(token_line(&text), Some(token.expose()));
    }
}
