//! Request tracing for every gRPC call: one span per call carrying the rpc
//! method, the gRPC status and the latency, continuing the caller's trace
//! from its `traceparent` / `tracestate` metadata.
//!
//! A small layer rather than tower-http's `TraceLayer`: the status of a gRPC
//! call arrives either in the response headers (trailers-only answers such as
//! errors) or in the trailers at the end of the body, and this layer records
//! both, plus calls the client abandons, as one `rpc finished` event with the
//! total latency.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use opentelemetry::propagation::Extractor;
use tonic::Code;
use tower::{Layer, Service};
use tracing::{Instrument as _, Span, field};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const GRPC_STATUS: &str = "grpc-status";

/// Adds a tracing span to every call; see the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcTraceLayer;

impl<S> Layer<S> for GrpcTraceLayer {
    type Service = GrpcTrace<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcTrace { inner }
    }
}

/// The service produced by [`GrpcTraceLayer`].
#[derive(Debug, Clone)]
pub struct GrpcTrace<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, RequestBody, ResponseBody> Service<Request<RequestBody>> for GrpcTrace<S>
where
    S: Service<Request<RequestBody>, Response = Response<ResponseBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResponseBody: Body + Unpin + Send + 'static,
{
    type Response = Response<TracedBody<ResponseBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: Request<RequestBody>) -> Self::Future {
        let call = CallRecord::start(&request);
        let response_future = call.span.in_scope(|| self.inner.call(request));
        let span = call.span.clone();
        Box::pin(
            async move {
                let mut response = match response_future.await {
                    Ok(response) => response,
                    Err(error) => {
                        call.finish(Code::Unknown);
                        return Err(error);
                    }
                };
                // Trailers-only answer: the call is over when the headers leave.
                if let Some(code) = status_code(response.headers_mut()) {
                    call.finish(code);
                    return Ok(response.map(|body| TracedBody {
                        inner: body,
                        call: None,
                    }));
                }
                Ok(response.map(|body| TracedBody {
                    inner: body,
                    call: Some(call),
                }))
            }
            .instrument(span),
        )
    }
}

/// A response body that finishes the call's span when the trailers pass, or
/// when it is dropped early (the client went away).
pub struct TracedBody<B> {
    inner: B,
    call: Option<CallRecord>,
}

impl<B> Body for TracedBody<B>
where
    B: Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        // Server-streaming handlers run inside this poll; keep their events in the span.
        let span = this.call.as_ref().map(|call| call.span.clone());
        let _entered = span.as_ref().map(Span::enter);
        let mut polled = Pin::new(&mut this.inner).poll_frame(context);
        match &mut polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_mut() {
                    let code = status_code(trailers).unwrap_or(Code::Unknown);
                    if let Some(call) = this.call.take() {
                        call.finish(code);
                    }
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => {
                // A gRPC body that ends without trailers carries no status.
                if let Some(call) = this.call.take() {
                    call.finish(Code::Unknown);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for TracedBody<B> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            call.finish(Code::Cancelled);
        }
    }
}

/// The span of one call and when it started.
struct CallRecord {
    span: Span,
    started: Instant,
    quiet: bool,
    service: String,
    method: String,
}

