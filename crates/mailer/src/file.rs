//! The development mailer: each message becomes an `.eml` file.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use lettre::message::Mailbox;
use uuid::Uuid;

use super::{MailError, Mailer, OutgoingMail, format_message};

/// Writes each message as `<dir>/<unix-millis>-<uuid v7>.eml`: sorting the
/// names sorts the mails by time, and any mail client opens them. The
/// directory is created when missing (also when deleted while running).
///
/// A message is written under a hidden temporary name and then renamed, so a
/// reader listing `*.eml` never sees half a file.
#[derive(Debug, Clone)]
pub struct FileMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    /// A mailer writing into `dir`, sending as `from`.
    pub fn new(dir: impl Into<PathBuf>, from: Mailbox) -> Self {
        Self {
            dir: dir.into(),
            from,
        }
    }

    /// Where the files go.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let now = SystemTime::now();
        let id = Uuid::now_v7();
        let message = format_message(&self.from, mail, now, id)?;
        let millis = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since_epoch| since_epoch.as_millis());
        // Zero-padded so names sort by time as text too.
        let file_name = format!("{millis:013}-{id}.eml");
        let dir = self.dir.clone();
        let path = tokio::task::spawn_blocking(move || {
            write_atomically(&dir, &file_name, &message.formatted())
        })
        .await
        .map_err(MailError::Task)??;
        tracing::info!(
            to_domain = %mail.to.domain(),
            file = %path.display(),
            "mail written"
        );
        Ok(())
    }
}

