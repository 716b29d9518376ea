//! The order state machine: what each saga event and each CancelOrder does
//! to an order in each status.
//!
//! # Why it looks like this
//!
//! Orders reads three queues (inventory, payments, fulfillment events), so
//! an event can arrive before the event that caused it: payments authorizes
//! on `stock.reserved`, but orders may see `payment_authorized` first. Each
//! event proves its causes happened (authorized ⇒ reserved; committed ⇒
//! authorized; shipped ⇒ committed; delivered ⇒ shipped; a payment failure,
//! an expiry or a release ⇒ reserved), so an early event moves the order
//! straight to where it leads and records each skipped status with the
//! reason `inferred from <event>`. The late cause then finds the order past
//! it and is ignored. Whatever the arrival order, the history reads the
//! same and `orders.order_confirmed.v1` is emitted exactly once: by the
//! transition that first reaches or passes CONFIRMED.
//!
//! Consumers are idempotent through the inbox (one effect per message id);
//! on top of that, an input that finds the order already where it leads,
//! past it, or closed is an explicit [`Outcome::Ignored`]: acknowledged,
//! nothing written, nothing emitted.
//!
//! An event that cannot have happened given what the order already went
//! through (a reservation failure for a reserved order, an expiry after
//! the stock was committed) means another service broke the saga's rules:
//! it is a [`TransitionError::Contradiction`], for the consumer to
//! dead-letter with the reason rather than guess.
//!
//! Payment failure and reservation expiry end the order in CANCELED, not
//! REJECTED: issue 5 says so ("declined payment → order CANCELED", "TTL
//! expiry → CANCELED"), and it lets one event, `orders.order_canceled.v1`,
//! tell inventory to release and payments to void for every ending after a
//! reservation. REJECTED means stock could not be reserved: nothing was
//! held, nothing to undo.
//!
//! # The table
//!
//! `→ S` moves to S (`[inferred …]` lists the statuses recorded on the
//! way); `+ event` is emitted; `dup` / `past` / `closed` are
//! [`IgnoreReason::AlreadyThere`] / [`IgnoreReason::AlreadyPast`] /
//! [`IgnoreReason::Closed`]; `✗` is [`TransitionError::Contradiction`];
//! `FP` is [`TransitionError::NotCancelable`] (FAILED_PRECONDITION).
//!
//! | input ↓ / status → | PENDING | RESERVED | PAID | CONFIRMED | SHIPPED | DELIVERED | REJECTED | CANCELED |
//! |---|---|---|---|---|---|---|---|---|
//! | `inventory.stock.reserved.v1` | → RESERVED | dup | past | past | past | past | ✗ | closed |
//! | `inventory.stock.reservation_failed.v1` | → REJECTED + rejected | ✗ | ✗ | ✗ | ✗ | ✗ | dup | closed |
//! | `payments.payment_authorized.v1` | → PAID [RESERVED] | → PAID | dup | past | past | past | ✗ | closed |
//! | `payments.payment_failed.v1` | → CANCELED [RESERVED] + canceled | → CANCELED + canceled | ✗ | ✗ | ✗ | ✗ | ✗ | dup¹ / closed |
//! | `inventory.stock.committed.v1` | → CONFIRMED [RESERVED, PAID] + confirmed | → CONFIRMED [PAID] + confirmed | → CONFIRMED + confirmed | dup | past | past | ✗ | closed² |
//! | `inventory.stock.reservation_expired.v1` | → CANCELED [RESERVED] + canceled | → CANCELED + canceled | → CANCELED + canceled³ | ✗ | ✗ | ✗ | ✗ | dup¹ / closed |
//! | `inventory.stock.reservation_released.v1` | → CANCELED [RESERVED] + canceled | → CANCELED + canceled | → CANCELED + canceled³ | ✗ | ✗ | ✗ | ✗ | dup¹ / closed |
//! | `fulfillment.shipment.shipped.v1` | → SHIPPED [RESERVED, PAID, CONFIRMED] + confirmed | → SHIPPED [PAID, CONFIRMED] + confirmed | → SHIPPED [CONFIRMED] + confirmed | → SHIPPED | dup | past | ✗ | closed² |
//! | `fulfillment.shipment.delivered.v1` | → DELIVERED [… SHIPPED] + confirmed | → DELIVERED [… SHIPPED] + confirmed | → DELIVERED [CONFIRMED, SHIPPED] + confirmed | → DELIVERED [SHIPPED] | → DELIVERED | dup | ✗ | closed² |
//! | CancelOrder (owner or admin) | → CANCELED + canceled | → CANCELED + canceled | → CANCELED + canceled | → CANCELED + canceled | FP | FP | FP | dup (returned unchanged) |
//!
//! 1. `dup` when the order was canceled for the same cause, `closed`
//!    otherwise.
//! 2. Possible when a cancel races the commit: the order stays CANCELED and
//!    its `order_canceled` already asked for the release and the void.
//!    Undoing a commit or a shipment is inventory's and fulfillment's
//!    part (see the report: fulfillment does not consume `order_canceled`
//!    yet).
//! 3. The late authorization after expiry: inventory will not commit, so
//!    the order is canceled and `order_canceled` makes payments void the
//!    authorization.
//!
//! Every entry into CANCELED emits `orders.order_canceled.v1`, every entry
//! into REJECTED `orders.order_rejected.v1`, and the first transition that
//! reaches or passes CONFIRMED `orders.order_confirmed.v1`. Nothing else
//! emits.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::domain::access::CancelRequest;
use crate::domain::model::StatusChange;
use crate::domain::status::{
    CancelCause, Cancellation, OrderState, OrderStatus, Rejection, bounded_text,
};