impl CallRecord {
    fn start<B>(request: &Request<B>) -> Self {
        let path = request.uri().path().trim_start_matches('/');
        let (service, method) = path.split_once('/').unwrap_or((path, ""));
        // Probes and reflection would drown the real traffic at info level.
        let quiet = service == "grpc.health.v1.Health" || service.starts_with("grpc.reflection.");
        let span = if quiet {
            tracing::debug_span!(
                "rpc",
                otel.name = %path,
                otel.kind = "server",
                otel.status_code = field::Empty,
                rpc.system = "grpc",
                rpc.service = %service,
                rpc.method = %method,
                rpc.grpc.status_code = field::Empty,
            )
        } else {
            tracing::info_span!(
                "rpc",
                otel.name = %path,
                otel.kind = "server",
                otel.status_code = field::Empty,
                rpc.system = "grpc",
                rpc.service = %service,
                rpc.method = %method,
                rpc.grpc.status_code = field::Empty,
            )
        };
        if !span.is_disabled() {
            let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.extract(&MetadataExtractor(request.headers()))
            });
            // Fails only when no OpenTelemetry layer is installed; there is then
            // no trace to continue, and the span still logs.
            let _ = span.set_parent(parent);
        }
        Self {
            span,
            started: Instant::now(),
            quiet,
            service: service.to_owned(),
            method: method.to_owned(),
        }
    }

    fn finish(self, code: Code) {
        let elapsed = self.started.elapsed();
        crate::metrics::record_grpc_call(&self.service, &self.method, code, elapsed);
        // Microsecond precision; more digits are noise in a log line.
        let latency_ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0;
        let status = code as i32;
        self.span.record("rpc.grpc.status_code", status);
        let server_error = is_server_error(code);
        if server_error {
            self.span.record("otel.status_code", "ERROR");
        }
        let _entered = self.span.enter();
        if self.quiet {
            tracing::debug!(grpc.code = ?code, latency_ms, "rpc finished");
        } else if server_error {
            tracing::warn!(grpc.code = ?code, latency_ms, "rpc finished");
        } else {
            tracing::info!(grpc.code = ?code, latency_ms, "rpc finished");
        }
    }
}

/// The codes OpenTelemetry's gRPC conventions count as server-side errors.
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// Reads the `grpc-status` of a header or trailer map, first rewriting
/// tonic's answer to an oversized message.
///
/// tonic refuses a message above the size limit with OUT_OF_RANGE, while the
/// gRPC specification (and grpc-go, grpc-java, grpcurl) uses RESOURCE_EXHAUSTED,
/// which clients treat as "do not retry as is". The platform answers the
/// standard code; the integration tests pin tonic's wording.
fn status_code(headers: &mut HeaderMap) -> Option<Code> {
    let raw = headers.get(GRPC_STATUS)?;
    let code = raw
        .to_str()
        .ok()
        .and_then(|value| value.parse::<i32>().ok())
        .map_or(Code::Unknown, Code::from_i32);
    if code != Code::OutOfRange {
        return Some(code);
    }
    let Some(status) = tonic::Status::from_header_map(headers) else {
        return Some(code);
    };
    if !status.message().contains("message length too large") {
        return Some(code);
    }
    let exhausted = tonic::Status::resource_exhausted(status.message());
    if exhausted.add_header(headers).is_err() {
        return Some(code);
    }
    Some(Code::ResourceExhausted)
}

/// Reads W3C trace context from gRPC metadata (HTTP/2 headers).
struct MetadataExtractor<'a>(&'a HeaderMap);

impl Extractor for MetadataExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn status_codes_are_read_from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(status_code(&mut headers), None);
        headers.insert(GRPC_STATUS, HeaderValue::from_static("5"));
        assert_eq!(status_code(&mut headers), Some(Code::NotFound));
        headers.insert(GRPC_STATUS, HeaderValue::from_static("nonsense"));
        assert_eq!(status_code(&mut headers), Some(Code::Unknown));
    }

    #[test]
    fn oversized_messages_become_resource_exhausted() {
        let mut headers = HeaderMap::new();
        tonic::Status::out_of_range(
            "Error, decoded message length too large: found 70 bytes, the limit is: 64 bytes",
        )
        .add_header(&mut headers)
        .unwrap();
        assert_eq!(status_code(&mut headers), Some(Code::ResourceExhausted));
        let rewritten = tonic::Status::from_header_map(&headers).unwrap();
        assert_eq!(rewritten.code(), Code::ResourceExhausted);
        assert!(rewritten.message().contains("found 70 bytes"));
    }

    #[test]
    fn other_out_of_range_answers_are_kept() {
        let mut headers = HeaderMap::new();
        tonic::Status::out_of_range("page 9 is past the end")
            .add_header(&mut headers)
            .unwrap();
        assert_eq!(status_code(&mut headers), Some(Code::OutOfRange));
    }

    #[test]
    fn server_errors_follow_the_otel_conventions() {
        assert!(is_server_error(Code::Internal));
        assert!(is_server_error(Code::Unimplemented));
        assert!(!is_server_error(Code::NotFound));
        assert!(!is_server_error(Code::InvalidArgument));
        assert!(!is_server_error(Code::Ok));
    }
}
