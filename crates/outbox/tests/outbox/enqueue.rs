//! Writing events inside the caller's transaction.

use ecommerce_events::{DecodedEvent, EventMetadata, TraceContext, decode_envelope};
use ecommerce_outbox::{Outbox, OutboxError, OutboxTable, SchemaIds};
use ecommerce_proto::ecommerce::iam::v1::{SignInFailed, UserRegistered};
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::support::{Fixture, qualified, sample_event};

/// The stored columns of one row, as the relay and an operator see them.
#[derive(Debug, PartialEq)]
struct StoredRow {
    event_type: String,
    exchange: String,
    aggregate_type: String,
    aggregate_id: String,
    payload: Vec<u8>,
    occurred_at: chrono::DateTime<chrono::Utc>,
    correlation_id: Option<String>,
    causation_id: Option<String>,
    traceparent: Option<String>,
    tracestate: Option<String>,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    published_at: Option<chrono::DateTime<chrono::Utc>>,
}

async fn stored_row(fixture: &Fixture, id: Uuid) -> StoredRow {
    let row = fixture
        .db()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "SELECT event_type, exchange, aggregate_type, aggregate_id, payload, occurred_at, \
                 correlation_id, causation_id, traceparent, tracestate, status, attempts, \
                 last_error, published_at FROM {} WHERE id = $1",
                qualified(&fixture.table)
            ),
            [id.into()],
        ))
        .await
        .unwrap()
        .expect("the row exists");
    StoredRow {
        event_type: row.try_get("", "event_type").unwrap(),
        exchange: row.try_get("", "exchange").unwrap(),
        aggregate_type: row.try_get("", "aggregate_type").unwrap(),
        aggregate_id: row.try_get("", "aggregate_id").unwrap(),
        payload: row.try_get("", "payload").unwrap(),
        occurred_at: row.try_get("", "occurred_at").unwrap(),
        correlation_id: row.try_get("", "correlation_id").unwrap(),
        causation_id: row.try_get("", "causation_id").unwrap(),
        traceparent: row.try_get("", "traceparent").unwrap(),
        tracestate: row.try_get("", "tracestate").unwrap(),
        status: row.try_get("", "status").unwrap(),
        attempts: row.try_get("", "attempts").unwrap(),
        last_error: row.try_get("", "last_error").unwrap(),
        published_at: row.try_get("", "published_at").unwrap(),
    }
}

