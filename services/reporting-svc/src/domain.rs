//! What each event means to the reports, and the questions asked of them,
//! without I/O.
//!
//! - [`Fact`]: the change one event makes to the read model
//!   ([`facts_of`]); storage applies it.
//! - [`Range`], [`Granularity`], [`SalesPageToken`], [`StockPageToken`]:
//!   the validated questions of the four RPCs.

use chrono::{DateTime, Utc};
use ecommerce_events::{DecodedEvent, EventMetadata};
pub use ecommerce_kernel::{ErrorCode, InvalidField, InvalidValue};
use ecommerce_proto::ecommerce::inventory::v1 as inventory_pb;
use ecommerce_proto::ecommerce::orders::v1 as orders_pb;
use uuid::Uuid;

/// Every way a reports request can be refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportingError {
    /// A request or event field is missing or malformed; names the field.
    #[error(transparent)]
    InvalidArgument(#[from] InvalidField),
}

impl ReportingError {
    /// Exhaustive, so a new variant forces a decision here.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidArgument(_) => ErrorCode::InvalidArgument,
        }
    }
}

/// A line of a placed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedLine {
    pub sku: String,
    pub title: String,
    pub quantity: i32,
    pub line_total_minor: i64,
    pub currency: String,
}

/// A SKU and a number of its units.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Units {
    pub sku: String,
    pub quantity: i32,
}

/// The change one event makes to the read model. Applied once per event
/// (the stream inbox sees to that), at the event's time `at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    ProductTitled {
        product_id: Uuid,
        title: String,
        version: i64,
    },
    VariantCreated {
        sku: String,
        variant_id: Uuid,
        product_id: Uuid,
    },
    VariantDiscontinued {
        sku: String,
    },
    OrderPlaced {
        order_id: Uuid,
        currency: String,
        total_minor: i64,
        lines: Vec<PlacedLine>,
    },
    /// A moment of an order's life: its column is set once.
    OrderReached {
        order_id: Uuid,
        milestone: Milestone,
    },
    PaymentCaptured {
        payment_id: Uuid,
        order_id: Uuid,
        amount_minor: i64,
        currency: String,
    },
    /// Absolute levels (an adjustment says them).
    StockLevelsSet {
        sku: String,
        on_hand: i32,
        reserved: i32,
    },
    /// Levels moved by a reservation event, line by line.
    StockMoved {
        lines: Vec<Units>,
        movement: StockMovement,
    },
}

/// A moment of an order's life, with its cause where it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Milestone {
    Reserved,
    ReservationFailed(String),
    Paid,
    PaymentFailed(String),
    Confirmed,
    Rejected(String),
    Canceled(String),
}

/// How a reservation event moves a SKU's levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StockMovement {
    /// Units held for an order: reserved += n.
    Reserved,
    /// Held units left the warehouse: on hand -= n, reserved -= n.
    Committed,
    /// Held units freed (released or expired): reserved -= n.
    Freed,
    /// Committed units came back: on hand += n.
    Restocked,
}

/// An event that cannot be a fact (a malformed id): dead for good.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEvent(pub InvalidField);

