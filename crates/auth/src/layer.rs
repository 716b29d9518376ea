//! The tower layer that authenticates every gRPC call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ecommerce_platform::WithMessageLimits;
use ecommerce_platform::settings::MessageLimits;
use http::{Request, Response};
use tonic::server::NamedService;
use tower::{Layer, Service};

use crate::verifier::{AccessTokenVerifier, AuthError};

/// Paths that never need a token and are passed through untouched.
const OPEN_PATH_PREFIXES: [&str; 2] = ["/grpc.health.v1.Health/", "/grpc.reflection."];

/// Authenticates calls by their `authorization: Bearer <access token>`:
///
/// - no `authorization` metadata: passed on anonymous (no [`Caller`](crate::Caller));
///   handlers decide whether that is enough;
/// - a valid token: passed on with the [`Caller`](crate::Caller) in the
///   request extensions;
/// - anything else: answered at once with `UNAUTHENTICATED` (or
///   `UNAVAILABLE` when keys cannot be fetched), as a trailers-only gRPC
///   response; the handler is not called;
/// - `grpc.health.v1.Health` and `grpc.reflection.*`, and the methods named
///   with [`AuthLayer::with_open_methods`]: passed on untouched.
///
/// Add it once to a whole server (`tonic::transport::Server::builder().layer(..)`)
/// or wrap one service with [`AuthLayer::layer`]: the wrapped service keeps its
/// [`NamedService`] name and message limits, so it can go straight to
/// `GrpcServer::add_service`.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    verifier: Arc<AccessTokenVerifier>,
    open_methods: Arc<[String]>,
}

impl AuthLayer {
    pub fn new(verifier: Arc<AccessTokenVerifier>) -> Self {
        Self {
            verifier,
            open_methods: Arc::from([]),
        }
    }

    /// Methods passed on untouched whatever their `authorization` says, as
    /// full gRPC paths (`/ecommerce.iam.v1.IamService/RefreshSession`).
    ///
    /// For the calls that must work with a stale access token attached:
    /// clients often send their (expired) bearer token with every call,
    /// including the ones that get them a new one. Their handlers see no
    /// [`Caller`](crate::Caller).
    #[must_use]
    pub fn with_open_methods<P: Into<String>>(self, paths: impl IntoIterator<Item = P>) -> Self {
        let open_methods: Vec<String> = self
            .open_methods
            .iter()
            .cloned()
            .chain(paths.into_iter().map(Into::into))
            .collect();
        Self {
            verifier: self.verifier,
            open_methods: Arc::from(open_methods),
        }
    }

    pub fn verifier(&self) -> &Arc<AccessTokenVerifier> {
        &self.verifier
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            verifier: Arc::clone(&self.verifier),
            open_methods: Arc::clone(&self.open_methods),
        }
    }
}

/// The service produced by [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct Authenticate<S> {
    inner: S,
    verifier: Arc<AccessTokenVerifier>,
    open_methods: Arc<[String]>,
}

impl<S: NamedService> NamedService for Authenticate<S> {
    const NAME: &'static str = S::NAME;
}

impl<S: WithMessageLimits> WithMessageLimits for Authenticate<S> {
    fn with_message_limits(self, limits: MessageLimits) -> Self {
        Self {
            inner: self.inner.with_message_limits(limits),
            verifier: self.verifier,
            open_methods: self.open_methods,
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What the `authorization` metadata of a call says.
enum Credentials<'a> {
    None,
    Bearer(&'a str),
    Invalid(&'static str),
}

fn credentials(headers: &http::HeaderMap) -> Credentials<'_> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Credentials::None;
    };
    if values.next().is_some() {
        return Credentials::Invalid("more than one authorization header");
    }
    let Ok(value) = value.to_str() else {
        return Credentials::Invalid("authorization header is not ASCII");
    };
    let Some((scheme, token)) = value.trim().split_once(' ') else {
        return Credentials::Invalid("authorization header is not `Bearer <token>`");
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Credentials::Invalid("authorization scheme is not Bearer");
    }
    let token = token.trim();
    if token.is_empty() {
        return Credentials::Invalid("authorization header is not `Bearer <token>`");
    }
    Credentials::Bearer(token)
}

fn is_open(path: &str, open_methods: &[String]) -> bool {
    OPEN_PATH_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
        || open_methods.iter().any(|method| method == path)
}

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for Authenticate<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    RequestBody: Send + 'static,
    ResponseBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: Request<RequestBody>) -> Self::Future {
        // The service that was polled ready serves this call; the clone waits
        // for the next one (tower's documented pattern for async `call`).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);

        if is_open(request.uri().path(), &self.open_methods) {
            return Box::pin(inner.call(request));
        }
        let token = match credentials(request.headers()) {
            Credentials::None => return Box::pin(inner.call(request)),
            Credentials::Invalid(reason) => {
                return Box::pin(std::future::ready(Ok(refuse(AuthError::Malformed(reason)))));
            }
            Credentials::Bearer(token) => token.to_owned(),
        };
        let verifier = Arc::clone(&self.verifier);
        Box::pin(async move {
            match verifier.authenticate(&token).await {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(error) => Ok(refuse(error)),
            }
        })
    }
}

