//! The producing side: placing an order writes the order and its event in
//! one transaction.

use anyhow::Context as _;
use ecommerce_events::EventMetadata;
use ecommerce_outbox::{Outbox, OutboxTransaction, create_outbox_table};
use ecommerce_proto::ecommerce::common::v1::Money;
use ecommerce_proto::ecommerce::orders::v1::{OrderLine, OrderPlaced};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};
use uuid::Uuid;

/// Places orders into `<schema>.example_orders`, each with its
/// `orders.order_placed.v1` event in the same transaction.
#[derive(Clone, Debug)]
pub struct OrderDesk {
    outbox: Outbox,
    orders_table: String,
}

/// One placed order and the id of the event announcing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlacedOrder {
    pub order_id: Uuid,
    pub event_id: Uuid,
}

impl OrderDesk {
    /// A desk writing to `outbox`'s schema.
    pub fn new(outbox: Outbox) -> Self {
        let orders_table = format!("\"{}\".example_orders", outbox.table().schema());
        Self {
            outbox,
            orders_table,
        }
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Creates the orders table and the outbox table if missing.
    pub async fn create_tables(&self, db: &DatabaseConnection) -> anyhow::Result<()> {
        create_outbox_table(db, self.outbox.table()).await?;
        db.execute_unprepared(&format!(
            "CREATE TABLE IF NOT EXISTS {} (
                id uuid PRIMARY KEY,
                quantity integer NOT NULL,
                placed_at timestamptz NOT NULL DEFAULT clock_timestamp()
            )",
            self.orders_table
        ))
        .await
        .context("creating example_orders")?;
        Ok(())
    }

    /// Places one order of `quantity` units in its own transaction and
    /// commits it, which wakes this process's relay.
    pub async fn place_order(
        &self,
        db: &DatabaseConnection,
        quantity: i32,
    ) -> anyhow::Result<PlacedOrder> {
        let transaction = self.outbox.begin(db).await?;
        let placed = self.place_order_in(&transaction, quantity).await?;
        transaction.commit().await?;
        Ok(placed)
    }

    /// Writes the order and its event in the caller's transaction, which
    /// decides whether both happen or neither.
    pub async fn place_order_in(
        &self,
        transaction: &OutboxTransaction,
        quantity: i32,
    ) -> anyhow::Result<PlacedOrder> {
        let order_id = Uuid::now_v7();
        transaction
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "INSERT INTO {} (id, quantity) VALUES ($1, $2)",
                    self.orders_table
                ),
                [Value::from(order_id), Value::from(quantity)],
            ))
            .await
            .context("inserting the order")?;
        let event = OrderPlaced {
            order_id: order_id.to_string(),
            user_id: Uuid::nil().to_string(),
            lines: vec![OrderLine {
                sku: "EXAMPLE-SKU-1".to_owned(),
                variant_id: Uuid::nil().to_string(),
                quantity,
                ..OrderLine::default()
            }],
            total: Some(Money {
                amount_minor: i64::from(quantity) * 1_250,
                currency: "EUR".to_owned(),
            }),
            currency: "EUR".to_owned(),
            ..OrderPlaced::default()
        };
        let metadata = EventMetadata::new("order", order_id.to_string())
            .with_correlation_id(format!("checkout-{order_id}"));
        let event_id = transaction.enqueue(&event, metadata).await?;
        Ok(PlacedOrder { order_id, event_id })
    }
}