/// The facts of `event`; empty for a type the reports do not use.
pub fn facts_of(event: &DecodedEvent, metadata: &EventMetadata) -> Result<Vec<Fact>, InvalidEvent> {
    let _ = metadata;
    let facts = match event {
        DecodedEvent::CatalogProductCreatedV1(created) => vec![Fact::ProductTitled {
            product_id: uuid(&created.product_id, "product_id")?,
            title: created.title.clone(),
            version: created.version,
        }],
        DecodedEvent::CatalogProductUpdatedV1(updated) => {
            if !updated.changed_fields.iter().any(|field| field == "title") {
                return Ok(Vec::new());
            }
            vec![Fact::ProductTitled {
                product_id: uuid(&updated.product_id, "product_id")?,
                title: updated.title.clone(),
                version: updated.version,
            }]
        }
        DecodedEvent::CatalogVariantCreatedV1(created) => vec![Fact::VariantCreated {
            sku: created.sku.clone(),
            variant_id: uuid(&created.variant_id, "variant_id")?,
            product_id: uuid(&created.product_id, "product_id")?,
        }],
        DecodedEvent::CatalogVariantDiscontinuedV1(discontinued) => {
            vec![Fact::VariantDiscontinued {
                sku: discontinued.sku.clone(),
            }]
        }
        DecodedEvent::OrdersOrderPlacedV1(placed) => {
            let total = placed.total.clone().unwrap_or_default();
            let currency = if total.currency.is_empty() {
                placed.currency.clone()
            } else {
                total.currency.clone()
            };
            let lines = placed
                .lines
                .iter()
                .map(|line| {
                    let line_total = line.line_total.clone().unwrap_or_default();
                    PlacedLine {
                        sku: line.sku.clone(),
                        title: line.title.clone(),
                        quantity: line.quantity,
                        line_total_minor: line_total.amount_minor,
                        currency: if line_total.currency.is_empty() {
                            currency.clone()
                        } else {
                            line_total.currency
                        },
                    }
                })
                .collect();
            vec![Fact::OrderPlaced {
                order_id: uuid(&placed.order_id, "order_id")?,
                currency,
                total_minor: total.amount_minor,
                lines,
            }]
        }
        DecodedEvent::OrdersOrderConfirmedV1(confirmed) => {
            reached(&confirmed.order_id, Milestone::Confirmed)?
        }
        DecodedEvent::OrdersOrderRejectedV1(rejected) => {
            let reason = cause_name(
                orders_pb::OrderRejectionReason::try_from(rejected.reason)
                    .map(|reason| reason.as_str_name())
                    .unwrap_or("UNSPECIFIED"),
                "ORDER_REJECTION_REASON_",
            );
            reached(&rejected.order_id, Milestone::Rejected(reason))?
        }
        DecodedEvent::OrdersOrderCanceledV1(canceled) => {
            let cause = cause_name(
                orders_pb::OrderCancellationCause::try_from(canceled.cause)
                    .map(|cause| cause.as_str_name())
                    .unwrap_or("UNSPECIFIED"),
                "ORDER_CANCELLATION_CAUSE_",
            );
            reached(&canceled.order_id, Milestone::Canceled(cause))?
        }
        DecodedEvent::PaymentsPaymentAuthorizedV1(authorized) => {
            reached(&authorized.order_id, Milestone::Paid)?
        }
        DecodedEvent::PaymentsPaymentFailedV1(failed) => reached(
            &failed.order_id,
            Milestone::PaymentFailed(failed.reason.clone()),
        )?,
        DecodedEvent::PaymentsPaymentCapturedV1(captured) => {
            let amount = captured.amount.clone().unwrap_or_default();
            vec![Fact::PaymentCaptured {
                payment_id: uuid(&captured.payment_id, "payment_id")?,
                order_id: uuid(&captured.order_id, "order_id")?,
                amount_minor: amount.amount_minor,
                currency: amount.currency,
            }]
        }
        DecodedEvent::InventoryStockAdjustmentAppliedV1(adjusted) => {
            vec![Fact::StockLevelsSet {
                sku: adjusted.sku.clone(),
                on_hand: adjusted.on_hand,
                reserved: adjusted.on_hand.saturating_sub(adjusted.available),
            }]
        }
        DecodedEvent::InventoryStockReservedV1(reserved) => {
            let mut facts = reached(&reserved.order_id, Milestone::Reserved)?;
            facts.push(moved(&reserved.lines, StockMovement::Reserved));
            facts
        }
        DecodedEvent::InventoryStockReservationFailedV1(failed) => {
            let reason = cause_name(
                inventory_pb::ReservationFailureReason::try_from(failed.reason)
                    .map(|reason| reason.as_str_name())
                    .unwrap_or("UNSPECIFIED"),
                "RESERVATION_FAILURE_REASON_",
            );
            reached(&failed.order_id, Milestone::ReservationFailed(reason))?
        }
        DecodedEvent::InventoryStockCommittedV1(committed) => {
            vec![moved(&committed.lines, StockMovement::Committed)]
        }
        DecodedEvent::InventoryStockReservationReleasedV1(released) => {
            vec![moved(&released.lines, StockMovement::Freed)]
        }
        DecodedEvent::InventoryStockReservationExpiredV1(expired) => {
            vec![moved(&expired.lines, StockMovement::Freed)]
        }
        DecodedEvent::InventoryStockRestockedV1(restocked) => {
            vec![moved(&restocked.lines, StockMovement::Restocked)]
        }
        _ => Vec::new(),
    };
    Ok(facts)
}

