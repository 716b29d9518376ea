//! One fetch per id, however many decodes ask at once; failures shared by
//! their waiters and retried afterwards.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ecommerce_events::{DynamicDecodeError, SchemaError, SchemaFetchError};

use crate::fixtures::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_decodes_of_one_id_fetch_it_once() {
    let widget = compile_widget();
    let source = Arc::new(
        FakeSchemaSource::with([(
            WIDGET_SCHEMA_ID,
            widget_schema(widget.descriptor_set.clone()),
        )])
        .slow(Duration::from_millis(100)),
    );
    let cache = Arc::new(cache_over(&source));
    let body = Arc::new(widget_body(widget, |_| {}));

    let mut decodes = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let cache = Arc::clone(&cache);
        let body = Arc::clone(&body);
        decodes.spawn(async move {
            cache
                .decode_dynamic(&body)
                .await
                .map(|event| event.to_json())
        });
    }
    let mut rendered = BTreeSet::new();
    while let Some(joined) = decodes.join_next().await {
        let json = joined.expect("task").expect("decodes").expect("renders");
        rendered.insert(json);
    }
    assert_eq!(rendered.len(), 1, "every decode gave the same event");
    assert_eq!(source.fetch_count(), 1);
    assert_eq!(cache.cached_count(), 1);

    // Later decodes are served from the cache.
    for _ in 0..10 {
        cache.decode_dynamic(&body).await.expect("decodes");
    }
    assert_eq!(source.fetch_count(), 1);
}

#[tokio::test]
async fn each_id_is_fetched_on_its_own() {
    let widget = compile_widget();
    let source = Arc::new(FakeSchemaSource::with([
        (
            WIDGET_SCHEMA_ID,
            widget_schema(widget.descriptor_set.clone()),
        ),
        (42, widget_schema(widget.descriptor_set.clone())),
    ]));
    let cache = cache_over(&source);
    for registry_id in [WIDGET_SCHEMA_ID, 42, WIDGET_SCHEMA_ID, 42] {
        let body = widget_body(widget, |envelope| {
            if let Some(schema) = envelope.schema.as_mut() {
                schema.registry_id = Some(registry_id);
            }
        });
        let event = cache.decode_dynamic(&body).await.expect("decodes");
        assert_eq!(event.schema_id(), registry_id);
    }
    assert_eq!(source.fetch_count(), 2);
    assert_eq!(cache.cached_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_fetch_is_shared_by_its_waiters_and_retried_afterwards() {
    let widget = compile_widget();
    let source = Arc::new(
        FakeSchemaSource::with([(
            WIDGET_SCHEMA_ID,
            widget_schema(widget.descriptor_set.clone()),
        )])
        .slow(Duration::from_millis(100))
        .failing(1),
    );
    let cache = Arc::new(cache_over(&source));
    let body = Arc::new(widget_body(widget, |_| {}));

    let mut decodes = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let cache = Arc::clone(&cache);
        let body = Arc::clone(&body);
        decodes.spawn(async move { cache.decode_dynamic(&body).await.map(|_| ()) });
    }
    while let Some(joined) = decodes.join_next().await {
        let error = joined.expect("task").expect_err("the registry is down");
        assert!(
            matches!(
                error,
                DynamicDecodeError::Schema(SchemaError::Fetch(SchemaFetchError::Unavailable {
                    id: WIDGET_SCHEMA_ID,
                    ..
                }))
            ),
            "{error:?}"
        );
        assert!(error.is_transient());
    }
    assert_eq!(source.fetch_count(), 1, "the waiters shared one fetch");
    assert_eq!(cache.cached_count(), 0, "a failure is not cached");

    cache
        .decode_dynamic(&body)
        .await
        .expect("the registry is back");
    assert_eq!(source.fetch_count(), 2);
    cache.decode_dynamic(&body).await.expect("cached now");
    assert_eq!(source.fetch_count(), 2);
}

#[tokio::test]
async fn an_unknown_id_is_its_own_error_and_not_cached() {
    let widget = compile_widget();
    let source = widget_source(widget);
    let cache = cache_over(&source);
    let body = widget_body(widget, |envelope| {
        if let Some(schema) = envelope.schema.as_mut() {
            schema.registry_id = Some(999);
        }
    });
    for attempt in 1..=2 {
        let error = cache.decode_dynamic(&body).await.expect_err("unknown id");
        assert!(
            matches!(
                error,
                DynamicDecodeError::Schema(SchemaError::Fetch(SchemaFetchError::UnknownSchemaId(
                    999
                )))
            ),
            "{error:?}"
        );
        assert!(!error.is_transient());
        assert_eq!(source.fetch_count(), attempt);
    }
}
