//! TLS for gRPC, behind settings: PEM files named by environment variables,
//! read and checked once at start-up, so a missing, unreadable or invalid
//! file stops the service with an error naming the variable and the path.
//!
//! - A server serves TLS when `GRPC_TLS_CERT` and `GRPC_TLS_KEY` are both
//!   set ([`ServerTlsSettings`]), plaintext when neither is; with
//!   `GRPC_TLS_CLIENT_CA` too it requires a client certificate signed by that
//!   CA (mutual TLS).
//! - A client ([`crate::grpc::client`]) uses TLS for an `https://` URL,
//!   trusting only `GRPC_TLS_CA` when it is set, else the webpki roots
//!   (Mozilla's CA list, compiled in); it presents `GRPC_TLS_CLIENT_CERT` /
//!   `GRPC_TLS_CLIENT_KEY` to servers that require a client certificate
//!   ([`ClientTlsSettings`]).
//!
//! rustls with the ring provider does the TLS; no OpenSSL, no aws-lc.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, Server, ServerTlsConfig};

use crate::settings::{EnvSource, SettingsError};

/// Variable holding the path of the server's certificate chain (PEM, leaf first).
pub const GRPC_TLS_CERT_VAR: &str = "GRPC_TLS_CERT";
/// Variable holding the path of the server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
pub const GRPC_TLS_KEY_VAR: &str = "GRPC_TLS_KEY";
/// Variable holding the path of the CA certificates (PEM) a server requires
/// client certificates to chain to; unset means no client certificate is asked for.
pub const GRPC_TLS_CLIENT_CA_VAR: &str = "GRPC_TLS_CLIENT_CA";
/// Variable holding the path of the CA certificates (PEM) clients trust for
/// `https://` URLs instead of the webpki roots.
pub const GRPC_TLS_CA_VAR: &str = "GRPC_TLS_CA";
/// Variable holding the path of the certificate chain (PEM) clients present
/// to servers that require one.
pub const GRPC_TLS_CLIENT_CERT_VAR: &str = "GRPC_TLS_CLIENT_CERT";
/// Variable holding the path of the private key (PEM) of `GRPC_TLS_CLIENT_CERT`.
pub const GRPC_TLS_CLIENT_KEY_VAR: &str = "GRPC_TLS_CLIENT_KEY";

/// How long a server waits for a client to finish the TLS handshake, so a
/// connection that never completes one does not hold a slot.
pub const SERVER_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a PEM file must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PemContents {
    /// At least one `CERTIFICATE` block, every block parseable.
    Certificates,
    /// A private key block (PKCS#8, PKCS#1 or SEC1).
    PrivateKey,
}

/// A PEM file read at start-up from the path in `variable`. `Debug` shows
/// the variable and the path, never the contents (a private key is secret).
#[derive(Clone, PartialEq, Eq)]
pub struct PemFile {
    variable: &'static str,
    path: PathBuf,
    pem: Vec<u8>,
}

impl fmt::Debug for PemFile {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PemFile")
            .field("variable", &self.variable)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl PemFile {
    fn read(
        variable: &'static str,
        path: &Path,
        contents: PemContents,
    ) -> Result<Self, SettingsError> {
        let pem = std::fs::read(path).map_err(|error| {
            file_error(variable, path, format!("cannot read the file: {error}"))
        })?;
        match contents {
            PemContents::Certificates => {
                let certificates = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|error| {
                        file_error(
                            variable,
                            path,
                            format!("not a PEM certificate file: {error}"),
                        )
                    })?;
                if certificates.is_empty() {
                    return Err(file_error(
                        variable,
                        path,
                        "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file",
                    ));
                }
            }
            PemContents::PrivateKey => {
                PrivateKeyDer::from_pem_slice(&pem).map_err(|error| {
                    file_error(
                        variable,
                        path,
                        format!("no PEM private key (PKCS#8, PKCS#1 or SEC1) in the file: {error}"),
                    )
                })?;
            }
        }
        Ok(Self {
            variable,
            path: path.to_owned(),
            pem,
        })
    }