/// Everything that can change an order after it was placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderInput {
    /// `inventory.stock.reserved.v1`
    StockReserved,
    /// `inventory.stock.reservation_failed.v1`, with its reason and short
    /// lines.
    StockReservationFailed(Rejection),
    /// `payments.payment_authorized.v1`
    PaymentAuthorized,
    /// `payments.payment_failed.v1`, with the provider's decline text.
    PaymentFailed { reason: String },
    /// `inventory.stock.committed.v1`
    StockCommitted,
    /// `inventory.stock.reservation_expired.v1`
    StockReservationExpired,
    /// `inventory.stock.reservation_released.v1`, with inventory's reason.
    /// Only a release the order did not cause (an operator's
    /// ReleaseReservation) finds it live; the saga's own releases follow a
    /// cancel or a payment failure the order has already taken on.
    StockReservationReleased { reason: String },
    /// `fulfillment.shipment.shipped.v1`
    ShipmentShipped {
        carrier: String,
        tracking_number: String,
    },
    /// `fulfillment.shipment.delivered.v1`
    ShipmentDelivered,
    /// CancelOrder, already authorized (owner or admin).
    Cancel(CancelRequest),
}

/// What a transition announces; [`Order::record`] makes each an
/// [`OrderEvent`](crate::domain::OrderEvent) about the order, written to the
/// outbox in the same transaction as the new state.
///
/// [`Order::record`]: crate::domain::Order::record
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderEffect {
    /// `orders.order_confirmed.v1`
    Confirmed,
    /// `orders.order_rejected.v1`
    Rejected(Rejection),
    /// `orders.order_canceled.v1`
    Canceled(Cancellation),
}

/// A change to store: the new state, the history entries to append (one
/// per status entered, oldest first) and the events to emit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub new_state: OrderState,
    pub history: Vec<StatusChange>,
    pub emit: Vec<OrderEffect>,
}

impl Transition {
    pub fn new_status(&self) -> OrderStatus {
        self.new_state.status()
    }
}

/// Why an input changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// The order is already where the input leads: a redelivered event, or
    /// a repeated CancelOrder (which returns the order unchanged).
    AlreadyThere { status: OrderStatus },
    /// The order is already past where the input leads: the input arrived
    /// after an event it caused.
    AlreadyPast {
        status: OrderStatus,
        leads_to: OrderStatus,
    },
    /// The order ended (REJECTED or CANCELED) and this input can no longer
    /// change it; its ending event already told the other services.
    Closed { status: OrderStatus },
}

impl fmt::Display for IgnoreReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadyThere { status } => write!(formatter, "the order is already {status}"),
            Self::AlreadyPast { status, leads_to } => {
                write!(formatter, "the order is already {status}, past {leads_to}")
            }
            Self::Closed { status } => write!(formatter, "the order is closed ({status})"),
        }
    }
}

/// What an input does to an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Store the transition and emit its events.
    Applied(Transition),
    /// Acknowledge; nothing to store or emit.
    Ignored { reason: IgnoreReason },
}

/// An input the order's status refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// CancelOrder on a SHIPPED, DELIVERED or REJECTED order.
    /// FAILED_PRECONDITION.
    #[error("the order is {status}; only an order that has not shipped can be canceled")]
    NotCancelable { status: OrderStatus },
    /// An event that cannot follow what the order already went through:
    /// another service broke the saga's rules. The consumer dead-letters it
    /// (retrying cannot help) and someone looks.
    #[error("{input} contradicts the order's history: it is {status}")]
    Contradiction {
        status: OrderStatus,
        input: &'static str,
    },
}