fn reached(order_id: &str, milestone: Milestone) -> Result<Vec<Fact>, InvalidEvent> {
    Ok(vec![Fact::OrderReached {
        order_id: uuid(order_id, "order_id")?,
        milestone,
    }])
}

fn moved(lines: &[inventory_pb::StockLine], movement: StockMovement) -> Fact {
    Fact::StockMoved {
        lines: lines
            .iter()
            .map(|line| Units {
                sku: line.sku.clone(),
                quantity: line.quantity,
            })
            .collect(),
        movement,
    }
}

fn uuid(raw: &str, field: &str) -> Result<Uuid, InvalidEvent> {
    ecommerce_kernel::parse_uuid(raw).map_err(|invalid| InvalidEvent(invalid.at(field)))
}

/// An enum value's name without its prefix: `OUT_OF_STOCK`.
fn cause_name(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_owned()
}

/// A half-open time range `[from, to)`, `from` before `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Range {
    /// Both ends required; `to` after `from`.
    pub fn new(
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Self, InvalidField> {
        let from = from.ok_or_else(|| InvalidValue::new("is required").at("from"))?;
        let to = to.ok_or_else(|| InvalidValue::new("is required").at("to"))?;
        if to <= from {
            return Err(InvalidValue::new("must be after `from`").at("to"));
        }
        Ok(Self { from, to })
    }
}

/// The length of a sales period, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Week,
    Month,
}

impl Granularity {
    /// The `date_trunc` field.
    pub fn sql_unit(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }
}

/// Where a page of sales periods starts: after this (period, currency).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SalesPageToken {
    pub period_start: DateTime<Utc>,
    pub currency: String,
}

/// Where a page of low-stock SKUs starts: after this (available, sku).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockPageToken {
    pub available: i32,
    pub sku: String,
}

/// The answer of TopProducts and ListLowStock's default sizes.
pub const DEFAULT_TOP_PRODUCTS: u64 = 10;
/// The most SKUs TopProducts returns.
pub const MAX_TOP_PRODUCTS: u64 = 100;

/// TopProducts' `limit`: 0 means 10, capped at 100, negative refused.
pub fn top_products_limit(raw: i32) -> Result<u64, InvalidField> {
    let limit =
        u64::try_from(raw).map_err(|_| InvalidValue::new("must not be negative").at("limit"))?;
    Ok(match limit {
        0 => DEFAULT_TOP_PRODUCTS,
        limit => limit.min(MAX_TOP_PRODUCTS),
    })
}

