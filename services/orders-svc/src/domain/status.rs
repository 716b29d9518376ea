//! Where an order is in its lifecycle, and why it ended when it failed.

use std::fmt;

/// Lifecycle of an order (`ecommerce.orders.v1.OrderStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OrderStatus {
    /// Placed; waiting for stock to be reserved.
    Pending,
    /// Stock reserved; waiting for payment authorization.
    Reserved,
    /// Payment authorized; waiting for stock to be committed.
    Paid,
    /// Stock committed; waiting for shipment.
    Confirmed,
    /// Handed to the carrier.
    Shipped,
    /// Received by the customer. Terminal.
    Delivered,
    /// Refused by the system: stock could not be reserved. Terminal.
    Rejected,
    /// Canceled: on request, or because the payment failed or the stock
    /// reservation ended before the order was confirmed. Terminal.
    Canceled,
}

impl OrderStatus {
    pub const ALL: [Self; 8] = [
        Self::Pending,
        Self::Reserved,
        Self::Paid,
        Self::Confirmed,
        Self::Shipped,
        Self::Delivered,
        Self::Rejected,
        Self::Canceled,
    ];

    /// The happy path, in order; every other status is a dead end.
    pub const HAPPY_PATH: [Self; 6] = [
        Self::Pending,
        Self::Reserved,
        Self::Paid,
        Self::Confirmed,
        Self::Shipped,
        Self::Delivered,
    ];

    /// Position on the happy path; `None` for REJECTED and CANCELED.
    pub fn progress(self) -> Option<usize> {
        Self::HAPPY_PATH.iter().position(|status| *status == self)
    }

    /// No input moves an order out of a terminal status.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Delivered | Self::Rejected | Self::Canceled)
    }

    /// The stored form (`orders.status`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Reserved => "reserved",
            Self::Paid => "paid",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Rejected => "rejected",
            Self::Canceled => "canceled",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }

    /// The proto enum's value name without its prefix, used in messages.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Reserved => "RESERVED",
            Self::Paid => "PAID",
            Self::Confirmed => "CONFIRMED",
            Self::Shipped => "SHIPPED",
            Self::Delivered => "DELIVERED",
            Self::Rejected => "REJECTED",
            Self::Canceled => "CANCELED",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Why inventory could not reserve an order's stock
/// (`inventory.v1.ReservationFailureReason`).
///
/// The order API has one rejection reason for all three,
/// `ORDER_REJECTION_REASON_OUT_OF_STOCK`; this keeps the distinction for the
/// history and the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReservationFailure {
    InsufficientStock,
    UnknownSku,
    SkuBlocked,
}

impl ReservationFailure {
    pub const ALL: [Self; 3] = [Self::InsufficientStock, Self::UnknownSku, Self::SkuBlocked];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InsufficientStock => "insufficient_stock",
            Self::UnknownSku => "unknown_sku",
            Self::SkuBlocked => "sku_blocked",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|failure| failure.as_str() == value)
    }
}

/// A SKU inventory could not reserve in full.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShortLine {
    pub sku: String,
    /// Units ordered.
    pub requested: u32,
    /// Units that were available.
    pub available: u32,
}

/// Why an order was rejected, with the lines inventory could not reserve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub failure: ReservationFailure,
    pub short_lines: Vec<ShortLine>,
}

impl Rejection {
    /// One line for the status history, e.g.
    /// `insufficient_stock: SHOE-42 (2 requested, 1 available)`.
    pub fn summary(&self) -> String {
        let lines: Vec<String> = self
            .short_lines
            .iter()
            .map(|line| {
                format!(
                    "{} ({} requested, {} available)",
                    line.sku, line.requested, line.available
                )
            })
            .collect();
        if lines.is_empty() {
            return self.failure.as_str().to_owned();
        }
        format!("{}: {}", self.failure.as_str(), lines.join(", "))
    }
}

/// What ended an order in CANCELED.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CancelCause {
    /// CancelOrder by the order's owner.
    Customer,
    /// CancelOrder by an admin on someone else's order.
    Admin,
    /// `payments.payment_failed.v1`.
    PaymentFailed,
    /// `inventory.stock.reservation_expired.v1` before the stock was
    /// committed.
    ReservationExpired,
    /// `inventory.stock.reservation_released.v1` that the order did not ask
    /// for (an operator's ReleaseReservation).
    ReservationReleased,
}

