//! Which mailer to use and how, from `<PREFIX>_*` environment variables
//! (`IAM_MAILER` for iam-svc, `NOTIFICATIONS_MAILER` for notifications-svc).

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use ecommerce_platform::settings::{EnvSource, SettingsError};
use lettre::message::Mailbox;
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use super::{FileMailer, MailError, Mailer, SmtpMailer};

/// Where the file mailer writes when `<PREFIX>_MAIL_DIR` is unset, relative
/// to the working directory.
pub const DEFAULT_MAIL_DIR: &str = "var/mail";
/// The sender when `<PREFIX>_MAIL_FROM` is unset.
pub const DEFAULT_MAIL_FROM: &str = "ecommerce <no-reply@ecommerce.local>";

/// The names of one service's mail variables: `<PREFIX>_MAILER` (`file`,
/// the default, or `smtp`), `<PREFIX>_MAIL_DIR` (the file mailer's
/// directory, [`DEFAULT_MAIL_DIR`] by default), `<PREFIX>_SMTP_URL`
/// (required with `smtp`; may hold a password) and `<PREFIX>_MAIL_FROM`
/// (the sender, [`DEFAULT_MAIL_FROM`] by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailVars {
    pub mailer: String,
    pub mail_dir: String,
    pub smtp_url: String,
    pub mail_from: String,
}

impl MailVars {
    /// The variables of the service whose env prefix is `prefix` (`IAM`).
    pub fn of(prefix: &str) -> Self {
        Self {
            mailer: format!("{prefix}_MAILER"),
            mail_dir: format!("{prefix}_MAIL_DIR"),
            smtp_url: format!("{prefix}_SMTP_URL"),
            mail_from: format!("{prefix}_MAIL_FROM"),
        }
    }
}

/// Which [`Mailer`] `<PREFIX>_MAILER` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MailerKind {
    /// [`FileMailer`]: `.eml` files in a directory; for development.
    #[default]
    File,
    /// [`SmtpMailer`].
    Smtp,
}

impl FromStr for MailerKind {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.to_ascii_lowercase().as_str() {
            "file" => Ok(Self::File),
            "smtp" => Ok(Self::Smtp),
            _ => Err("expected `file` or `smtp`"),
        }
    }
}

/// The selected mailer and what it needs.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// Write `.eml` files into `dir` (created when missing).
    File { dir: PathBuf },
    /// Send through the SMTP server at `url`
    /// (`smtp://host:port`, `smtp://user:pass@host?tls=required`,
    /// `smtps://user:pass@host`). Secret: it may hold a password.
    Smtp { url: SecretString },
}

/// Mail settings. `Debug` never shows the SMTP URL.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `<PREFIX>_MAILER` with `<PREFIX>_MAIL_DIR` or `<PREFIX>_SMTP_URL`.
    pub transport: MailTransport,
    /// `<PREFIX>_MAIL_FROM`.
    pub from: Mailbox,
    /// The variables these settings were read from (named in logs).
    pub vars: MailVars,
}

impl MailSettings {
    /// Reads the settings named by `vars` from the process environment.
    pub fn from_env(vars: MailVars) -> Result<Self, SettingsError> {
        Self::from_source(vars, &EnvSource::process())
    }

    /// Reads and validates the settings named by `vars` from `source`;
    /// every error names its variable, and an SMTP URL error never shows
    /// the URL's password.
    pub fn from_source(vars: MailVars, source: &EnvSource) -> Result<Self, SettingsError> {
        let transport = match source.or(&vars.mailer, MailerKind::File)? {
            MailerKind::File => MailTransport::File {
                dir: source.or(&vars.mail_dir, PathBuf::from(DEFAULT_MAIL_DIR))?,
            },
            MailerKind::Smtp => {
                let Some(url) = source.string(&vars.smtp_url)? else {
                    return Err(SettingsError::Invalid {
                        variable: vars.smtp_url.clone(),
                        value: String::new(),
                        reason: format!("must be set when {}=smtp", vars.mailer),
                    });
                };
                let url = SecretString::from(url);
                validate_smtp_url(&vars.smtp_url, &url)?;
                MailTransport::Smtp { url }
            }
        };
        let from_text = source
            .string(&vars.mail_from)?
            .unwrap_or_else(|| DEFAULT_MAIL_FROM.to_owned());
        let from = from_text
            .trim()
            .parse::<Mailbox>()
            .map_err(|error| SettingsError::Invalid {
                variable: vars.mail_from.clone(),
                value: from_text.clone(),
                reason: format!("{error}; expected a mailbox such as {DEFAULT_MAIL_FROM}"),
            })?;
        Ok(Self {
            transport,
            from,
            vars,
        })
    }

    /// The file mailer writing into `dir`, with the default sender.
    pub fn file(vars: MailVars, dir: impl Into<PathBuf>) -> Result<Self, SettingsError> {
        let dir_text = dir.into().to_string_lossy().into_owned();
        let mail_dir = vars.mail_dir.clone();
        Self::from_source(
            vars,
            &EnvSource::from_pairs([(mail_dir.as_str(), dir_text.as_str())]),
        )
    }

