//! `ecomctl outbox status | retry` against real outbox tables in a fresh schema.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Outboxes, closed_port, ecomctl, env, metadata};

/// The whitespace-separated cells of the line about `service`.
fn row<'a>(lines: &[&'a str], service: &str) -> Vec<&'a str> {
    lines
        .iter()
        .find(|line| line.starts_with(&format!("{service} ")))
        .unwrap_or_else(|| panic!("no line for {service} in {lines:#?}"))
        .split_whitespace()
        .collect()
}

#[tokio::test]
async fn status_counts_pending_and_failed_rows_per_service_and_the_publish_rate() {
    let outboxes = Outboxes::create("ecomctl_status").await;
    let schema = outboxes.schema.name().to_owned();
    for _ in 0..2 {
        outboxes
            .write(
                "ORDERS",
                "orders.order_placed.v1",
                metadata("order", "o-1", 0, "c-1", None),
            )
            .await;
    }
    let failed = outboxes
        .write(
            "ORDERS",
            "orders.order_confirmed.v1",
            metadata("order", "o-1", 5, "c-1", None),
        )
        .await;
    outboxes.mark_failed("ORDERS", failed, 20).await;
    let published = outboxes
        .write(
            "PAYMENTS",
            "payments.payment_authorized.v1",
            metadata("payment", "p-1", 0, "c-1", None),
        )
        .await;
    outboxes
        .execute(
            "PAYMENTS",
            &format!(
                "UPDATE {{table}} SET status = 'published', published_at = clock_timestamp() \
                 WHERE id = '{published}'"
            ),
        )
        .await;
    outboxes
        .write(
            "PAYMENTS",
            "payments.payment_failed.v1",
            metadata("payment", "p-2", 0, "c-2", None),
        )
        .await;
    let mut variables = outboxes.env();
    // A schema nobody migrated: its row says so, the others are still shown.
    variables.push((
        "FULFILLMENT_DB_SCHEMA".to_owned(),
        "t_ecomctl_nothing_here".to_owned(),
    ));

    let run = ecomctl(&["outbox", "status", "--window", "10s"], &variables)
        .await
        .ok();
    let lines = run.lines();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "SERVICE",
            "OUTBOX",
            "PENDING",
            "FAILED",
            "OLDEST",
            "PENDING",
            "PUBLISHED",
            "(10s)",
            "PER",
            "SECOND"
        ]
    );
    let orders = row(&lines, "orders-svc");
    assert_eq!(
        orders[..4],
        [
            "orders-svc",
            &format!("{schema}.orders_outbox_events"),
            "2",
            "1"
        ]
    );
    assert_eq!(orders[5..], ["0", "0.00"]);
    assert_ne!(orders[4], "-", "the oldest pending row has an age");
    let payments = row(&lines, "payments-svc");
    assert_eq!(payments[2..4], ["1", "0"]);
    assert_eq!(payments[5..], ["1", "0.10"]);
    let catalog = row(&lines, "catalog-svc");
    assert_eq!(catalog[2..], ["0", "0", "-", "0", "0.00"]);
    let fulfillment = row(&lines, "fulfillment-svc");
    assert_eq!(
        fulfillment,
        [
            "fulfillment-svc",
            "t_ecomctl_nothing_here.fulfillment_outbox_events",
            "-",
            "-",
            "no",
            "such",
            "table",
            "-",
            "-"
        ]
    );
    assert_eq!(lines.len(), 8, "{lines:#?}");
    assert_eq!(
        lines[7],
        "1 row ran out of publish attempts: `ecomctl outbox retry --failed` puts them back once the cause is fixed"
    );

    let json = ecomctl(
        &[
            "outbox",
            "status",
            "--json",
            "--service",
            "orders",
            "--service",
            "payments",
        ],
        &variables,
    )
    .await
    .ok();
    let value: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    let services = value["services"].as_array().unwrap();
    assert_eq!(services.len(), 2);
    assert_eq!(services[0]["service"], "orders-svc");
    assert_eq!(services[0]["pending"], 2);
    assert_eq!(services[0]["failed"], 1);
    assert_eq!(services[1]["pending"], 1);
    assert_eq!(
        services[1]["published_in_window"], 1,
        "published just now, within the default 5m"
    );
    outboxes.drop().await;
}