impl CancelCause {
    pub const ALL: [Self; 5] = [
        Self::Customer,
        Self::Admin,
        Self::PaymentFailed,
        Self::ReservationExpired,
        Self::ReservationReleased,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Admin => "admin",
            Self::PaymentFailed => "payment_failed",
            Self::ReservationExpired => "reservation_expired",
            Self::ReservationReleased => "reservation_released",
        }
    }

    pub fn from_stored(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|cause| cause.as_str() == value)
    }

    /// Whether a person asked for it (CancelOrder) rather than the saga.
    pub fn is_requested(self) -> bool {
        matches!(self, Self::Customer | Self::Admin)
    }
}

/// Longest cancellation reason kept, in characters. Reasons from other
/// services (a provider's decline text) are cut to it.
pub const MAX_REASON_CHARS: usize = 500;

/// Why an order was canceled: the cause, and the text shown in the order's
/// `cancellation_reason`, its history and the `orders.order_canceled.v1`
/// event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cancellation {
    pub cause: CancelCause,
    pub reason: String,
}

impl Cancellation {
    /// `payments.payment_failed.v1` with the provider's `decline` text.
    pub fn payment_failed(decline: &str) -> Self {
        let decline = bounded_text(decline);
        Self {
            cause: CancelCause::PaymentFailed,
            reason: if decline.is_empty() {
                "payment failed".to_owned()
            } else {
                bounded_text(&format!("payment failed: {decline}"))
            },
        }
    }

    pub fn reservation_expired() -> Self {
        Self {
            cause: CancelCause::ReservationExpired,
            reason: "the stock reservation expired before the order was confirmed".to_owned(),
        }
    }

    /// `inventory.stock.reservation_released.v1` with inventory's `reason`.
    pub fn reservation_released(reason: &str) -> Self {
        let reason = bounded_text(reason);
        Self {
            cause: CancelCause::ReservationReleased,
            reason: if reason.is_empty() {
                "the stock reservation was released".to_owned()
            } else {
                bounded_text(&format!("the stock reservation was released: {reason}"))
            },
        }
    }
}

/// `text` without control characters, trimmed and cut to
/// [`MAX_REASON_CHARS`]: reasons from other services are shown and stored
/// as they are, so they are made safe for a log line and a `text` column.
pub(crate) fn bounded_text(text: &str) -> String {
    text.chars()
        .map(|character| {
            if character.is_control() {
                ' '
            } else {
                character
            }
        })
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_REASON_CHARS)
        .collect()
}

/// The status of an order together with what ended it, when it failed: a
/// REJECTED order always has its [`Rejection`], a CANCELED one its
/// [`Cancellation`], and no other status has either.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderState {
    Pending,
    Reserved,
    Paid,
    Confirmed,
    Shipped,
    Delivered,
    Rejected(Rejection),
    Canceled(Cancellation),
}

impl OrderState {
    pub fn status(&self) -> OrderStatus {
        match self {
            Self::Pending => OrderStatus::Pending,
            Self::Reserved => OrderStatus::Reserved,
            Self::Paid => OrderStatus::Paid,
            Self::Confirmed => OrderStatus::Confirmed,
            Self::Shipped => OrderStatus::Shipped,
            Self::Delivered => OrderStatus::Delivered,
            Self::Rejected(_) => OrderStatus::Rejected,
            Self::Canceled(_) => OrderStatus::Canceled,
        }
    }

    /// The state of a happy-path status; `None` for REJECTED and CANCELED,
    /// which need their reason.
    pub fn on_happy_path(status: OrderStatus) -> Option<Self> {
        match status {
            OrderStatus::Pending => Some(Self::Pending),
            OrderStatus::Reserved => Some(Self::Reserved),
            OrderStatus::Paid => Some(Self::Paid),
            OrderStatus::Confirmed => Some(Self::Confirmed),
            OrderStatus::Shipped => Some(Self::Shipped),
            OrderStatus::Delivered => Some(Self::Delivered),
            OrderStatus::Rejected | OrderStatus::Canceled => None,
        }
    }

