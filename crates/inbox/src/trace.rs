//! W3C trace context of incoming and follow-up events, through the
//! platform's helpers (no-ops without an OpenTelemetry setup).

use ecommerce_events::TraceContext;
use tracing::Span;

/// Makes `span` continue the producer's trace.
pub(crate) fn continue_trace(span: &Span, incoming: Option<&TraceContext>) {
    if let Some(incoming) = incoming {
        ecommerce_platform::trace_context::continue_trace(
            span,
            &incoming.traceparent,
            &incoming.tracestate,
        );
    }
}

pub(crate) use ecommerce_outbox::current_trace_context;
