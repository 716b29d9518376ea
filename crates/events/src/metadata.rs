//! What travels with every event besides its payload.

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

/// The aggregate whose state change an event records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aggregate {
    /// Aggregate kind, e.g. `order`, `product`, `stock_item`.
    pub aggregate_type: String,
    /// Aggregate id, usually a UUID.
    pub id: String,
}

/// W3C Trace Context of the span that produced an event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceContext {
    pub traceparent: String,
    pub tracestate: String,
}

impl TraceContext {
    fn is_empty(&self) -> bool {
        self.traceparent.is_empty() && self.tracestate.is_empty()
    }

    pub(crate) fn non_empty(self) -> Option<Self> {
        (!self.is_empty()).then_some(self)
    }
}

/// Everything about an event except its payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMetadata {
    /// Unique id (UUID v7); consumers deduplicate on it.
    pub id: Uuid,
    /// When the state change happened. Microsecond precision, so it survives
    /// a round trip through a Postgres `timestamptz` unchanged.
    pub occurred_at: DateTime<Utc>,
    pub aggregate: Aggregate,
    /// Shared by every event of one business flow (e.g. one checkout).
    pub correlation_id: Option<String>,
    /// The id of the event or request that caused this one.
    pub causation_id: Option<String>,
    pub trace_context: Option<TraceContext>,
    /// Schema registry id of the payload's exact schema, when registered.
    pub schema_registry_id: Option<i64>,
}

impl EventMetadata {
    /// Metadata for a new event about `aggregate_type`/`aggregate_id`,
    /// with a fresh UUID v7 and the current time.
    pub fn new(aggregate_type: impl Into<String>, aggregate_id: impl Into<String>) -> Self {
        Self {
            id: Uuid::now_v7(),
            occurred_at: Utc::now().trunc_subsecs(6),
            aggregate: Aggregate {
                aggregate_type: aggregate_type.into(),
                id: aggregate_id.into(),
            },
            correlation_id: None,
            causation_id: None,
            trace_context: None,
            schema_registry_id: None,
        }
    }

    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }

    pub fn with_causation_id(mut self, causation_id: impl Into<String>) -> Self {
        self.causation_id = Some(causation_id.into());
        self
    }

    pub fn with_trace_context(mut self, trace_context: TraceContext) -> Self {
        self.trace_context = trace_context.non_empty();
        self
    }

    /// Links this event to the one that caused it: causation = that event's
    /// id, correlation passed through (or started from that event's id), and
    /// the cause's trace context (a consumer with a span of its own in that
    /// trace should replace it with the span's, see `with_trace_context`).
    pub fn caused_by(mut self, cause: &EventMetadata) -> Self {
        self.causation_id = Some(cause.id.to_string());
        self.trace_context = cause.trace_context.clone();
        self.correlation_id = Some(
            cause
                .correlation_id
                .clone()
                .unwrap_or_else(|| cause.id.to_string()),
        );
        self
    }
}