    /// Rebuilds a stored state; `None` when the parts disagree (a REJECTED
    /// row without its rejection, a PAID row with a cancellation, …).
    pub fn from_stored(
        status: OrderStatus,
        rejection: Option<Rejection>,
        cancellation: Option<Cancellation>,
    ) -> Option<Self> {
        match (status, rejection, cancellation) {
            (OrderStatus::Rejected, Some(rejection), None) => Some(Self::Rejected(rejection)),
            (OrderStatus::Canceled, None, Some(cancellation)) => Some(Self::Canceled(cancellation)),
            (status, None, None) => Self::on_happy_path(status),
            (_, Some(_), _) | (_, _, Some(_)) => None,
        }
    }

    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Self::Rejected(rejection) => Some(rejection),
            Self::Pending
            | Self::Reserved
            | Self::Paid
            | Self::Confirmed
            | Self::Shipped
            | Self::Delivered
            | Self::Canceled(_) => None,
        }
    }

    pub fn cancellation(&self) -> Option<&Cancellation> {
        match self {
            Self::Canceled(cancellation) => Some(cancellation),
            Self::Pending
            | Self::Reserved
            | Self::Paid
            | Self::Confirmed
            | Self::Shipped
            | Self::Delivered
            | Self::Rejected(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_forms_round_trip() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::from_stored(status.as_str()), Some(status));
        }
        for failure in ReservationFailure::ALL {
            assert_eq!(
                ReservationFailure::from_stored(failure.as_str()),
                Some(failure)
            );
        }
        for cause in CancelCause::ALL {
            assert_eq!(CancelCause::from_stored(cause.as_str()), Some(cause));
        }
        assert_eq!(OrderStatus::from_stored("PENDING"), None);
    }

    #[test]
    fn the_happy_path_is_ordered_and_the_dead_ends_are_off_it() {
        for (index, status) in OrderStatus::HAPPY_PATH.into_iter().enumerate() {
            assert_eq!(status.progress(), Some(index));
            assert_eq!(OrderState::on_happy_path(status).unwrap().status(), status);
        }
        assert_eq!(OrderStatus::Rejected.progress(), None);
        assert_eq!(OrderStatus::Canceled.progress(), None);
        let terminal: Vec<_> = OrderStatus::ALL
            .into_iter()
            .filter(|status| status.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                OrderStatus::Delivered,
                OrderStatus::Rejected,
                OrderStatus::Canceled
            ]
        );
    }

    #[test]
    fn stored_states_must_be_consistent() {
        let rejection = Rejection {
            failure: ReservationFailure::UnknownSku,
            short_lines: Vec::new(),
        };
        let cancellation = Cancellation::reservation_expired();
        assert_eq!(
            OrderState::from_stored(OrderStatus::Rejected, Some(rejection.clone()), None),
            Some(OrderState::Rejected(rejection.clone()))
        );
        assert_eq!(
            OrderState::from_stored(OrderStatus::Canceled, None, Some(cancellation.clone())),
            Some(OrderState::Canceled(cancellation.clone()))
        );
        assert_eq!(
            OrderState::from_stored(OrderStatus::Paid, None, None),
            Some(OrderState::Paid)
        );
        assert_eq!(
            OrderState::from_stored(OrderStatus::Rejected, None, None),
            None
        );
        assert_eq!(
            OrderState::from_stored(OrderStatus::Canceled, None, None),
            None
        );
        assert_eq!(
            OrderState::from_stored(OrderStatus::Paid, None, Some(cancellation.clone())),
            None
        );
        assert_eq!(
            OrderState::from_stored(OrderStatus::Canceled, Some(rejection), Some(cancellation)),
            None
        );
    }

    #[test]
    fn rejection_summaries_list_the_short_lines() {
        let rejection = Rejection {
            failure: ReservationFailure::InsufficientStock,
            short_lines: vec![
                ShortLine {
                    sku: "SHOE-42".to_owned(),
                    requested: 2,
                    available: 1,
                },
                ShortLine {
                    sku: "SOCK-1".to_owned(),
                    requested: 5,
                    available: 0,
                },
            ],
        };
        assert_eq!(
            rejection.summary(),
            "insufficient_stock: SHOE-42 (2 requested, 1 available), SOCK-1 (5 requested, 0 available)"
        );
        let blocked = Rejection {
            failure: ReservationFailure::SkuBlocked,
            short_lines: Vec::new(),
        };
        assert_eq!(blocked.summary(), "sku_blocked");
    }

    #[test]
    fn reasons_from_other_services_are_made_safe_and_bounded() {
        assert_eq!(
            Cancellation::payment_failed("card_declined").reason,
            "payment failed: card_declined"
        );
        assert_eq!(Cancellation::payment_failed("  ").reason, "payment failed");
        assert_eq!(
            Cancellation::payment_failed("a\nb\u{0}c").reason,
            "payment failed: a b c"
        );
        let long = Cancellation::payment_failed(&"x".repeat(10_000));
        assert_eq!(long.reason.chars().count(), MAX_REASON_CHARS);
        assert_eq!(
            Cancellation::reservation_released("customer called").reason,
            "the stock reservation was released: customer called"
        );
        assert_eq!(
            Cancellation::reservation_released("").reason,
            "the stock reservation was released"
        );
    }
}