/// Writes `contents` to `dir/file_name` through a temporary file in the same
/// directory (so the rename is atomic), creating `dir` when missing.
fn write_atomically(dir: &Path, file_name: &str, contents: &[u8]) -> Result<PathBuf, MailError> {
    fs::create_dir_all(dir).map_err(|source| MailError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join(file_name);
    // The leading dot and the suffix keep it out of `*.eml` listings.
    let temporary = dir.join(format!(".{file_name}.tmp"));
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .and_then(|mut file| file.write_all(contents))
        .and_then(|()| fs::rename(&temporary, &path));
    if let Err(source) = written {
        // Best effort: a leftover temporary file is harmless but untidy.
        let _ = fs::remove_file(&temporary);
        return Err(MailError::Write { path, source });
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{jane, settings};
    use crate::{MailSettings, MailTransport, MailVars};

    const TOKEN_LINE: &str = "Verification token: ";

    fn file_mailer(dir: &Path) -> FileMailer {
        FileMailer::new(dir, settings(&[]).from)
    }

    fn eml_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        files
    }

    fn token_line(text: &str) -> Option<&str> {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(TOKEN_LINE))
    }

    fn mail_with_token(name: &str, token: &str) -> OutgoingMail {
        OutgoingMail::text(
            jane(),
            "Confirm your email address",
            format!(
                "Hello {name},\n\nhttps://shop.example/verify-email?token={token}\n\n{TOKEN_LINE}{token}\n"
            ),
        )
    }

    /// Splits a message into unfolded `(name, value)` headers and its body.
    fn parse(message: &str) -> (Vec<(String, String)>, String) {
        let (head, body) = message
            .split_once("\r\n\r\n")
            .expect("a blank line ends the headers");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                let (_, value) = headers.last_mut().expect("a folded line follows a header");
                value.push_str(line);
                continue;
            }
            let (name, value) = line.split_once(':').expect("a header line has a colon");
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        (headers, body.to_owned())
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        let values: Vec<&str> = headers
            .iter()
            .filter(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .collect();
        assert_eq!(values.len(), 1, "{name} in {headers:?}");
        values[0]
    }

    /// Quoted-printable decoding, enough for these tests.
    fn decode_quoted_printable(body: &str) -> String {
        let joined = body.replace("=\r\n", "");
        let bytes = joined.as_bytes();
        let mut decoded = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index] == b'=' {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap();
                decoded.push(u8::from_str_radix(hex, 16).unwrap());
                index += 3;
            } else {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
        String::from_utf8(decoded).unwrap()
    }

    #[tokio::test]
    async fn writes_one_parseable_eml_file_per_mail() {
        let temp = tempfile::tempdir().unwrap();
        // A directory that does not exist yet.
        let dir = temp.path().join("var").join("mail");
        let mailer = file_mailer(&dir);
        let token = "vt_0123456789abcdef";
        let mail = mail_with_token("Zoë Doe", token);

        mailer.send(&mail).await.unwrap();

        let files = eml_files(&dir);
        assert_eq!(files.len(), 1, "{files:?}");
        let name = files[0].file_name().unwrap().to_str().unwrap();
        let (millis, rest) = name.split_once('-').unwrap();
        assert_eq!(millis.len(), 13, "{name}");
        assert!(millis.bytes().all(|byte| byte.is_ascii_digit()), "{name}");
        let id = Uuid::parse_str(rest.strip_suffix(".eml").unwrap()).unwrap();
        assert_eq!(id.get_version_num(), 7);

        let raw = fs::read(&files[0]).unwrap();
        let text = String::from_utf8(raw).unwrap();
        assert!(text.is_ascii(), "the wire format is 7-bit");
        for line in text.split("\r\n") {
            assert!(!line.contains('\n'), "bare LF in {line:?}");
            assert!(line.len() <= 998, "{line}");
        }

        let (headers, body) = parse(&text);
        assert_eq!(
            header(&headers, "From"),
            "ecommerce <no-reply@ecommerce.local>"
        );
        assert_eq!(header(&headers, "To"), "jane.doe@example.com");
        assert_eq!(header(&headers, "Subject"), "Confirm your email address");
        assert_eq!(header(&headers, "MIME-Version"), "1.0");
        assert_eq!(
            header(&headers, "Content-Type"),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            header(&headers, "Content-Transfer-Encoding"),
            "quoted-printable"
        );
        assert_eq!(
            header(&headers, "Message-ID"),
            format!("<{id}@ecommerce.local>")
        );
        let date = header(&headers, "Date");
        assert!(
            chrono::DateTime::parse_from_rfc2822(date).is_ok(),
            "Date {date:?}"
        );

        // The token line is readable as written, without decoding.
        assert_eq!(token_line(&body), Some(token));
        // Decoded, the body is the mail's text, link and non-ASCII name included.
        let decoded = decode_quoted_printable(&body);
        // Formatting ends the message with one more CRLF after the body.
        assert_eq!(
            decoded.strip_suffix("\r\n"),
            Some(mail.text_body.replace('\n', "\r\n").as_str())
        );
        assert!(decoded.starts_with("Hello Zoë Doe,"), "{decoded}");

        // No temporary file is left behind.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[tokio::test]
    async fn every_mail_gets_its_own_file_in_time_order() {
        let temp = tempfile::tempdir().unwrap();
        let mailer = file_mailer(temp.path());
        let tokens: Vec<String> = (0..3).map(|index| format!("token-{index}")).collect();
        for token in &tokens {
            mailer.send(&mail_with_token("Jane", token)).await.unwrap();
        }
        let found: Vec<String> = eml_files(temp.path())
            .iter()
            .map(|path| {
                let text = fs::read_to_string(path).unwrap();
                token_line(&text).unwrap().to_owned()
            })
            .collect();
        assert_eq!(found, tokens);
    }

    #[tokio::test]
    async fn an_html_mail_is_written_with_both_bodies() {
        let temp = tempfile::tempdir().unwrap();
        let mailer = file_mailer(temp.path());
        let mail =
            OutgoingMail::text(jane(), "Your order", "Thank you\n").with_html("<p>Thank you</p>\n");
        mailer.send(&mail).await.unwrap();
        let files = eml_files(temp.path());
        let text = fs::read_to_string(&files[0]).unwrap();
        assert!(text.contains("multipart/alternative"), "{text}");
        assert!(text.contains("Thank you\r\n"), "{text}");
        assert!(text.contains("<p>Thank you</p>"), "{text}");
    }

    #[tokio::test]
    async fn an_unwritable_directory_is_an_error_naming_the_path() {
        let temp = tempfile::tempdir().unwrap();
        // A file where the directory should be.
        let blocker = temp.path().join("mail");
        fs::write(&blocker, b"not a directory").unwrap();
        let mailer = file_mailer(&blocker);
        let error = mailer
            .send(&mail_with_token("Jane", "t"))
            .await
            .unwrap_err();
        assert!(matches!(error, MailError::Write { .. }), "{error:?}");
        assert!(error.is_retryable());
        assert!(
            error.to_string().contains(&blocker.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn the_settings_build_a_file_mailer_for_their_directory() {
        let settings = MailSettings::from_source(
            MailVars::of("IAM"),
            &ecommerce_platform::settings::EnvSource::from_pairs([(
                "IAM_MAIL_DIR",
                "/tmp/iam-mail-test",
            )]),
        )
        .unwrap();
        let MailTransport::File { dir } = &settings.transport else {
            panic!("expected the file mailer");
        };
        let mailer = FileMailer::new(dir.clone(), settings.from.clone());
        assert_eq!(mailer.dir(), Path::new("/tmp/iam-mail-test"));
    }
}