    /// `variable`'s file when the variable is set.
    fn from_source(
        source: &EnvSource,
        variable: &'static str,
        contents: PemContents,
    ) -> Result<Option<Self>, SettingsError> {
        source
            .string(variable)?
            .map(|path| Self::read(variable, Path::new(path.trim()), contents))
            .transpose()
    }

    /// The variable that named the file.
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// Where the file was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The PEM text as read.
    pub fn pem(&self) -> &[u8] {
        &self.pem
    }
}

/// An error about the file at `path` named by `variable`: the path is the
/// value the message quotes.
fn file_error(variable: &str, path: &Path, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        variable: variable.to_owned(),
        value: path.display().to_string(),
        reason: reason.into(),
    }
}

/// A certificate chain and its private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertifiedKey {
    pub certificate: PemFile,
    pub key: PemFile,
}

impl CertifiedKey {
    fn identity(&self) -> Identity {
        Identity::from_pem(self.certificate.pem(), self.key.pem())
    }

    /// Both variables, or neither; one without the other is an error
    /// naming the one that is missing.
    fn from_source(
        source: &EnvSource,
        certificate_variable: &'static str,
        key_variable: &'static str,
    ) -> Result<Option<Self>, SettingsError> {
        let certificate =
            PemFile::from_source(source, certificate_variable, PemContents::Certificates)?;
        let key = PemFile::from_source(source, key_variable, PemContents::PrivateKey)?;
        match (certificate, key) {
            (Some(certificate), Some(key)) => Ok(Some(Self { certificate, key })),
            (None, None) => Ok(None),
            (Some(certificate), None) => Err(SettingsError::Invalid {
                variable: key_variable.to_owned(),
                value: String::new(),
                reason: format!(
                    "must be set with {certificate_variable} ({})",
                    certificate.path.display()
                ),
            }),
            (None, Some(key)) => Err(SettingsError::Invalid {
                variable: certificate_variable.to_owned(),
                value: String::new(),
                reason: format!("must be set with {key_variable} ({})", key.path.display()),
            }),
        }
    }
}

/// A server's TLS: `GRPC_TLS_CERT`, `GRPC_TLS_KEY` and optionally
/// `GRPC_TLS_CLIENT_CA` (mutual TLS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerTlsSettings {
    pub identity: CertifiedKey,
    /// When set, a client must present a certificate chaining to this CA.
    pub client_ca: Option<PemFile>,
}

impl ServerTlsSettings {
    /// The files named by `GRPC_TLS_CERT`, `GRPC_TLS_KEY` and
    /// `GRPC_TLS_CLIENT_CA` in `source`; `None` (plaintext) when the first
    /// two are unset. `GRPC_TLS_CLIENT_CA` without them is an error.
    pub fn from_source(source: &EnvSource) -> Result<Option<Self>, SettingsError> {
        let identity = CertifiedKey::from_source(source, GRPC_TLS_CERT_VAR, GRPC_TLS_KEY_VAR)?;
        let client_ca =
            PemFile::from_source(source, GRPC_TLS_CLIENT_CA_VAR, PemContents::Certificates)?;
        let Some(identity) = identity else {
            return match client_ca {
                None => Ok(None),
                Some(client_ca) => Err(file_error(
                    GRPC_TLS_CLIENT_CA_VAR,
                    client_ca.path(),
                    format!(
                        "needs {GRPC_TLS_CERT_VAR} and {GRPC_TLS_KEY_VAR}: the server serves plaintext without them"
                    ),
                )),
            };
        };
        let settings = Self {
            identity,
            client_ca,
        };
        settings.validate()?;
        Ok(settings.into())
    }

