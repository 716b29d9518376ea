//! The consuming side: reserving stock for each placed order, exactly once,
//! and announcing the reservation as an event caused by the order's.

use anyhow::Context as _;
use async_trait::async_trait;
use ecommerce_events::DecodedEvent;
use ecommerce_inbox::{
    EventHandler, HandlerContext, HandlerError, InboxConsumer, InboxTable, create_inbox_table,
};
use ecommerce_outbox::{Outbox, create_outbox_table};
use ecommerce_proto::ecommerce::inventory::v1::{StockLine, StockReserved};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};
use uuid::Uuid;

/// The consumer name recorded in the inbox.
pub const CONSUMER_NAME: &str = "inventory.order-events";

/// Applies `orders.order_placed.v1` to `<schema>.example_reservations`.
///
/// The table has no unique key on the order on purpose: a second
/// application would show as a second row, so the tests can count effects
/// instead of trusting a constraint to hide them.
///
/// An order with nothing to reserve (no lines, or no positive quantity) is
/// a [`HandlerError::Permanent`]: no retry can fix it, so it goes to the
/// dead-letter queue at once.
#[derive(Clone, Debug)]
pub struct StockKeeper {
    reservations_table: String,
}

impl StockKeeper {
    pub fn new(schema: &str) -> Self {
        Self {
            reservations_table: format!("\"{schema}\".example_reservations"),
        }
    }

    /// Creates the reservations, inbox and outbox tables if missing.
    pub async fn create_tables(
        &self,
        db: &DatabaseConnection,
        inbox: &InboxTable,
        outbox: &Outbox,
    ) -> anyhow::Result<()> {
        create_inbox_table(db, inbox).await?;
        create_outbox_table(db, outbox.table()).await?;
        db.execute_unprepared(&format!(
            "CREATE TABLE IF NOT EXISTS {} (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                reservation_id uuid NOT NULL,
                order_id uuid NOT NULL,
                caused_by uuid NOT NULL,
                quantity integer NOT NULL,
                reserved_at timestamptz NOT NULL DEFAULT clock_timestamp()
            )",
            self.reservations_table
        ))
        .await
        .context("creating example_reservations")?;
        Ok(())
    }

    /// The inbox consumer running this keeper, emitting through `outbox`.
    pub fn into_consumer(
        self,
        db: DatabaseConnection,
        inbox: InboxTable,
        outbox: Outbox,
    ) -> InboxConsumer {
        InboxConsumer::new(CONSUMER_NAME, db, inbox, self).with_outbox(outbox)
    }
}

#[async_trait]
impl EventHandler for StockKeeper {
    async fn handle(
        &self,
        context: &HandlerContext<'_>,
        event: DecodedEvent,
    ) -> Result<(), HandlerError> {
        let DecodedEvent::OrdersOrderPlacedV1(order) = event else {
            // The queue also carries payments' events; they need nothing here.
            return Ok(());
        };
        let order_id = Uuid::parse_str(&order.order_id)
            .map_err(|error| HandlerError::permanent(format!("order_id: {error}")))?;
        // Summed wide: a hostile event must not overflow (and panic) here.
        let quantity: i64 = order
            .lines
            .iter()
            .map(|line| i64::from(line.quantity))
            .sum();
        let quantity = i32::try_from(quantity).map_err(|_| {
            HandlerError::permanent(format!("order {} reserves too many units", order.order_id))
        })?;
        if quantity <= 0 {
            // Retrying cannot help: straight to the dead-letter queue.
            return Err(HandlerError::permanent(format!(
                "order {order_id} has nothing to reserve"
            )));
        }
        let reservation_id = Uuid::now_v7();
        context
            .transaction()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "INSERT INTO {} (reservation_id, order_id, caused_by, quantity) \
                     VALUES ($1, $2, $3, $4)",
                    self.reservations_table
                ),
                [
                    Value::from(reservation_id),
                    Value::from(order_id),
                    Value::from(context.message_id()),
                    Value::from(quantity),
                ],
            ))
            .await?;
        let reserved = StockReserved {
            reservation_id: reservation_id.to_string(),
            order_id: order.order_id.clone(),
            lines: order
                .lines
                .iter()
                .map(|line| StockLine {
                    sku: line.sku.clone(),
                    quantity: line.quantity,
                })
                .collect(),
            ..StockReserved::default()
        };
        context
            .emit(&reserved, "reservation", reservation_id.to_string())
            .await?;
        Ok(())
    }
}