/// What `input` does to an order in `state` at `now`; see the module docs
/// for the whole table.
///
/// `source` is what the input is called in history reasons (`inferred from
/// {source}`) and errors: the consumed event's type, which only the events
/// adapter knows, or the RPC's name.
pub fn apply(
    state: &OrderState,
    input: OrderInput,
    source: &'static str,
    now: DateTime<Utc>,
) -> Result<Outcome, TransitionError> {
    let change = Change { source, now };
    match input {
        OrderInput::StockReserved => change.advance(state, Milestone::Reserved, String::new()),
        OrderInput::PaymentAuthorized => change.advance(state, Milestone::Paid, String::new()),
        OrderInput::StockCommitted => change.advance(state, Milestone::Confirmed, String::new()),
        OrderInput::ShipmentShipped {
            carrier,
            tracking_number,
        } => change.advance(
            state,
            Milestone::Shipped,
            bounded_text(&format!(
                "shipped with {carrier}, tracking number {tracking_number}"
            )),
        ),
        OrderInput::ShipmentDelivered => change.advance(state, Milestone::Delivered, String::new()),
        OrderInput::StockReservationFailed(rejection) => change.reject(state, rejection),
        // An authorized payment cannot also have failed.
        OrderInput::PaymentFailed { reason } => {
            change.end_reservation(state, Cancellation::payment_failed(&reason), false)
        }
        OrderInput::StockReservationExpired => {
            change.end_reservation(state, Cancellation::reservation_expired(), true)
        }
        OrderInput::StockReservationReleased { reason } => {
            change.end_reservation(state, Cancellation::reservation_released(&reason), true)
        }
        OrderInput::Cancel(request) => change.cancel(state, request),
    }
}

/// A happy-path status after PENDING: where a positive event leads.
#[derive(Clone, Copy)]
enum Milestone {
    Reserved,
    Paid,
    Confirmed,
    Shipped,
    Delivered,
}

impl Milestone {
    /// Index in [`OrderStatus::HAPPY_PATH`].
    fn progress(self) -> usize {
        match self {
            Self::Reserved => 1,
            Self::Paid => 2,
            Self::Confirmed => 3,
            Self::Shipped => 4,
            Self::Delivered => 5,
        }
    }

    fn state(self) -> OrderState {
        match self {
            Self::Reserved => OrderState::Reserved,
            Self::Paid => OrderState::Paid,
            Self::Confirmed => OrderState::Confirmed,
            Self::Shipped => OrderState::Shipped,
            Self::Delivered => OrderState::Delivered,
        }
    }

    fn status(self) -> OrderStatus {
        self.state().status()
    }
}

/// The input being applied, for history entries and errors.
struct Change {
    source: &'static str,
    now: DateTime<Utc>,
}

impl Change {
    fn entry(&self, status: OrderStatus, reason: String) -> StatusChange {
        StatusChange {
            status,
            reason,
            changed_at: self.now,
        }
    }

    fn contradiction(&self, state: &OrderState) -> TransitionError {
        TransitionError::Contradiction {
            status: state.status(),
            input: self.source,
        }
    }

    /// The history entries of the happy-path statuses after `from` up to
    /// and including `to` (`to`'s with `reason`, the others inferred), and
    /// whether CONFIRMED is among them.
    fn path(&self, from: usize, to: usize, reason: String) -> (Vec<StatusChange>, bool) {
        let mut history = Vec::with_capacity(to.saturating_sub(from));
        let mut confirms = false;
        for (index, status) in OrderStatus::HAPPY_PATH.into_iter().enumerate() {
            if index <= from || index > to {
                continue;
            }
            confirms |= status == OrderStatus::Confirmed;
            let reason = if index == to {
                reason.clone()
            } else {
                format!("inferred from {}", self.source)
            };
            history.push(self.entry(status, reason));
        }
        (history, confirms)
    }

