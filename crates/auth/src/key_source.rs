//! Where a verifier gets its public keys: IAM's GetJwks in production, a
//! fixed list in tests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use ecommerce_platform::grpc::{ChannelTimeouts, lazy_channel};
use ecommerce_platform::tls::ClientTlsSettings;
use ecommerce_proto::ecommerce::iam::v1::GetJwksRequest;
use ecommerce_proto::ecommerce::iam::v1::iam_service_client::IamServiceClient;
use tonic::transport::Channel;

use crate::keys::Jwk;

/// Why keys could not be fetched. The message is for logs; callers of the
/// verifier only learn that keys are unavailable.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct KeySourceError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl KeySourceError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// A provider of the public keys that verify access tokens.
#[async_trait]
pub trait KeySource: Send + Sync {
    /// Every key currently valid for verification.
    async fn fetch_keys(&self) -> Result<Vec<Jwk>, KeySourceError>;
}

/// A fixed, replaceable key list that counts how often it is asked; for tests.
#[derive(Debug)]
pub struct StaticKeySource {
    keys: Mutex<Result<Vec<Jwk>, String>>,
    fetches: AtomicUsize,
}

impl StaticKeySource {
    pub fn new(keys: Vec<Jwk>) -> Self {
        Self {
            keys: Mutex::new(Ok(keys)),
            fetches: AtomicUsize::new(0),
        }
    }

    /// Replaces the keys answered from now on.
    pub fn set_keys(&self, keys: Vec<Jwk>) {
        *self.keys.lock().unwrap_or_else(PoisonError::into_inner) = Ok(keys);
    }

    /// Makes every later fetch fail with `message`, as if IAM were down.
    pub fn fail_with(&self, message: impl Into<String>) {
        *self.keys.lock().unwrap_or_else(PoisonError::into_inner) = Err(message.into());
    }

    /// How many times [`KeySource::fetch_keys`] was called.
    pub fn fetch_count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl KeySource for StaticKeySource {
    async fn fetch_keys(&self) -> Result<Vec<Jwk>, KeySourceError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .map_err(KeySourceError::new)
    }
}

/// How long connecting to IAM may take, and one GetJwks call.
const TIMEOUTS: ChannelTimeouts = ChannelTimeouts {
    connect: Duration::from_secs(3),
    request: Duration::from_secs(5),
};

/// Fetches keys from `ecommerce.iam.v1.IamService/GetJwks` over a lazily
/// connected channel: building one never fails because IAM is down, and the
/// channel reconnects by itself.
#[derive(Debug, Clone)]
pub struct GrpcJwksSource {
    client: IamServiceClient<Channel>,
    url: String,
}

impl GrpcJwksSource {
    /// A source for IAM at `url`, e.g. `http://127.0.0.1:50052`; an
    /// `https://` URL is verified against the webpki roots (see
    /// [`Self::with_tls`] for a private CA).
    pub fn new(url: &str) -> Result<Self, KeySourceError> {
        Self::with_tls(url, &ClientTlsSettings::default())
    }

    /// A source for IAM at `url` over the shared channel builder: TLS for
    /// an `https://` URL per `tls` (`GRPC_TLS_CA`, ...), plaintext for `http://`.
    pub fn with_tls(url: &str, tls: &ClientTlsSettings) -> Result<Self, KeySourceError> {
        let channel = lazy_channel(url, tls, TIMEOUTS).map_err(|error| {
            KeySourceError::with_source(format!("invalid IAM URL {url:?}"), error)
        })?;
        Ok(Self::from_channel(channel, url))
    }

    /// A source over an existing channel (tests, or a channel shared with
    /// other IAM calls).
    pub fn from_channel(channel: Channel, url: &str) -> Self {
        Self {
            client: IamServiceClient::new(channel),
            url: url.to_owned(),
        }
    }
}

#[async_trait]
impl KeySource for GrpcJwksSource {
    async fn fetch_keys(&self) -> Result<Vec<Jwk>, KeySourceError> {
        let response = self
            .client
            .clone()
            .get_jwks(GetJwksRequest {})
            .await
            .map_err(|status| {
                KeySourceError::with_source(
                    format!("IamService/GetJwks at {} failed", self.url),
                    status,
                )
            })?;
        Ok(response
            .into_inner()
            .keys
            .into_iter()
            .map(Jwk::from)
            .collect())
    }
}
