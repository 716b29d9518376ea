//! The read model's tables (migrations: `reporting-migration`): applying a
//! [`Fact`] in the stream inbox's transaction, the four reports' queries,
//! and emptying the model for a rebuild. Table names are unqualified: the
//! pool's `search_path` is the service's schema.

use chrono::{DateTime, Utc};
use ecommerce_db::StoreError;
use sea_orm::{ConnectionTrait, DbBackend, QueryResult, Statement, Value};
use uuid::Uuid;

use crate::domain::{
    Fact, Granularity, Milestone, PlacedLine, Range, SalesPageToken, StockMovement, StockPageToken,
};

/// The read model's tables, emptied by a rebuild (not the inbox or the
/// cursor: the stream inbox resets those).
const READ_MODEL_TABLES: &str = "order_lines, orders, captures, stock_levels, variants, products";

fn statement(sql: &str, values: impl IntoIterator<Item = Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

async fn execute<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Result<(), StoreError> {
    db.execute_raw(statement(sql, values)).await?;
    Ok(())
}

async fn query<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Result<Vec<QueryResult>, StoreError> {
    Ok(db.query_all_raw(statement(sql, values)).await?)
}

/// Applies `fact`, which happened at `at`.
pub async fn apply<C: ConnectionTrait>(
    db: &C,
    fact: &Fact,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    match fact {
        Fact::ProductTitled {
            product_id,
            title,
            version,
        } => {
            execute(
                db,
                "INSERT INTO products (product_id, title, version) VALUES ($1, $2, $3) \
                 ON CONFLICT (product_id) DO UPDATE SET title = EXCLUDED.title, \
                 version = EXCLUDED.version WHERE products.version < EXCLUDED.version",
                [
                    (*product_id).into(),
                    title.as_str().into(),
                    (*version).into(),
                ],
            )
            .await
        }
        Fact::VariantCreated {
            sku,
            variant_id,
            product_id,
        } => {
            execute(
                db,
                "INSERT INTO variants (sku, variant_id, product_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (sku) DO UPDATE SET variant_id = EXCLUDED.variant_id, \
                 product_id = EXCLUDED.product_id",
                [
                    sku.as_str().into(),
                    (*variant_id).into(),
                    (*product_id).into(),
                ],
            )
            .await
        }
        Fact::VariantDiscontinued { sku } => {
            execute(
                db,
                "UPDATE variants SET discontinued = true WHERE sku = $1",
                [sku.as_str().into()],
            )
            .await
        }
        Fact::OrderPlaced {
            order_id,
            currency,
            total_minor,
            lines,
        } => order_placed(db, *order_id, currency, *total_minor, lines, at).await,
        Fact::OrderReached {
            order_id,
            milestone,
        } => order_reached(db, *order_id, milestone, at).await,
        Fact::PaymentCaptured {
            payment_id,
            order_id,
            amount_minor,
            currency,
        } => {
            execute(
                db,
                "INSERT INTO captures (payment_id, order_id, amount_minor, currency, captured_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payment_id) DO NOTHING",
                [
                    (*payment_id).into(),
                    (*order_id).into(),
                    (*amount_minor).into(),
                    currency.as_str().into(),
                    at.into(),
                ],
            )
            .await
        }
        Fact::StockLevelsSet {
            sku,
            on_hand,
            reserved,
        } => {
            execute(
                db,
                "INSERT INTO stock_levels (sku, on_hand, reserved, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (sku) DO UPDATE SET \
                 on_hand = EXCLUDED.on_hand, reserved = EXCLUDED.reserved, \
                 updated_at = EXCLUDED.updated_at",
                [
                    sku.as_str().into(),
                    (*on_hand).into(),
                    (*reserved).into(),
                    at.into(),
                ],
            )
            .await
        }
        Fact::StockMoved { lines, movement } => {
            // (on hand, reserved) per unit.
            let (on_hand, reserved): (i32, i32) = match movement {
                StockMovement::Reserved => (0, 1),
                StockMovement::Committed => (-1, -1),
                StockMovement::Freed => (0, -1),
                StockMovement::Restocked => (1, 0),
            };
            for line in lines {
                execute(
                    db,
                    "INSERT INTO stock_levels (sku, on_hand, reserved, updated_at) \
                     VALUES ($1, $2 * $4, $3 * $4, $5) ON CONFLICT (sku) DO UPDATE SET \
                     on_hand = stock_levels.on_hand + EXCLUDED.on_hand, \
                     reserved = stock_levels.reserved + EXCLUDED.reserved, \
                     updated_at = EXCLUDED.updated_at",
                    [
                        line.sku.as_str().into(),
                        on_hand.into(),
                        reserved.into(),
                        line.quantity.into(),
                        at.into(),
                    ],
                )
                .await?;
            }
            Ok(())
        }
    }
}

async fn order_placed<C: ConnectionTrait>(
    db: &C,
    order_id: Uuid,
    currency: &str,
    total_minor: i64,
    lines: &[PlacedLine],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    execute(
        db,
        "INSERT INTO orders (order_id, currency, total_minor, placed_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (order_id) DO UPDATE SET currency = EXCLUDED.currency, \
         total_minor = EXCLUDED.total_minor, placed_at = EXCLUDED.placed_at",
        [
            order_id.into(),
            currency.into(),
            total_minor.into(),
            at.into(),
        ],
    )
    .await?;
    for (line_no, line) in lines.iter().enumerate() {
        let line_no = i32::try_from(line_no).unwrap_or(i32::MAX);
        execute(
            db,
            "INSERT INTO order_lines \
             (order_id, line_no, sku, title, quantity, line_total_minor, currency) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id, line_no) DO NOTHING",
            [
                order_id.into(),
                line_no.into(),
                line.sku.as_str().into(),
                line.title.as_str().into(),
                line.quantity.into(),
                line.line_total_minor.into(),
                line.currency.as_str().into(),
            ],
        )
        .await?;
    }
    Ok(())
}

async fn order_reached<C: ConnectionTrait>(
    db: &C,
    order_id: Uuid,
    milestone: &Milestone,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    // The column of its time, and of its cause. A failed reservation or
    // payment leaves the time NULL: the order was not reserved or paid.
    let (time, cause): (Option<&str>, Option<(&str, &str)>) = match milestone {
        Milestone::Reserved => (Some("reserved_at"), None),
        Milestone::ReservationFailed(reason) => (None, Some(("reservation_failure", reason))),
        Milestone::Paid => (Some("paid_at"), None),
        Milestone::PaymentFailed(reason) => (None, Some(("payment_failure", reason))),
        Milestone::Confirmed => (Some("confirmed_at"), None),
        Milestone::Rejected(reason) => (Some("rejected_at"), Some(("rejection_reason", reason))),
        Milestone::Canceled(cause) => (Some("canceled_at"), Some(("cancellation_cause", cause))),
    };
    let mut columns = Vec::new();
    let mut values: Vec<Value> = vec![order_id.into()];
    if let Some(time) = time {
        columns.push(time);
        values.push(at.into());
    }
    if let Some((column, cause)) = cause {
        columns.push(column);
        values.push(cause.into());
    }
    // Set once: the first event that says it wins.
    let placeholders: Vec<String> = (2..=columns.len() + 1).map(|n| format!("${n}")).collect();
    let updates: Vec<String> = columns
        .iter()
        .map(|column| format!("{column} = coalesce(orders.{column}, EXCLUDED.{column})"))
        .collect();
    let sql = format!(
        "INSERT INTO orders (order_id, {}) VALUES ($1, {}) \
         ON CONFLICT (order_id) DO UPDATE SET {}",
        columns.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    );
    execute(db, &sql, values).await
}

/// Empties the read model (in the rebuild's transaction).
pub async fn clear<C: ConnectionTrait>(db: &C) -> Result<(), StoreError> {
    execute(db, &format!("TRUNCATE {READ_MODEL_TABLES}"), []).await
}

/// One figure of a sales period: a count and an amount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figure {
    pub count: i64,
    pub amount_minor: i64,
}