    /// The mailer these settings select. Builds the SMTP transport (and its
    /// TLS configuration) without connecting: a wrong server shows on the
    /// first send, as an error of that send.
    pub fn build(&self) -> Result<Arc<dyn Mailer>, MailError> {
        match &self.transport {
            MailTransport::File { dir } => {
                tracing::info!(
                    dir = %dir.display(),
                    "mail is written to files, not sent ({}=file)",
                    self.vars.mailer
                );
                Ok(Arc::new(FileMailer::new(dir.clone(), self.from.clone())))
            }
            MailTransport::Smtp { url } => {
                let mailer = SmtpMailer::from_url(url, self.from.clone())?;
                tracing::info!(server = %mailer.server(), "mail is sent over smtp");
                Ok(Arc::new(mailer))
            }
        }
    }
}

/// Checks what lettre will need of an SMTP URL, so a typo fails at start-up
/// naming the variable. The error shows the URL without its password, or
/// nothing of it when it does not parse.
fn validate_smtp_url(variable: &str, url: &SecretString) -> Result<(), SettingsError> {
    let invalid = |shown: String, reason: String| SettingsError::Invalid {
        variable: variable.to_owned(),
        value: shown,
        reason,
    };
    let parsed = Url::parse(url.expose_secret().trim()).map_err(|error| {
        invalid(
            "<hidden>".to_owned(),
            format!("{error}; expected a URL such as smtp://localhost:1025"),
        )
    })?;
    let shown = server_of(&parsed);
    let tls = parsed
        .query_pairs()
        .find(|(key, _)| key == "tls")
        .map(|(_, value)| value.into_owned());
    match (parsed.scheme(), tls.as_deref()) {
        // smtps:// is TLS from the first byte; lettre ignores `tls` there.
        ("smtp", None | Some("required" | "opportunistic")) | ("smtps", _) => {}
        ("smtp", Some(_)) => {
            return Err(invalid(
                shown,
                "the tls parameter must be `required` or `opportunistic`".to_owned(),
            ));
        }
        _ => {
            return Err(invalid(
                shown,
                "the scheme must be smtp (plain, or STARTTLS with ?tls=required) or smtps (TLS)"
                    .to_owned(),
            ));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(shown, "the URL must name a host".to_owned()));
    }
    Ok(())
}