#[tokio::test]
async fn retry_puts_failed_rows_back_to_pending_one_or_all() {
    let outboxes = Outboxes::create("ecomctl_retry").await;
    let variables = outboxes.env();
    let mut failed = Vec::new();
    for prefix in ["ORDERS", "ORDERS", "INVENTORY"] {
        let id = outboxes
            .write(
                prefix,
                if prefix == "ORDERS" {
                    "orders.order_placed.v1"
                } else {
                    "inventory.stock.reserved.v1"
                },
                metadata("order", "o-1", 0, "c-1", None),
            )
            .await;
        outboxes.mark_failed(prefix, id, 20).await;
        failed.push((prefix, id));
    }
    let pending = outboxes
        .write(
            "ORDERS",
            "orders.order_confirmed.v1",
            metadata("order", "o-1", 9, "c-1", None),
        )
        .await;

    let error = ecomctl(&["outbox", "retry", &pending.to_string()], &variables)
        .await
        .error();
    assert_eq!(
        error,
        format!(
            "error: event {pending} (orders.order_confirmed.v1) in orders-svc's outbox is pending, not failed: nothing to retry"
        )
    );
    let unknown = uuid::Uuid::now_v7();
    let error = ecomctl(&["outbox", "retry", &unknown.to_string()], &variables)
        .await
        .error();
    assert!(
        error.starts_with(&format!("error: no event {unknown} in any outbox (")),
        "{error}"
    );

    let (_, first) = failed[0];
    let run = ecomctl(&["outbox", "retry", &first.to_string()], &variables)
        .await
        .ok();
    assert_eq!(
        run.lines(),
        [format!(
            "event {first} (orders.order_placed.v1) back to pending in orders-svc's outbox {}.orders_outbox_events; \
             its relay publishes it on its next poll",
            outboxes.schema.name()
        )]
    );
    assert_eq!(
        outboxes
            .count(
                "ORDERS",
                &format!("id = '{first}' AND status = 'pending' AND attempts = 0")
            )
            .await,
        1
    );
    assert_eq!(outboxes.count("ORDERS", "status = 'failed'").await, 1);

    let run = ecomctl(&["outbox", "retry", "--failed"], &variables)
        .await
        .ok();
    let schema = outboxes.schema.name();
    assert_eq!(
        run.lines(),
        [
            format!(
                "inventory-svc: 1 failed row back to pending ({schema}.inventory_outbox_events)"
            ),
            format!("orders-svc: 1 failed row back to pending ({schema}.orders_outbox_events)"),
            "2 rows requeued; each service's relay publishes them on its next poll".to_owned(),
        ]
    );
    assert_eq!(outboxes.count("ORDERS", "status = 'failed'").await, 0);
    assert_eq!(
        outboxes
            .count("INVENTORY", "status = 'pending' AND attempts = 0")
            .await,
        1
    );
    assert_eq!(outboxes.count("ORDERS", "status = 'pending'").await, 3);

    let run = ecomctl(&["outbox", "retry", "--failed"], &variables)
        .await
        .ok();
    assert_eq!(run.lines(), ["no failed rows: nothing to retry"]);
    outboxes.drop().await;
}

#[tokio::test]
async fn an_unreachable_database_is_named_with_how_to_fix_it() {
    let port = closed_port();
    let url = format!("postgres://postgres:secret@127.0.0.1:{port}/ecommerce?sslmode=disable");
    let variables = env(&[("DATABASE_URL", &url)]);
    let expected = format!(
        "error: cannot connect to PostgreSQL at postgres://postgres@127.0.0.1:{port}/ecommerce \
         (catalog-svc's database: CATALOG_DATABASE_URL, else DATABASE_URL; schema CATALOG_DB_SCHEMA): \
         connection refused — is it running? (scripts/up starts it)"
    );
    for args in [
        vec!["outbox", "status"],
        vec!["outbox", "retry", "--failed"],
        vec!["saga", "--correlation", "c-1"],
    ] {
        assert_eq!(
            ecomctl(&args, &variables).await.error(),
            expected,
            "{args:?}"
        );
    }
    let flagged = ecomctl(&["outbox", "status", "--database-url", &url], &[])
        .await
        .error();
    assert_eq!(
        flagged,
        format!(
            "error: cannot connect to PostgreSQL at postgres://postgres@127.0.0.1:{port}/ecommerce \
             (catalog-svc's database: --database-url): connection refused — is it running? (scripts/up starts it)"
        )
    );
}