#[tokio::test]
async fn a_rolled_back_transaction_leaves_nothing() {
    let fixture = Fixture::new("outbox_enqueue_rollback").await;
    let (payload, metadata) = sample_event(0);

    let transaction = fixture.outbox.begin(fixture.db()).await.unwrap();
    transaction.enqueue(&payload, metadata).await.unwrap();
    transaction.rollback().await.unwrap();

    // Dropping the transaction without committing rolls back too.
    let (payload, metadata) = sample_event(1);
    let transaction = fixture.outbox.begin(fixture.db()).await.unwrap();
    transaction.enqueue(&payload, metadata).await.unwrap();
    drop(transaction);

    assert_eq!(fixture.rows().await, []);
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_committed_transaction_leaves_one_pending_row_with_the_envelope() {
    let fixture = Fixture::new("outbox_enqueue_commit").await;
    let (payload, _) = sample_event(7);
    let metadata = EventMetadata::new("order", payload.order_id.clone())
        .with_correlation_id("checkout-7")
        .with_causation_id("0190a3c4-0000-7000-8000-000000000001")
        .with_trace_context(TraceContext {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
            tracestate: "vendor=value".into(),
        });

    let transaction = fixture.outbox.begin(fixture.db()).await.unwrap();
    let id = transaction
        .enqueue(&payload, metadata.clone())
        .await
        .unwrap();
    transaction.commit().await.unwrap();

    assert_eq!(id, metadata.id);
    let rows = fixture.rows().await;
    assert_eq!(rows.len(), 1);
    let stored = stored_row(&fixture, id).await;
    let received = decode_envelope(&stored.payload).unwrap();
    assert_eq!(received.metadata, metadata);
    assert_eq!(received.event, DecodedEvent::from(payload));
    assert_eq!(
        stored,
        StoredRow {
            event_type: "orders.order_placed.v1".into(),
            exchange: "orders.events".into(),
            aggregate_type: "order".into(),
            aggregate_id: metadata.aggregate.id.clone(),
            payload: stored.payload.clone(),
            occurred_at: metadata.occurred_at,
            correlation_id: Some("checkout-7".into()),
            causation_id: Some("0190a3c4-0000-7000-8000-000000000001".into()),
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            tracestate: Some("vendor=value".into()),
            status: "pending".into(),
            attempts: 0,
            last_error: None,
            published_at: None,
        }
    );
    fixture.cleanup().await;
}

#[tokio::test]
async fn emit_stores_the_same_row_as_enqueue_whatever_form_the_event_takes() {
    let fixture = Fixture::new("outbox_emit_forms").await;
    let (payload, metadata) = sample_event(3);
    let transaction = fixture.outbox.begin(fixture.db()).await.unwrap();
    let typed = transaction
        .enqueue(&payload, metadata.clone())
        .await
        .unwrap();
    let mut forms = Vec::new();
    for form in 0..3 {
        let metadata = EventMetadata {
            id: Uuid::now_v7(),
            ..metadata.clone()
        };
        let id = match form {
            0 => transaction.emit(&payload, metadata).await,
            1 => transaction.emit(payload.clone(), metadata).await,
            _ => {
                let event = DecodedEvent::from(payload.clone());
                transaction.emit(event, metadata).await
            }
        };
        forms.push(id.unwrap());
    }
    transaction.commit().await.unwrap();

    let expected = stored_row(&fixture, typed).await;
    for id in forms {
        let stored = stored_row(&fixture, id).await;
        let envelope = decode_envelope(&stored.payload).unwrap();
        assert_eq!(envelope.event, DecodedEvent::from(payload.clone()));
        assert_eq!(envelope.metadata.id, id);
        assert_eq!(
            (stored.event_type, stored.exchange, stored.aggregate_id),
            (
                expected.event_type.clone(),
                expected.exchange.clone(),
                expected.aggregate_id.clone()
            )
        );
    }
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_plain_seaorm_transaction_works_with_outbox_commit() {
    let fixture = Fixture::new("outbox_enqueue_plain").await;
    let (payload, metadata) = sample_event(0);

    let transaction = fixture.db().begin().await.unwrap();
    let id = fixture
        .outbox
        .enqueue(&transaction, &payload, metadata)
        .await
        .unwrap();
    // Invisible to others until the commit.
    assert_eq!(fixture.rows().await, []);
    fixture.outbox.commit(transaction).await.unwrap();

    let rows = fixture.rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, id);
    assert_eq!(rows[0].status, "pending");
    fixture.cleanup().await;
}

#[tokio::test]
async fn the_outbox_transaction_runs_other_statements_of_the_same_transaction() {
    let fixture = Fixture::new("outbox_enqueue_state").await;
    fixture
        .db()
        .execute_unprepared(&format!(
            "CREATE TABLE \"{}\".orders (id text PRIMARY KEY)",
            fixture.schema.name()
        ))
        .await
        .unwrap();
    let (payload, metadata) = sample_event(0);

    let transaction = fixture.outbox.begin(fixture.db()).await.unwrap();
    transaction
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!(
                "INSERT INTO \"{}\".orders VALUES ($1)",
                fixture.schema.name()
            ),
            [payload.order_id.clone().into()],
        ))
        .await
        .unwrap();
    transaction.enqueue(&payload, metadata).await.unwrap();
    transaction.rollback().await.unwrap();

    // The state change and the event went together.
    let orders = fixture
        .db()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT id FROM \"{}\".orders", fixture.schema.name()),
        ))
        .await
        .unwrap();
    assert!(orders.is_empty());
    assert_eq!(fixture.rows().await, []);
    fixture.cleanup().await;
}