/// A trailers-only gRPC error answer: HTTP 200 with `grpc-status` and
/// `grpc-message` in the headers and an empty body.
fn refuse<ResponseBody: Default>(error: AuthError) -> Response<ResponseBody> {
    match &error {
        AuthError::KeysUnavailable => tracing::warn!(error = %error, "access token not verified"),
        AuthError::Malformed(_)
        | AuthError::AlgorithmNotAllowed
        | AuthError::MissingKeyId
        | AuthError::UnknownKey
        | AuthError::BadSignature
        | AuthError::Expired
        | AuthError::NotYetValid
        | AuthError::WrongIssuer
        | AuthError::WrongAudience
        | AuthError::MissingClaim(_)
        | AuthError::Revoked(_) => tracing::info!(error = %error, "access token refused"),
    }
    tonic::Status::from(error).into_http()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(values: &[&'static str]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for value in values {
            headers.append(http::header::AUTHORIZATION, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn bearer_tokens_are_read_and_everything_else_refused() {
        assert!(matches!(credentials(&headers(&[])), Credentials::None));
        assert!(matches!(
            credentials(&headers(&["Bearer abc.def.ghi"])),
            Credentials::Bearer("abc.def.ghi")
        ));
        assert!(matches!(
            credentials(&headers(&["bearer   abc.def.ghi "])),
            Credentials::Bearer("abc.def.ghi")
        ));
        for invalid in [
            &["Basic dXNlcjpwYXNz"][..],
            &["Bearer"],
            &["Bearer "],
            &["abc.def.ghi"],
            &["Bearer a.b.c", "Bearer d.e.f"],
        ] {
            assert!(
                matches!(credentials(&headers(invalid)), Credentials::Invalid(_)),
                "{invalid:?}"
            );
        }
    }

    #[test]
    fn only_health_and_reflection_are_open() {
        let open = ["/ecommerce.iam.v1.IamService/RefreshSession".to_owned()];
        assert!(is_open(
            "/ecommerce.iam.v1.IamService/RefreshSession",
            &open
        ));
        assert!(!is_open(
            "/ecommerce.iam.v1.IamService/RefreshSessionX",
            &open
        ));
        assert!(!is_open("/ecommerce.iam.v1.IamService/SignIn", &open));
        assert!(is_open("/grpc.health.v1.Health/Check", &[]));
        assert!(is_open("/grpc.health.v1.Health/Watch", &[]));
        assert!(is_open(
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            &[]
        ));
        assert!(is_open(
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
            &[]
        ));
        assert!(!is_open("/ecommerce.iam.v1.IamService/GetCurrentUser", &[]));
        assert!(!is_open("/grpc.health.v1.HealthX/Check", &[]));
        assert!(!is_open("/grpc.healthy/Check", &[]));
    }

    #[test]
    fn refusals_are_trailers_only_grpc_answers() {
        let response: Response<tonic::body::Body> = refuse(AuthError::Expired);
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/grpc");
        assert_eq!(response.headers()["grpc-status"], "16");
        assert_eq!(
            response.headers()["grpc-message"],
            "access%20token%20has%20expired"
        );
    }
}
