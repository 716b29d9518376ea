//! The order: built once from a verified checkout, then changed only by
//! the state machine.

use chrono::{DateTime, Utc};
use ecommerce_checkout::{CheckoutKey, PaymentMethodToken, SnapshotDigest, VerifiedCheckout};
use ecommerce_kernel::{Currency, Money};
use uuid::Uuid;

use crate::domain::events::OrderEvent;
use crate::domain::machine::{self, OrderInput, Outcome, Transition, TransitionError};
use crate::domain::status::{OrderState, OrderStatus};

/// One ordered line: exactly the priced line of the signed checkout, so the
/// order keeps the prices catalog quoted.
pub use ecommerce_checkout::LineItem as OrderLine;

ecommerce_kernel::uuid_id!(
    /// Id of an order, a UUID v7: time-ordered, so ids sort by creation
    /// and "newest first" pages follow the primary key.
    OrderId
);

/// One entry of an order's status history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChange {
    /// The status entered.
    pub status: OrderStatus,
    /// Why, when there is more to say than the status: a cancel reason, a
    /// rejection's short lines, a tracking number, or `inferred from …`
    /// for a status an event proved without its own event having arrived.
    pub reason: String,
    /// When the order entered the status (UTC).
    pub changed_at: DateTime<Utc>,
}

/// An order. Its `Debug` hides the payment method token
/// ([`PaymentMethodToken`]'s own `Debug`), so an order can be logged.
///
/// Fields are public so storage can rebuild an order from its rows; only
/// [`Order::place`] and [`Order::record`] should change one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    /// The customer who placed it: the only non-admin who may read or
    /// cancel it.
    pub user_id: Uuid,
    /// At most one order per key.
    pub checkout_key: CheckoutKey,
    /// The SHA-256 of the signed snapshot bytes the order was placed from:
    /// a replayed key is the same checkout only with the same digest.
    /// `None` for orders placed before digests were stored.
    pub snapshot_digest: Option<SnapshotDigest>,
    pub cart_id: Uuid,
    pub cart_version: i64,
    /// At least one, one per SKU.
    pub lines: Vec<OrderLine>,
    pub subtotal: Money,
    pub shipping_option_id: Uuid,
    pub shipping_price: Money,
    /// `subtotal + shipping_price`: the amount to authorize.
    pub total: Money,
    pub currency: Currency,
    /// A reference passed on to payments-svc in `orders.order_placed.v1`.
    pub payment_method_token: PaymentMethodToken,
    /// Shared by every event of this order's checkout saga.
    pub correlation_id: String,
    pub state: OrderState,
    /// Oldest first, starting with PENDING; one entry per status entered.
    pub history: Vec<StatusChange>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// A new PENDING order from a verified checkout whose signed bytes
    /// have `snapshot_digest`. Placing it emits [`OrderEvent::placed`], in
    /// the same transaction as the insert.
    pub fn place(
        id: OrderId,
        checkout: VerifiedCheckout,
        snapshot_digest: SnapshotDigest,
        correlation_id: String,
        now: DateTime<Utc>,
    ) -> Self {
        let VerifiedCheckout {
            cart_id,
            cart_version,
            user_id,
            lines,
            subtotal,
            shipping_option_id,
            shipping_price,
            total,
            currency,
            payment_method_token,
            checkout_key,
            ..
        } = checkout;
        Self {
            id,
            user_id,
            checkout_key,
            snapshot_digest: Some(snapshot_digest),
            cart_id,
            cart_version,
            lines,
            subtotal,
            shipping_option_id,
            shipping_price,
            total,
            currency,
            payment_method_token,
            correlation_id,
            state: OrderState::Pending,
            history: vec![StatusChange {
                status: OrderStatus::Pending,
                reason: String::new(),
                changed_at: now,
            }],
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether a PlaceOrder of this order's checkout key by `user_id` with
    /// snapshot bytes of `digest` is a retry of the checkout that placed
    /// it (and so answered with it) rather than another checkout reusing
    /// the key. An order stored without a digest accepts any snapshot of
    /// its owner, as before digests were stored.
    pub fn is_replayed_by(&self, user_id: Uuid, digest: &SnapshotDigest) -> bool {
        self.user_id == user_id
            && self
                .snapshot_digest
                .as_ref()
                .is_none_or(|stored| stored == digest)
    }

    pub fn status(&self) -> OrderStatus {
        self.state.status()
    }

    /// What `input` (called `source` in history reasons and errors) does
    /// to this order; see [`machine::apply`].
    pub fn apply(
        &self,
        input: OrderInput,
        source: &'static str,
        now: DateTime<Utc>,
    ) -> Result<Outcome, TransitionError> {
        machine::apply(&self.state, input, source, now)
    }

    /// Takes on an applied transition (its state, its history entries and,
    /// as `updated_at`, the time of its last entry) and hands back the
    /// events to write to the outbox in the same transaction.
    pub fn record(&mut self, transition: Transition) -> Vec<OrderEvent> {
        let Transition {
            new_state,
            history,
            emit,
        } = transition;
        if let Some(last) = history.last() {
            self.updated_at = last.changed_at;
        }
        self.state = new_state;
        self.history.extend(history);
        emit.into_iter()
            .map(|effect| OrderEvent::of(self, effect))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_key_is_the_same_checkout_only_for_its_owner_and_its_bytes() {
        let owner = Uuid::from_u128(1);
        let mut order = crate::domain::machine::tests::order_owned_by(owner);
        let placed_from = SnapshotDigest::of(b"checkout-1 snapshot");
        assert!(order.is_replayed_by(owner, &placed_from));
        // The same key, other bytes: another checkout (a re-signed retry
        // included), refused by the caller as ALREADY_EXISTS.
        assert!(!order.is_replayed_by(owner, &SnapshotDigest::of(b"re-priced")));
        assert!(!order.is_replayed_by(Uuid::from_u128(2), &placed_from));
        // Stored before digests were: its owner's retries still find it.
        order.snapshot_digest = None;
        assert!(order.is_replayed_by(owner, &SnapshotDigest::of(b"re-priced")));
        assert!(!order.is_replayed_by(Uuid::from_u128(2), &placed_from));
    }
}
