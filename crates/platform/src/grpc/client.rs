//! The one builder of outbound gRPC channels (cart's dependencies, the
//! JWKS client of every service): plaintext for `http://` URLs, TLS for
//! `https://` ones per [`ClientTlsSettings`], with the caller's connect and
//! request timeouts.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::tls::{ClientTlsSettings, error_chain};

/// How long a channel may take to connect (TCP and the TLS handshake,
/// each), and how long one call may take (also sent as `grpc-timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelTimeouts {
    pub connect: Duration,
    pub request: Duration,
}

/// Why a channel could not be built. Names the URL; never about the
/// dependency being down (channels connect lazily).
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("invalid gRPC URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("could not set up TLS for {url}: {reason}")]
    Tls { url: String, reason: String },
}

/// A channel to `url` that connects on first use and reconnects by itself,
/// so building one never fails because the dependency is down.
///
/// `https://` uses TLS: the server's certificate must chain to
/// `tls.ca` (`GRPC_TLS_CA`) when set, else to the webpki roots, and name the
/// URL's host; `tls.identity` is presented when the server asks for a
/// client certificate. `http://` is plaintext. Any other scheme, or no
/// host, is [`ChannelError::InvalidUrl`].
pub fn lazy_channel(
    url: &str,
    tls: &ClientTlsSettings,
    timeouts: ChannelTimeouts,
) -> Result<Channel, ChannelError> {
    let invalid = |reason: String| ChannelError::InvalidUrl {
        url: url.to_owned(),
        reason,
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|error: http::uri::InvalidUri| invalid(error.to_string()))?;
    if uri.host().is_none() {
        return Err(invalid("no host".to_owned()));
    }
    let endpoint = Endpoint::from(uri.clone())
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request);
    let endpoint = match uri.scheme_str() {
        Some("http") => endpoint,
        Some("https") => endpoint
            .tls_config(tls.tonic_config().timeout(timeouts.connect))
            .map_err(|error| ChannelError::Tls {
                url: url.to_owned(),
                reason: error_chain(&error),
            })?,
        _ => {
            return Err(invalid(
                "expected an http:// or https:// URL such as https://iam-svc:50052".to_owned(),
            ));
        }
    };
    Ok(endpoint.connect_lazy())
}

/// A request for an outbound call carrying the current span's W3C trace
/// context (`traceparent`, `tracestate` metadata), so the called service's
/// span is a child of the caller's: one trace across the call. Without an
/// OpenTelemetry layer (no export configured) it is a plain request.
pub fn traced_request<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some((traceparent, tracestate)) = crate::trace_context::current() {
        let metadata = request.metadata_mut();
        if let Ok(value) = traceparent.parse() {
            metadata.insert(crate::trace_context::TRACEPARENT, value);
        }
        if !tracestate.is_empty()
            && let Ok(value) = tracestate.parse()
        {
            metadata.insert(crate::trace_context::TRACESTATE, value);
        }
    }
    request
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const TIMEOUTS: ChannelTimeouts = ChannelTimeouts {
        connect: Duration::from_secs(1),
        request: Duration::from_secs(1),
    };

    #[tokio::test]
    async fn http_and_https_urls_build_and_other_schemes_are_refused() {
        let tls = ClientTlsSettings::default();
        lazy_channel("http://127.0.0.1:9", &tls, TIMEOUTS).unwrap();
        lazy_channel("https://iam.example:50052", &tls, TIMEOUTS).unwrap();
        for url in ["ftp://iam:21", "iam-svc:50052", "http://", "not a url"] {
            let error = lazy_channel(url, &tls, TIMEOUTS).unwrap_err();
            assert!(
                matches!(&error, ChannelError::InvalidUrl { url: named, .. } if named == url),
                "{url}: {error}"
            );
        }
    }
}