/// `scheme://host[:port]` of `url`, or `<hidden>` when it has no host: what
/// error messages and logs may show of a URL that can hold a password (in
/// its user info, or anywhere in a malformed one).
pub(crate) fn server_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) if !host.is_empty() => {
            format!("{}://{host}:{port}", url.scheme())
        }
        (Some(host), None) if !host.is_empty() => format!("{}://{host}", url.scheme()),
        _ => "<hidden>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IAM's variables: the names iam-svc has always read.
    fn from_pairs(pairs: &[(&str, &str)]) -> Result<MailSettings, SettingsError> {
        MailSettings::from_source(
            MailVars::of("IAM"),
            &EnvSource::from_pairs(pairs.iter().copied()),
        )
    }

    fn invalid_variable(error: &SettingsError) -> &str {
        match error {
            SettingsError::Invalid { variable, .. } | SettingsError::NotUnicode { variable } => {
                variable
            }
        }
    }

    #[test]
    fn defaults_write_files_into_var_mail() {
        let settings = from_pairs(&[]).unwrap();
        let MailTransport::File { dir } = &settings.transport else {
            panic!("expected the file mailer, got {settings:?}");
        };
        assert_eq!(dir, &PathBuf::from("var/mail"));
        assert_eq!(
            settings.from.to_string(),
            "ecommerce <no-reply@ecommerce.local>"
        );
        assert_eq!(settings.from.email.to_string(), "no-reply@ecommerce.local");
    }

    #[test]
    fn every_variable_is_read() {
        let settings = from_pairs(&[
            ("IAM_MAILER", "FILE"),
            ("IAM_MAIL_DIR", "/tmp/iam-mail"),
            ("IAM_MAIL_FROM", "Shop <shop@example.com>"),
        ])
        .unwrap();
        let MailTransport::File { dir } = &settings.transport else {
            panic!("expected the file mailer, got {settings:?}");
        };
        assert_eq!(dir, &PathBuf::from("/tmp/iam-mail"));
        assert_eq!(settings.from.name.as_deref(), Some("Shop"));
        assert_eq!(settings.from.email.to_string(), "shop@example.com");
    }

    #[test]
    fn smtp_reads_the_url_as_a_secret() {
        let settings = from_pairs(&[
            ("IAM_MAILER", "smtp"),
            ("IAM_SMTP_URL", "smtps://mailer:s3cr3t-pw@smtp.example.com"),
            // Ignored by the SMTP mailer.
            ("IAM_MAIL_DIR", "/tmp/unused"),
        ])
        .unwrap();
        let MailTransport::Smtp { url } = &settings.transport else {
            panic!("expected the smtp mailer, got {settings:?}");
        };
        assert_eq!(
            url.expose_secret(),
            "smtps://mailer:s3cr3t-pw@smtp.example.com"
        );
        assert!(!format!("{settings:?}").contains("s3cr3t-pw"));
    }

    #[test]
    fn smtp_without_a_url_names_the_variable() {
        let error = from_pairs(&[("IAM_MAILER", "smtp")]).unwrap_err();
        assert_eq!(invalid_variable(&error), "IAM_SMTP_URL");
        assert!(error.to_string().contains("IAM_MAILER=smtp"), "{error}");
    }

    #[test]
    fn accepted_smtp_urls() {
        for url in [
            "smtp://localhost:1025",
            "smtp://localhost",
            "smtp://user:pw@mail.example.com:587?tls=required",
            "smtp://mail.example.com?tls=opportunistic",
            "smtps://user:pw@mail.example.com",
            "smtps://mail.example.com:465/ehlo.example.com",
        ] {
            assert!(
                from_pairs(&[("IAM_MAILER", "smtp"), ("IAM_SMTP_URL", url)]).is_ok(),
                "{url}"
            );
        }
    }

    #[test]
    fn invalid_smtp_urls_name_the_variable_and_hide_the_password() {
        for url in [
            "not a url with s3cr3t-pw",
            "http://user:s3cr3t-pw@mail.example.com",
            "smtp://user:s3cr3t-pw@mail.example.com?tls=yes",
            "smtp://user:s3cr3t-pw@:25",
            "smtp:user:s3cr3t-pw",
        ] {
            let error = from_pairs(&[("IAM_MAILER", "smtp"), ("IAM_SMTP_URL", url)]).unwrap_err();
            assert_eq!(invalid_variable(&error), "IAM_SMTP_URL", "{url}");
            let message = error.to_string();
            assert!(!message.contains("s3cr3t-pw"), "{message}");
            assert!(!format!("{error:?}").contains("s3cr3t-pw"), "{error:?}");
        }
        let error = from_pairs(&[
            ("IAM_MAILER", "smtp"),
            ("IAM_SMTP_URL", "http://user:s3cr3t-pw@mail.example.com"),
        ])
        .unwrap_err();
        assert!(
            error.to_string().contains("\"http://mail.example.com\""),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_mailer_names_the_variable() {
        let error = from_pairs(&[("IAM_MAILER", "sendmail")]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "environment variable IAM_MAILER has an invalid value \"sendmail\": \
             expected `file` or `smtp`"
        );
    }

    #[test]
    fn another_prefix_reads_its_own_variables() {
        let source = EnvSource::from_pairs([
            ("NOTIFICATIONS_MAIL_DIR", "/tmp/notifications-mail"),
            ("IAM_MAIL_DIR", "/tmp/iam-mail"),
        ]);
        let settings = MailSettings::from_source(MailVars::of("NOTIFICATIONS"), &source).unwrap();
        let MailTransport::File { dir } = &settings.transport else {
            panic!("expected the file mailer, got {settings:?}");
        };
        assert_eq!(dir, &PathBuf::from("/tmp/notifications-mail"));
        let error = MailSettings::from_source(
            MailVars::of("NOTIFICATIONS"),
            &EnvSource::from_pairs([("NOTIFICATIONS_MAILER", "smtp")]),
        )
        .unwrap_err();
        assert_eq!(invalid_variable(&error), "NOTIFICATIONS_SMTP_URL");
    }

    #[test]
    fn an_invalid_sender_names_the_variable() {
        let error = from_pairs(&[("IAM_MAIL_FROM", "no address here")]).unwrap_err();
        assert_eq!(invalid_variable(&error), "IAM_MAIL_FROM");
    }

    #[test]
    fn only_scheme_host_and_port_of_a_url_are_ever_shown() {
        let shown = |text: &str| server_of(&Url::parse(text).unwrap());
        assert_eq!(
            shown("smtps://u:pw@mail.example.com"),
            "smtps://mail.example.com"
        );
        assert_eq!(
            shown("smtp://u:pw@mail.example.com:2525/ehlo?tls=required"),
            "smtp://mail.example.com:2525"
        );
        assert_eq!(shown("smtp:user:pw"), "<hidden>");
    }

    #[test]
    fn file_settings_point_at_the_directory() {
        let settings = MailSettings::file(MailVars::of("IAM"), "/tmp/x").unwrap();
        let MailTransport::File { dir } = &settings.transport else {
            panic!("expected the file mailer, got {settings:?}");
        };
        assert_eq!(dir, &PathBuf::from("/tmp/x"));
    }

    #[test]
    fn build_selects_the_mailer() {
        let file = from_pairs(&[]).unwrap().build().unwrap();
        assert!(format!("{file:?}").starts_with("FileMailer"), "{file:?}");
        let smtp = from_pairs(&[
            ("IAM_MAILER", "smtp"),
            ("IAM_SMTP_URL", "smtps://mailer:s3cr3t-pw@smtp.example.com"),
        ])
        .unwrap()
        .build()
        .unwrap();
        let printed = format!("{smtp:?}");
        assert!(printed.starts_with("SmtpMailer"), "{printed}");
        assert!(!printed.contains("s3cr3t-pw"), "{printed}");
    }
}
