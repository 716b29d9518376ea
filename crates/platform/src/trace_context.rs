//! W3C trace context (`traceparent`, `tracestate`) in and out of spans, for
//! carriers other than gRPC metadata: the outbox records the current span's
//! context with each event, the inbox continues it on the consuming side.
//!
//! Both go through the process's OpenTelemetry setup ([`crate::telemetry`]
//! installs the W3C propagator, and the tracing layer when export is
//! configured); without one they do nothing.

use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt as _;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";

/// `(traceparent, tracestate)` of the current span, when an OpenTelemetry
/// layer records it. Costs a subscriber lookup and two small strings.
pub fn current() -> Option<(String, String)> {
    let span = Span::current();
    if span.is_disabled() {
        return None;
    }
    let context = span.context();
    let otel_span = context.span();
    let span_context = otel_span.span_context();
    if !span_context.is_valid() {
        return None;
    }
    let traceparent = format!(
        "00-{}-{}-{:02x}",
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags().to_u8()
    );
    Some((traceparent, span_context.trace_state().header()))
}

/// Makes `span` a child of the trace named by `traceparent` / `tracestate`
/// (empty strings: absent). A malformed `traceparent` is ignored: the span
/// then starts a trace of its own.
pub fn continue_trace(span: &Span, traceparent: &str, tracestate: &str) {
    if span.is_disabled() || traceparent.is_empty() {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&W3cExtractor {
            traceparent,
            tracestate,
        })
    });
    // Fails only when no OpenTelemetry layer is installed: there is then no
    // trace to continue, and the span still logs.
    let _ = span.set_parent(parent);
}

struct W3cExtractor<'a> {
    traceparent: &'a str,
    tracestate: &'a str,
}

impl Extractor for W3cExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        let value = match key {
            TRACEPARENT => self.traceparent,
            TRACESTATE => self.tracestate,
            _ => return None,
        };
        (!value.is_empty()).then_some(value)
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extractor_offers_the_w3c_fields_and_hides_empty_ones() {
        let extractor = W3cExtractor {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            tracestate: "",
        };
        assert_eq!(
            extractor.get("traceparent"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(extractor.get("tracestate"), None);
        assert_eq!(extractor.get("baggage"), None);
    }

    #[test]
    fn without_a_span_there_is_no_trace_context() {
        assert_eq!(current(), None);
    }
}
