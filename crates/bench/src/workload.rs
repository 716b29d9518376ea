//! What the benchmark writes: a small business row (an order) and the
//! `orders.order_placed.v1` event its transaction emits, shaped like the
//! real ones (two lines, money, ids, correlation id and trace context).

use ecommerce_events::{EventMetadata, TraceContext};
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::orders::v1::{OrderLine, OrderPlaced};
use sea_orm::{DbBackend, Statement, Value};
use uuid::Uuid;

/// The business table, `"<schema>".bench_orders`.
pub fn business_table(schema: &str) -> String {
    format!("\"{schema}\".bench_orders")
}

pub fn create_business_table_sql(table: &str) -> String {
    format!(
        "CREATE TABLE {table} (\
            id          uuid        PRIMARY KEY,\
            user_id     text        NOT NULL,\
            status      text        NOT NULL,\
            total_minor bigint      NOT NULL,\
            currency    text        NOT NULL,\
            created_at  timestamptz NOT NULL DEFAULT now()\
        )"
    )
}

/// One order row, as a service's repository would insert it.
pub fn insert_order(table: &str, order_id: Uuid, sequence: u64) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        format!(
            "INSERT INTO {table} (id, user_id, status, total_minor, currency) \
             VALUES ($1, $2, 'PENDING', $3, 'EUR')"
        ),
        [
            Value::from(order_id),
            Value::from(format!("user-{}", sequence % 10_000)),
            Value::from(i64::try_from(2_599 + sequence % 1_000).unwrap_or(2_599)),
        ],
    )
}

fn money(amount_minor: i64) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: "EUR".to_owned(),
    })
}

/// The order's `OrderPlaced` event with realistic content and metadata.
pub fn order_placed(order_id: Uuid, sequence: u64) -> (OrderPlaced, EventMetadata) {
    let line = |sku: &str, quantity: i32, unit_price: i64| OrderLine {
        sku: sku.to_owned(),
        variant_id: Uuid::now_v7().to_string(),
        product_id: Uuid::now_v7().to_string(),
        title: format!("Product {sku}"),
        quantity,
        unit_price: money(unit_price),
        line_total: money(unit_price * i64::from(quantity)),
    };
    let payload = OrderPlaced {
        order_id: order_id.to_string(),
        user_id: format!("user-{}", sequence % 10_000),
        lines: vec![line("SKU-TSHIRT-M", 2, 1_299), line("SKU-MUG", 1, 899)],
        total: money(2 * 1_299 + 899 + 499),
        currency: "EUR".to_owned(),
        payment_method_token: format!("pm_tok_{sequence:012}"),
        shipping_option_id: "00000000-0000-7000-8000-000000000001".to_owned(),
    };
    let trace_id = Uuid::now_v7().simple().to_string();
    let span_id = &Uuid::now_v7().simple().to_string()[16..];
    let metadata = EventMetadata::new("order", order_id.to_string())
        .with_correlation_id(Uuid::now_v7().to_string())
        .with_trace_context(TraceContext {
            traceparent: format!("00-{trace_id}-{span_id}-01"),
            tracestate: String::new(),
        });
    (payload, metadata)
}