#[tokio::test]
async fn enqueueing_the_same_event_twice_is_a_typed_error() {
    let fixture = Fixture::new("outbox_enqueue_duplicate").await;
    let (payload, metadata) = sample_event(0);
    fixture
        .outbox
        .enqueue(fixture.db(), &payload, metadata.clone())
        .await
        .unwrap();

    let error = fixture
        .outbox
        .enqueue(fixture.db(), &payload, metadata.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(error, OutboxError::DuplicateEvent { event_id } if event_id == metadata.id),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    fixture.cleanup().await;
}

#[tokio::test]
async fn a_missing_table_is_a_typed_error_naming_it() {
    let fixture = Fixture::new("outbox_enqueue_missing").await;
    let missing = OutboxTable::new(fixture.schema.name(), "no_such_outbox").unwrap();
    let outbox = Outbox::new(missing, "orders.events");
    let (payload, metadata) = sample_event(0);

    let error = outbox
        .enqueue(fixture.db(), &payload, metadata)
        .await
        .unwrap_err();
    let OutboxError::MissingTable { table } = &error else {
        panic!("unexpected error {error:?}");
    };
    assert_eq!(table, &format!("{}.no_such_outbox", fixture.schema.name()));
    fixture.cleanup().await;
}

#[tokio::test]
async fn each_event_type_goes_to_its_routed_exchange() {
    let fixture = Fixture::with_table("outbox_enqueue_routes", &OutboxTable::IAM).await;
    let outbox = Outbox::new(fixture.table.clone(), "iam.events")
        .with_route("iam.security.", "iam.security-events");

    let registered = outbox
        .enqueue(
            fixture.db(),
            &UserRegistered::default(),
            EventMetadata::new("user", "u-1"),
        )
        .await
        .unwrap();
    let failed_sign_in = outbox
        .enqueue(
            fixture.db(),
            &SignInFailed::default(),
            EventMetadata::new("user", "u-1"),
        )
        .await
        .unwrap();

    assert_eq!(
        stored_row(&fixture, registered).await.exchange,
        "iam.events"
    );
    assert_eq!(
        stored_row(&fixture, failed_sign_in).await.exchange,
        "iam.security-events"
    );
    fixture.cleanup().await;
}

#[tokio::test]
async fn without_a_trace_context_the_current_span_is_recorded() {
    use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    let fixture = Fixture::new("outbox_enqueue_trace").await;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("outbox-test")));
    // Thread-local, and the test runtime runs on this thread only.
    let _default = tracing::subscriber::set_default(subscriber);

    let span = tracing::info_span!("place_order");
    let trace_id = span.context().span().span_context().trace_id();
    let (payload, metadata) = sample_event(0);
    let without_trace = metadata.clone();
    let id = async {
        fixture
            .outbox
            .enqueue(fixture.db(), &payload, metadata)
            .await
            .unwrap()
    }
    .instrument(span)
    .await;

    let stored = stored_row(&fixture, id).await;
    let traceparent = stored.traceparent.expect("a traceparent is recorded");
    assert!(
        traceparent.starts_with(&format!("00-{trace_id}-")),
        "{traceparent} is not in trace {trace_id}"
    );
    assert_eq!(traceparent.len(), 55, "{traceparent}");
    // It travels in the envelope too.
    let received = decode_envelope(&stored.payload).unwrap();
    assert_eq!(
        received
            .metadata
            .trace_context
            .map(|trace| trace.traceparent),
        Some(traceparent)
    );
    assert_eq!(received.metadata.id, without_trace.id);
    fixture.cleanup().await;
}

#[tokio::test]
async fn registered_event_types_are_stamped_with_their_registry_id() {
    let fixture = Fixture::new("outbox_schema_ids").await;
    let schema_ids = SchemaIds::new();
    let outbox = fixture.outbox.clone().with_schema_ids(schema_ids.clone());
    let (payload, metadata) = sample_event(0);

    // Not registered yet: no id, and the row's schema_ref has no `#<id>`.
    let unregistered = outbox
        .enqueue(fixture.db(), &payload, metadata.clone())
        .await
        .unwrap();
    assert!(schema_ids.set("orders.order_placed.v1", 42));
    let registered = outbox
        .enqueue(
            fixture.db(),
            &payload,
            EventMetadata::new("order", "order-2"),
        )
        .await
        .unwrap();
    // An id the caller chose wins over the registered one.
    let chosen = outbox
        .enqueue(
            fixture.db(),
            &payload,
            EventMetadata {
                schema_registry_id: Some(7),
                ..EventMetadata::new("order", "order-3")
            },
        )
        .await
        .unwrap();

    for (event_id, registry_id, schema_ref) in [
        (unregistered, None, "ecommerce.orders.v1.OrderPlaced@v1"),
        (
            registered,
            Some(42),
            "ecommerce.orders.v1.OrderPlaced@v1#42",
        ),
        (chosen, Some(7), "ecommerce.orders.v1.OrderPlaced@v1#7"),
    ] {
        let row = fixture
            .db()
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "SELECT payload, schema_ref FROM {} WHERE id = $1",
                    qualified(&fixture.table)
                ),
                [event_id.into()],
            ))
            .await
            .unwrap()
            .unwrap();
        let body: Vec<u8> = row.try_get("", "payload").unwrap();
        let stored_ref: String = row.try_get("", "schema_ref").unwrap();
        let envelope = decode_envelope(&body).unwrap();
        assert_eq!(envelope.metadata.schema_registry_id, registry_id);
        assert_eq!(stored_ref, schema_ref);
    }
    fixture.cleanup().await;
}