    /// A happy-path event leading to `target`.
    fn advance(
        &self,
        state: &OrderState,
        target: Milestone,
        reason: String,
    ) -> Result<Outcome, TransitionError> {
        let status = state.status();
        let current = match state {
            OrderState::Pending => 0,
            OrderState::Reserved => 1,
            OrderState::Paid => 2,
            OrderState::Confirmed => 3,
            OrderState::Shipped => 4,
            OrderState::Delivered => 5,
            // Every happy-path event proves a reservation, which a rejected
            // order never had.
            OrderState::Rejected(_) => return Err(self.contradiction(state)),
            OrderState::Canceled(_) => return Ok(ignored(IgnoreReason::Closed { status })),
        };
        let wanted = target.progress();
        if wanted == current {
            return Ok(ignored(IgnoreReason::AlreadyThere { status }));
        }
        if wanted < current {
            return Ok(ignored(IgnoreReason::AlreadyPast {
                status,
                leads_to: target.status(),
            }));
        }
        let (history, confirms) = self.path(current, wanted, reason);
        let emit = if confirms {
            vec![OrderEffect::Confirmed]
        } else {
            Vec::new()
        };
        Ok(Outcome::Applied(Transition {
            new_state: target.state(),
            history,
            emit,
        }))
    }

    /// `inventory.stock.reservation_failed.v1`: only a PENDING order can
    /// have had no reservation.
    fn reject(&self, state: &OrderState, rejection: Rejection) -> Result<Outcome, TransitionError> {
        match state {
            OrderState::Pending => {
                let history = vec![self.entry(OrderStatus::Rejected, rejection.summary())];
                Ok(Outcome::Applied(Transition {
                    new_state: OrderState::Rejected(rejection.clone()),
                    history,
                    emit: vec![OrderEffect::Rejected(rejection)],
                }))
            }
            OrderState::Rejected(_) => Ok(ignored(IgnoreReason::AlreadyThere {
                status: OrderStatus::Rejected,
            })),
            OrderState::Canceled(_) => Ok(ignored(IgnoreReason::Closed {
                status: OrderStatus::Canceled,
            })),
            OrderState::Reserved
            | OrderState::Paid
            | OrderState::Confirmed
            | OrderState::Shipped
            | OrderState::Delivered => Err(self.contradiction(state)),
        }
    }

    /// A payment failure, expiry or release: the reservation ended before
    /// the stock was committed. `after_payment` says whether it can follow
    /// an authorization (an expiry or a release can; a payment failure
    /// cannot).
    fn end_reservation(
        &self,
        state: &OrderState,
        cancellation: Cancellation,
        after_payment: bool,
    ) -> Result<Outcome, TransitionError> {
        let inferred = match state {
            OrderState::Pending => vec![self.entry(
                OrderStatus::Reserved,
                format!("inferred from {}", self.source),
            )],
            OrderState::Reserved => Vec::new(),
            OrderState::Paid if after_payment => Vec::new(),
            OrderState::Canceled(existing) => {
                return Ok(ignored(closed_or_duplicate(
                    existing.cause,
                    cancellation.cause,
                )));
            }
            OrderState::Paid
            | OrderState::Confirmed
            | OrderState::Shipped
            | OrderState::Delivered
            | OrderState::Rejected(_) => return Err(self.contradiction(state)),
        };
        Ok(Outcome::Applied(self.cancellation(inferred, cancellation)))
    }

    /// CancelOrder: allowed until the order ships.
    fn cancel(
        &self,
        state: &OrderState,
        request: CancelRequest,
    ) -> Result<Outcome, TransitionError> {
        match state {
            OrderState::Pending
            | OrderState::Reserved
            | OrderState::Paid
            | OrderState::Confirmed => {
                let cancellation = Cancellation {
                    cause: request.cause(),
                    reason: request.reason().to_owned(),
                };
                Ok(Outcome::Applied(
                    self.cancellation(Vec::new(), cancellation),
                ))
            }
            OrderState::Canceled(_) => Ok(ignored(IgnoreReason::AlreadyThere {
                status: OrderStatus::Canceled,
            })),
            OrderState::Shipped | OrderState::Delivered | OrderState::Rejected(_) => {
                Err(TransitionError::NotCancelable {
                    status: state.status(),
                })
            }
        }
    }

    /// Into CANCELED, after the `inferred` entries, emitting
    /// `order_canceled`.
    fn cancellation(&self, inferred: Vec<StatusChange>, cancellation: Cancellation) -> Transition {
        let mut history = inferred;
        history.push(self.entry(OrderStatus::Canceled, cancellation.reason.clone()));
        Transition {
            new_state: OrderState::Canceled(cancellation.clone()),
            history,
            emit: vec![OrderEffect::Canceled(cancellation)],
        }
    }
}

fn ignored(reason: IgnoreReason) -> Outcome {
    Outcome::Ignored { reason }
}

fn closed_or_duplicate(existing: CancelCause, incoming: CancelCause) -> IgnoreReason {
    if existing == incoming {
        IgnoreReason::AlreadyThere {
            status: OrderStatus::Canceled,
        }
    } else {
        IgnoreReason::Closed {
            status: OrderStatus::Canceled,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