/// The sales of one period in one currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SalesRow {
    pub period_start: DateTime<Utc>,
    pub currency: String,
    pub placed: Figure,
    pub confirmed: Figure,
    pub rejected: Figure,
    pub canceled: Figure,
    pub captured: Figure,
}

const FIGURES: [&str; 5] = ["placed", "confirmed", "rejected", "canceled", "captured"];

/// Up to `limit` periods of `range` after `after`, oldest first, then by currency.
pub async fn sales<C: ConnectionTrait>(
    db: &C,
    range: Range,
    granularity: Granularity,
    currency: Option<&str>,
    after: Option<&SalesPageToken>,
    limit: u64,
) -> Result<Vec<SalesRow>, StoreError> {
    let of_orders = |kind: &str| {
        format!(
            "SELECT '{kind}' AS kind, {kind}_at AS at, currency, total_minor AS amount \
             FROM orders WHERE {kind}_at >= $1 AND {kind}_at < $2 AND currency IS NOT NULL"
        )
    };
    let figures: String = FIGURES
        .iter()
        .map(|kind| {
            format!(
                "count(*) FILTER (WHERE kind = '{kind}') AS {kind}_count, \
                 coalesce(sum(amount) FILTER (WHERE kind = '{kind}'), 0)::bigint AS {kind}_amount"
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "WITH facts AS ({placed} UNION ALL {confirmed} UNION ALL {rejected} UNION ALL {canceled} \
           UNION ALL SELECT 'captured', captured_at, currency, amount_minor FROM captures \
           WHERE captured_at >= $1 AND captured_at < $2), \
         periods AS (SELECT date_trunc($3, at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS period_start, \
           currency, {figures} FROM facts WHERE ($4::text IS NULL OR currency = $4) \
           GROUP BY 1, 2) \
         SELECT * FROM periods WHERE $5::timestamptz IS NULL OR (period_start, currency) > ($5, $6) \
         ORDER BY period_start, currency LIMIT $7",
        placed = of_orders("placed"),
        confirmed = of_orders("confirmed"),
        rejected = of_orders("rejected"),
        canceled = of_orders("canceled"),
    );
    let rows = query(
        db,
        &sql,
        [
            range.from.into(),
            range.to.into(),
            granularity.sql_unit().into(),
            currency.map(str::to_owned).into(),
            after.map(|token| token.period_start).into(),
            after
                .map(|token| token.currency.clone())
                .unwrap_or_default()
                .into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    )
    .await?;
    rows.iter()
        .map(|row| {
            let figure = |kind: &str| -> Result<Figure, StoreError> {
                Ok(Figure {
                    count: row.try_get("", &format!("{kind}_count"))?,
                    amount_minor: row.try_get("", &format!("{kind}_amount"))?,
                })
            };
            Ok(SalesRow {
                period_start: row.try_get("", "period_start")?,
                currency: row.try_get("", "currency")?,
                placed: figure("placed")?,
                confirmed: figure("confirmed")?,
                rejected: figure("rejected")?,
                canceled: figure("canceled")?,
                captured: figure("captured")?,
            })
        })
        .collect()
}

/// A SKU's sales in one currency (TopProducts gathers the currencies).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkuSalesRow {
    pub sku: String,
    pub product_id: Option<Uuid>,
    pub title: String,
    pub units: i64,
    pub orders: i64,
    pub currency: String,
    pub revenue_minor: i64,
}

/// The `limit` SKUs with the most units in orders confirmed in `range` and
/// not canceled, one row per (SKU, currency), most units first, then SKU.
pub async fn top_products<C: ConnectionTrait>(
    db: &C,
    range: Range,
    limit: u64,
) -> Result<Vec<SkuSalesRow>, StoreError> {
    let rows = query(
        db,
        "WITH sold AS (SELECT l.sku, l.currency, sum(l.quantity)::bigint AS units, \
           sum(l.line_total_minor)::bigint AS revenue, count(DISTINCT l.order_id) AS orders, \
           max(l.title) AS line_title \
           FROM order_lines l JOIN orders o USING (order_id) \
           WHERE o.confirmed_at >= $1 AND o.confirmed_at < $2 AND o.canceled_at IS NULL \
           GROUP BY l.sku, l.currency), \
         top AS (SELECT sku, sum(units)::bigint AS units, sum(orders)::bigint AS orders \
           FROM sold GROUP BY sku ORDER BY 2 DESC, sku LIMIT $3) \
         SELECT top.sku, top.units, top.orders, sold.currency, sold.revenue, \
           coalesce(p.title, sold.line_title) AS title, v.product_id \
         FROM top JOIN sold USING (sku) LEFT JOIN variants v USING (sku) \
         LEFT JOIN products p ON p.product_id = v.product_id \
         ORDER BY top.units DESC, top.sku, sold.currency",
        [
            range.from.into(),
            range.to.into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(SkuSalesRow {
                sku: row.try_get("", "sku")?,
                product_id: row.try_get("", "product_id")?,
                title: row.try_get("", "title")?,
                units: row.try_get("", "units")?,
                orders: row.try_get("", "orders")?,
                currency: row.try_get("", "currency")?,
                revenue_minor: row.try_get("", "revenue")?,
            })
        })
        .collect()
}

/// The funnel of the orders placed in a range.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Funnel {
    pub placed: i64,
    pub reserved: i64,
    pub paid: i64,
    pub confirmed: i64,
    pub rejections: Vec<(String, i64)>,
    pub cancellations: Vec<(String, i64)>,
    pub reservation_failures: Vec<(String, i64)>,
    pub payment_failures: Vec<(String, i64)>,
}

/// The funnel of the orders placed in `range`.
pub async fn funnel<C: ConnectionTrait>(db: &C, range: Range) -> Result<Funnel, StoreError> {
    let values = || [range.from.into(), range.to.into()];
    let rows = query(
        db,
        "SELECT count(*) AS placed, count(reserved_at) AS reserved, count(paid_at) AS paid, \
         count(confirmed_at) AS confirmed FROM orders WHERE placed_at >= $1 AND placed_at < $2",
        values(),
    )
    .await?;
    let mut funnel = Funnel::default();
    if let Some(row) = rows.first() {
        funnel.placed = row.try_get("", "placed")?;
        funnel.reserved = row.try_get("", "reserved")?;
        funnel.paid = row.try_get("", "paid")?;
        funnel.confirmed = row.try_get("", "confirmed")?;
    }
    let causes = [
        "rejection_reason",
        "cancellation_cause",
        "reservation_failure",
        "payment_failure",
    ]
    .map(|column| {
        format!(
            "SELECT '{column}' AS kind, {column} AS cause, count(*) AS orders FROM orders \
             WHERE placed_at >= $1 AND placed_at < $2 AND {column} IS NOT NULL GROUP BY {column}"
        )
    })
    .join(" UNION ALL ");
    let rows = query(
        db,
        &format!("{causes} ORDER BY kind, orders DESC, cause"),
        values(),
    )
    .await?;
    for row in rows {
        let kind: String = row.try_get("", "kind")?;
        let cause = (row.try_get("", "cause")?, row.try_get("", "orders")?);
        match kind.as_str() {
            "rejection_reason" => funnel.rejections.push(cause),
            "cancellation_cause" => funnel.cancellations.push(cause),
            "reservation_failure" => funnel.reservation_failures.push(cause),
            _ => funnel.payment_failures.push(cause),
        }
    }
    Ok(funnel)
}

/// A SKU's stock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockRow {
    pub sku: String,
    pub product_id: Option<Uuid>,
    pub title: Option<String>,
    pub on_hand: i32,
    pub reserved: i32,
    pub updated_at: DateTime<Utc>,
}