    /// The files at these paths, as if named by `GRPC_TLS_CERT`,
    /// `GRPC_TLS_KEY` and `GRPC_TLS_CLIENT_CA` (tests, tools).
    pub fn from_paths(
        certificate: &Path,
        key: &Path,
        client_ca: Option<&Path>,
    ) -> Result<Self, SettingsError> {
        let settings = Self {
            identity: CertifiedKey {
                certificate: PemFile::read(
                    GRPC_TLS_CERT_VAR,
                    certificate,
                    PemContents::Certificates,
                )?,
                key: PemFile::read(GRPC_TLS_KEY_VAR, key, PemContents::PrivateKey)?,
            },
            client_ca: client_ca
                .map(|path| PemFile::read(GRPC_TLS_CLIENT_CA_VAR, path, PemContents::Certificates))
                .transpose()?,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Builds the rustls configuration once, so a key that does not match
    /// its certificate, or a client CA rustls refuses, fails at start-up.
    fn validate(&self) -> Result<(), SettingsError> {
        let identity_only = ServerTlsConfig::new().identity(self.identity.identity());
        if let Err(error) = Server::builder().tls_config(identity_only) {
            return Err(file_error(
                GRPC_TLS_KEY_VAR,
                self.identity.key.path(),
                format!(
                    "is not a usable key for the certificate in {GRPC_TLS_CERT_VAR} ({}): {}",
                    self.identity.certificate.path.display(),
                    error_chain(&error)
                ),
            ));
        }
        let Some(client_ca) = &self.client_ca else {
            return Ok(());
        };
        if let Err(error) = Server::builder().tls_config(self.tonic_config()) {
            return Err(file_error(
                GRPC_TLS_CLIENT_CA_VAR,
                client_ca.path(),
                format!("is not a usable client CA: {}", error_chain(&error)),
            ));
        }
        Ok(())
    }

    /// Whether clients must present a certificate.
    pub fn is_mutual(&self) -> bool {
        self.client_ca.is_some()
    }

    /// The configuration for `tonic::transport::Server::tls_config`.
    pub fn tonic_config(&self) -> ServerTlsConfig {
        let config = ServerTlsConfig::new()
            .identity(self.identity.identity())
            .timeout(SERVER_HANDSHAKE_TIMEOUT);
        match &self.client_ca {
            Some(client_ca) => config.client_ca_root(Certificate::from_pem(client_ca.pem())),
            None => config,
        }
    }
}

/// What clients use for `https://` URLs: `GRPC_TLS_CA` (else the webpki
/// roots) and the optional client certificate `GRPC_TLS_CLIENT_CERT` /
/// `GRPC_TLS_CLIENT_KEY`. The default trusts the webpki roots and presents
/// no certificate. `http://` URLs ignore all of it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientTlsSettings {
    /// The only CA trusted when set; the webpki roots otherwise.
    pub ca: Option<PemFile>,
    /// Presented to servers that ask for a client certificate.
    pub identity: Option<CertifiedKey>,
}

impl ClientTlsSettings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_source(&EnvSource::process())
    }

    /// Reads `GRPC_TLS_CA`, `GRPC_TLS_CLIENT_CERT` and `GRPC_TLS_CLIENT_KEY`
    /// from `source`, reading and checking each file named.
    pub fn from_source(source: &EnvSource) -> Result<Self, SettingsError> {
        let settings = Self {
            ca: PemFile::from_source(source, GRPC_TLS_CA_VAR, PemContents::Certificates)?,
            identity: CertifiedKey::from_source(
                source,
                GRPC_TLS_CLIENT_CERT_VAR,
                GRPC_TLS_CLIENT_KEY_VAR,
            )?,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Trusts only the CA in the file at `path`, as if named by `GRPC_TLS_CA`.
    pub fn with_ca_file(path: &Path) -> Result<Self, SettingsError> {
        Ok(Self {
            ca: Some(PemFile::read(
                GRPC_TLS_CA_VAR,
                path,
                PemContents::Certificates,
            )?),
            identity: None,
        })
    }

    /// Also presents the certificate and key at these paths, as if named by
    /// `GRPC_TLS_CLIENT_CERT` / `GRPC_TLS_CLIENT_KEY`.
    pub fn with_identity_files(
        self,
        certificate: &Path,
        key: &Path,
    ) -> Result<Self, SettingsError> {
        let settings = Self {
            identity: Some(CertifiedKey {
                certificate: PemFile::read(
                    GRPC_TLS_CLIENT_CERT_VAR,
                    certificate,
                    PemContents::Certificates,
                )?,
                key: PemFile::read(GRPC_TLS_CLIENT_KEY_VAR, key, PemContents::PrivateKey)?,
            }),
            ..self
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Builds a TLS connector once, so a client key that does not match its
    /// certificate fails at start-up rather than on the first call.
    fn validate(&self) -> Result<(), SettingsError> {
        let Some(identity) = &self.identity else {
            return Ok(());
        };
        let endpoint = Endpoint::from_static("https://settings.check.invalid");
        if let Err(error) = endpoint.tls_config(self.tonic_config()) {
            return Err(file_error(
                GRPC_TLS_CLIENT_KEY_VAR,
                identity.key.path(),
                format!(
                    "is not a usable key for the certificate in {GRPC_TLS_CLIENT_CERT_VAR} ({}): {}",
                    identity.certificate.path.display(),
                    error_chain(&error)
                ),
            ));
        }
        Ok(())
    }

    /// The configuration for `tonic::transport::Endpoint::tls_config`; the
    /// server name checked is the URL's host.
    pub fn tonic_config(&self) -> ClientTlsConfig {
        let config = match &self.ca {
            Some(ca) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca.pem())),
            None => ClientTlsConfig::new().with_webpki_roots(),
        };
        match &self.identity {
            Some(identity) => config.identity(identity.identity()),
            None => config,
        }
    }
}

pub(crate) use crate::error_chain::error_chain;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn without_variables_servers_are_plaintext_and_clients_trust_the_webpki_roots() {
        let source = EnvSource::from_pairs([]);
        assert_eq!(ServerTlsSettings::from_source(&source).unwrap(), None);
        assert_eq!(
            ClientTlsSettings::from_source(&source).unwrap(),
            ClientTlsSettings::default()
        );
    }

    #[test]
    fn a_missing_file_names_the_variable_and_the_path() {
        for variable in [
            GRPC_TLS_CERT_VAR,
            GRPC_TLS_KEY_VAR,
            GRPC_TLS_CLIENT_CA_VAR,
            GRPC_TLS_CA_VAR,
            GRPC_TLS_CLIENT_CERT_VAR,
            GRPC_TLS_CLIENT_KEY_VAR,
        ] {
            let source = EnvSource::from_pairs([(variable, "/nonexistent/tls/file.pem")]);
            let error = ServerTlsSettings::from_source(&source)
                .err()
                .or_else(|| ClientTlsSettings::from_source(&source).err())
                .unwrap();
            let message = error.to_string();
            assert!(message.contains(variable), "{message}");
            assert!(message.contains("/nonexistent/tls/file.pem"), "{message}");
            assert!(message.contains("cannot read the file"), "{message}");
        }
    }

    #[test]
    fn a_file_without_pem_names_the_variable_and_the_path() {
        let directory = std::env::temp_dir();
        let path = directory.join(format!("not-pem-{}.txt", std::process::id()));
        std::fs::write(&path, "hello").unwrap();
        let path_text = path.display().to_string();
        for variable in [GRPC_TLS_CA_VAR, GRPC_TLS_CLIENT_CA_VAR] {
            let source = EnvSource::from_pairs([(variable, path_text.as_str())]);
            let error = ServerTlsSettings::from_source(&source)
                .err()
                .or_else(|| ClientTlsSettings::from_source(&source).err())
                .unwrap();
            assert!(
                matches!(&error, SettingsError::Invalid { variable: named, value, .. }
                    if named == variable && *value == path_text),
                "{error}"
            );
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn pem_files_never_print_their_contents() {
        let file = PemFile {
            variable: GRPC_TLS_KEY_VAR,
            path: PathBuf::from("/etc/tls/key.pem"),
            pem: b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n".to_vec(),
        };
        let printed = format!("{file:?}");
        assert!(printed.contains("/etc/tls/key.pem"), "{printed}");
        assert!(!printed.contains("c2VjcmV0"), "{printed}");
    }
}