/// ListLowStock's `threshold`: 0 or more.
pub fn stock_threshold(raw: i32) -> Result<i32, InvalidField> {
    if raw < 0 {
        return Err(InvalidValue::new("must not be negative").at("threshold"));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ecommerce_proto::ecommerce::common::v1::Money;
    use ecommerce_proto::ecommerce::payments::v1 as payments_pb;

    use super::*;

    fn metadata() -> EventMetadata {
        EventMetadata::new("order", "x")
    }

    #[test]
    fn an_order_placed_carries_its_total_and_lines_in_its_currency() {
        let order_id = Uuid::now_v7();
        let placed = orders_pb::OrderPlaced {
            order_id: order_id.to_string(),
            total: Some(Money {
                amount_minor: 4500,
                currency: "EUR".to_owned(),
            }),
            lines: vec![orders_pb::OrderLine {
                sku: "SKU-1".to_owned(),
                title: "Mug".to_owned(),
                quantity: 3,
                line_total: Some(Money {
                    amount_minor: 4500,
                    currency: "EUR".to_owned(),
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let facts = facts_of(&DecodedEvent::OrdersOrderPlacedV1(placed), &metadata()).unwrap();
        assert_eq!(
            facts,
            [Fact::OrderPlaced {
                order_id,
                currency: "EUR".to_owned(),
                total_minor: 4500,
                lines: vec![PlacedLine {
                    sku: "SKU-1".to_owned(),
                    title: "Mug".to_owned(),
                    quantity: 3,
                    line_total_minor: 4500,
                    currency: "EUR".to_owned(),
                }],
            }]
        );
    }

    #[test]
    fn causes_are_enum_names_without_their_prefix() {
        let order_id = Uuid::now_v7();
        let rejected = orders_pb::OrderRejected {
            order_id: order_id.to_string(),
            reason: orders_pb::OrderRejectionReason::OutOfStock as i32,
            ..Default::default()
        };
        let canceled = orders_pb::OrderCanceled {
            order_id: order_id.to_string(),
            cause: orders_pb::OrderCancellationCause::Customer as i32,
            ..Default::default()
        };
        let failed = inventory_pb::StockReservationFailed {
            order_id: order_id.to_string(),
            reason: inventory_pb::ReservationFailureReason::InsufficientStock as i32,
            ..Default::default()
        };
        let milestones: Vec<Fact> = [
            DecodedEvent::OrdersOrderRejectedV1(rejected),
            DecodedEvent::OrdersOrderCanceledV1(canceled),
            DecodedEvent::InventoryStockReservationFailedV1(failed),
        ]
        .iter()
        .flat_map(|event| facts_of(event, &metadata()).unwrap())
        .collect();
        assert_eq!(
            milestones,
            [
                Fact::OrderReached {
                    order_id,
                    milestone: Milestone::Rejected("OUT_OF_STOCK".to_owned())
                },
                Fact::OrderReached {
                    order_id,
                    milestone: Milestone::Canceled("CUSTOMER".to_owned())
                },
                Fact::OrderReached {
                    order_id,
                    milestone: Milestone::ReservationFailed("INSUFFICIENT_STOCK".to_owned())
                },
            ]
        );
    }

    #[test]
    fn stock_events_set_or_move_the_levels() {
        let adjusted = inventory_pb::StockAdjustmentApplied {
            sku: "SKU-1".to_owned(),
            on_hand: 10,
            available: 7,
            ..Default::default()
        };
        assert_eq!(
            facts_of(
                &DecodedEvent::InventoryStockAdjustmentAppliedV1(adjusted),
                &metadata()
            )
            .unwrap(),
            [Fact::StockLevelsSet {
                sku: "SKU-1".to_owned(),
                on_hand: 10,
                reserved: 3
            }]
        );
        let order_id = Uuid::now_v7();
        let reserved = inventory_pb::StockReserved {
            order_id: order_id.to_string(),
            lines: vec![inventory_pb::StockLine {
                sku: "SKU-1".to_owned(),
                quantity: 2,
            }],
            ..Default::default()
        };
        let facts = facts_of(
            &DecodedEvent::InventoryStockReservedV1(reserved),
            &metadata(),
        )
        .unwrap();
        assert_eq!(
            facts[1],
            Fact::StockMoved {
                lines: vec![Units {
                    sku: "SKU-1".to_owned(),
                    quantity: 2
                }],
                movement: StockMovement::Reserved
            }
        );
    }

    #[test]
    fn a_malformed_id_is_an_invalid_event_naming_the_field() {
        let captured = payments_pb::PaymentCaptured {
            payment_id: "nope".to_owned(),
            ..Default::default()
        };
        let error = facts_of(
            &DecodedEvent::PaymentsPaymentCapturedV1(captured),
            &metadata(),
        )
        .unwrap_err();
        assert_eq!(error.0.field, "payment_id");
    }

    #[test]
    fn requests_are_validated_naming_the_field() {
        let now = Utc::now();
        assert_eq!(Range::new(None, Some(now)).unwrap_err().field, "from");
        assert_eq!(Range::new(Some(now), None).unwrap_err().field, "to");
        assert_eq!(Range::new(Some(now), Some(now)).unwrap_err().field, "to");
        assert!(Range::new(Some(now), Some(now + chrono::Duration::seconds(1))).is_ok());
        assert_eq!(top_products_limit(0).unwrap(), 10);
        assert_eq!(top_products_limit(500).unwrap(), 100);
        assert_eq!(top_products_limit(-1).unwrap_err().field, "limit");
        assert_eq!(stock_threshold(-1).unwrap_err().field, "threshold");
        assert_eq!(stock_threshold(0).unwrap(), 0);
    }
}