impl StockRow {
    pub fn available(&self) -> i32 {
        self.on_hand.saturating_sub(self.reserved)
    }
}

/// Up to `limit` SKUs (not discontinued) with at most `threshold`
/// available, after `after`, fewest available first, then SKU.
pub async fn low_stock<C: ConnectionTrait>(
    db: &C,
    threshold: i32,
    after: Option<&StockPageToken>,
    limit: u64,
) -> Result<Vec<StockRow>, StoreError> {
    let rows = query(
        db,
        "SELECT s.sku, s.on_hand, s.reserved, s.updated_at, v.product_id, p.title \
         FROM stock_levels s LEFT JOIN variants v USING (sku) \
         LEFT JOIN products p ON p.product_id = v.product_id \
         WHERE s.on_hand - s.reserved <= $1 AND NOT coalesce(v.discontinued, false) \
         AND ($2::integer IS NULL OR (s.on_hand - s.reserved, s.sku) > ($2, $3)) \
         ORDER BY s.on_hand - s.reserved, s.sku LIMIT $4",
        [
            threshold.into(),
            after.map(|token| token.available).into(),
            after
                .map(|token| token.sku.clone())
                .unwrap_or_default()
                .into(),
            i64::try_from(limit).unwrap_or(i64::MAX).into(),
        ],
    )
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StockRow {
                sku: row.try_get("", "sku")?,
                product_id: row.try_get("", "product_id")?,
                title: row.try_get("", "title")?,
                on_hand: row.try_get("", "on_hand")?,
                reserved: row.try_get("", "reserved")?,
                updated_at: row.try_get("", "updated_at")?,
            })
        })
        .collect()
}
