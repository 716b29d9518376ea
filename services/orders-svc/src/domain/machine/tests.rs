//! Every (status, input) pair against the table in the module docs, then
//! the properties the table exists for: any arrival order of the happy path
//! ends the same, every input is idempotent, late inputs never revive an
//! ended order.

use std::collections::HashSet;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use ecommerce_checkout::{CheckoutKey, PaymentMethodToken, SnapshotDigest};
use ecommerce_kernel::{Currency, Money};
use uuid::Uuid;

use super::*;
use crate::domain::access::{Actor, CancelReason};
use crate::domain::events::OrderEvent;
use crate::domain::model::{Order, OrderId, OrderLine};
use crate::domain::status::{ReservationFailure, ShortLine};
use OrderStatus::{Canceled, Confirmed, Delivered, Paid, Pending, Rejected, Reserved, Shipped};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn owner() -> Uuid {
    Uuid::from_u128(0x0190_e0c6_8a8f_7b3e_9b5e_0000_0000_000b)
}

/// A PENDING order of two lines placed by `owner`, as [`Order::place`]
/// builds it from a verified checkout (built here directly: a
/// `VerifiedCheckout` comes only out of verifying signed proto bytes, which
/// `crate::convert`'s tests do).
pub(crate) fn order_owned_by(owner: Uuid) -> Order {
    let eur = |amount_minor| Money::new(amount_minor, Currency::parse("EUR").unwrap()).unwrap();
    let line = |sku: &str, quantity: u32, unit_price: i64| OrderLine {
        sku: sku.to_owned(),
        variant_id: Uuid::from_u128(1),
        product_id: Uuid::from_u128(2),
        title: "Trail shoe".to_owned(),
        quantity,
        unit_price: eur(unit_price),
        line_total: eur(unit_price * i64::from(quantity)),
    };
    Order {
        id: OrderId::from_uuid(Uuid::from_u128(9)),
        user_id: owner,
        checkout_key: CheckoutKey::parse("checkout-1").unwrap(),
        snapshot_digest: Some(SnapshotDigest::of(b"checkout-1 snapshot")),
        cart_id: Uuid::from_u128(3),
        cart_version: 4,
        lines: vec![line("SHOE-42", 2, 4_950), line("SOCK-1", 1, 1_000)],
        subtotal: eur(10_900),
        shipping_option_id: Uuid::from_u128(5),
        shipping_price: eur(500),
        total: eur(11_400),
        currency: Currency::parse("EUR").unwrap(),
        payment_method_token: PaymentMethodToken::parse("pm_card_visa").unwrap(),
        correlation_id: "correlation-1".to_owned(),
        state: OrderState::Pending,
        history: vec![StatusChange {
            status: Pending,
            reason: String::new(),
            changed_at: now(),
        }],
        created_at: now(),
        updated_at: now(),
    }
}

fn rejection() -> Rejection {
    Rejection {
        failure: ReservationFailure::InsufficientStock,
        short_lines: vec![ShortLine {
            sku: "SHOE-42".to_owned(),
            requested: 2,
            available: 1,
        }],
    }
}

fn customer_cancel() -> CancelRequest {
    CancelRequest::for_tests(
        Actor::Customer { user_id: owner() },
        owner(),
        "changed my mind",
    )
}

/// The state used for each status; CANCELED is a customer's cancel.
fn state_of(status: OrderStatus) -> OrderState {
    match status {
        Rejected => OrderState::Rejected(rejection()),
        Canceled => OrderState::Canceled(Cancellation {
            cause: CancelCause::Customer,
            reason: "changed my mind".to_owned(),
        }),
        happy => OrderState::on_happy_path(happy).unwrap(),
    }
}

/// The inputs, by a short name for the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum In {
    Reserved,
    ReservationFailed,
    Authorized,
    PaymentFailed,
    Committed,
    Expired,
    Released,
    Shipped,
    Delivered,
    Cancel,
}

const INPUTS: [In; 10] = [
    In::Reserved,
    In::ReservationFailed,
    In::Authorized,
    In::PaymentFailed,
    In::Committed,
    In::Expired,
    In::Released,
    In::Shipped,
    In::Delivered,
    In::Cancel,
];

fn input(name: In) -> OrderInput {
    match name {
        In::Reserved => OrderInput::StockReserved,
        In::ReservationFailed => OrderInput::StockReservationFailed(rejection()),
        In::Authorized => OrderInput::PaymentAuthorized,
        In::PaymentFailed => OrderInput::PaymentFailed {
            reason: "card_declined".to_owned(),
        },
        In::Committed => OrderInput::StockCommitted,
        In::Expired => OrderInput::StockReservationExpired,
        In::Released => OrderInput::StockReservationReleased {
            reason: "customer called".to_owned(),
        },
        In::Shipped => OrderInput::ShipmentShipped {
            carrier: "DHL".to_owned(),
            tracking_number: "JJD0001".to_owned(),
        },
        In::Delivered => OrderInput::ShipmentDelivered,
        In::Cancel => OrderInput::Cancel(customer_cancel()),
    }
}

/// What the input is called in history reasons and errors. The events
/// adapter passes the consumed event's type (tests/saga.rs checks that
/// text); to the machine it is an opaque label.
fn source(name: In) -> &'static str {
    match name {
        In::Reserved => "<reserved>",
        In::ReservationFailed => "<reservation failed>",
        In::Authorized => "<authorized>",
        In::PaymentFailed => "<payment failed>",
        In::Committed => "<committed>",
        In::Expired => "<expired>",
        In::Released => "<released>",
        In::Shipped => "<shipped>",
        In::Delivered => "<delivered>",
        In::Cancel => "CancelOrder",
    }
}

const CONFIRMED: &str = "confirmed";
const REJECTED: &str = "rejected";
const CANCELED: &str = "canceled";

/// A short name of what a transition announces, for the table.
fn effect_name(effect: &OrderEffect) -> &'static str {
    match effect {
        OrderEffect::Confirmed => CONFIRMED,
        OrderEffect::Rejected(_) => REJECTED,
        OrderEffect::Canceled(_) => CANCELED,
    }
}

#[derive(Debug)]
enum Expect {
    /// Applied: the new status, the statuses entered (in order) and the
    /// effects announced.
    To(OrderStatus, &'static [OrderStatus], &'static [&'static str]),
    There,
    Past,
    Closed,
    Contradiction,
    NotCancelable,
}

use Expect::{Closed, Contradiction, NotCancelable, Past, There, To};

/// The module docs' table, row by row (input), column by column (status).
fn table() -> Vec<(OrderStatus, In, Expect)> {
    vec![
        // inventory.stock.reserved.v1
        (Pending, In::Reserved, To(Reserved, &[Reserved], &[])),
        (Reserved, In::Reserved, There),
        (Paid, In::Reserved, Past),
        (Confirmed, In::Reserved, Past),
        (Shipped, In::Reserved, Past),
        (Delivered, In::Reserved, Past),
        (Rejected, In::Reserved, Contradiction),
        (Canceled, In::Reserved, Closed),
        // inventory.stock.reservation_failed.v1
        (
            Pending,
            In::ReservationFailed,
            To(Rejected, &[Rejected], &[REJECTED]),
        ),
        (Reserved, In::ReservationFailed, Contradiction),
        (Paid, In::ReservationFailed, Contradiction),
        (Confirmed, In::ReservationFailed, Contradiction),
        (Shipped, In::ReservationFailed, Contradiction),
        (Delivered, In::ReservationFailed, Contradiction),
        (Rejected, In::ReservationFailed, There),
        (Canceled, In::ReservationFailed, Closed),
        // payments.payment_authorized.v1
        (Pending, In::Authorized, To(Paid, &[Reserved, Paid], &[])),
        (Reserved, In::Authorized, To(Paid, &[Paid], &[])),
        (Paid, In::Authorized, There),
        (Confirmed, In::Authorized, Past),
        (Shipped, In::Authorized, Past),
        (Delivered, In::Authorized, Past),
        (Rejected, In::Authorized, Contradiction),
        (Canceled, In::Authorized, Closed),
        // payments.payment_failed.v1
        (
            Pending,
            In::PaymentFailed,
            To(Canceled, &[Reserved, Canceled], &[CANCELED]),
        ),
        (
            Reserved,
            In::PaymentFailed,
            To(Canceled, &[Canceled], &[CANCELED]),
        ),
        (Paid, In::PaymentFailed, Contradiction),
        (Confirmed, In::PaymentFailed, Contradiction),
        (Shipped, In::PaymentFailed, Contradiction),
        (Delivered, In::PaymentFailed, Contradiction),
        (Rejected, In::PaymentFailed, Contradiction),
        (Canceled, In::PaymentFailed, Closed),
        // inventory.stock.committed.v1
        (
            Pending,
            In::Committed,
            To(Confirmed, &[Reserved, Paid, Confirmed], &[CONFIRMED]),
        ),
        (
            Reserved,
            In::Committed,
            To(Confirmed, &[Paid, Confirmed], &[CONFIRMED]),
        ),
        (
            Paid,
            In::Committed,
            To(Confirmed, &[Confirmed], &[CONFIRMED]),
        ),
        (Confirmed, In::Committed, There),
        (Shipped, In::Committed, Past),
        (Delivered, In::Committed, Past),
        (Rejected, In::Committed, Contradiction),
        (Canceled, In::Committed, Closed),
        // inventory.stock.reservation_expired.v1
        (
            Pending,
            In::Expired,
            To(Canceled, &[Reserved, Canceled], &[CANCELED]),
        ),
        (
            Reserved,
            In::Expired,
            To(Canceled, &[Canceled], &[CANCELED]),
        ),
        (Paid, In::Expired, To(Canceled, &[Canceled], &[CANCELED])),
        (Confirmed, In::Expired, Contradiction),
        (Shipped, In::Expired, Contradiction),
        (Delivered, In::Expired, Contradiction),
        (Rejected, In::Expired, Contradiction),
        (Canceled, In::Expired, Closed),
        // inventory.stock.reservation_released.v1
        (
            Pending,
            In::Released,
            To(Canceled, &[Reserved, Canceled], &[CANCELED]),
        ),
        (
            Reserved,
            In::Released,
            To(Canceled, &[Canceled], &[CANCELED]),
        ),
        (Paid, In::Released, To(Canceled, &[Canceled], &[CANCELED])),
        (Confirmed, In::Released, Contradiction),
        (Shipped, In::Released, Contradiction),
        (Delivered, In::Released, Contradiction),
        (Rejected, In::Released, Contradiction),
        (Canceled, In::Released, Closed),
        // fulfillment.shipment.shipped.v1
        (
            Pending,
            In::Shipped,
            To(Shipped, &[Reserved, Paid, Confirmed, Shipped], &[CONFIRMED]),
        ),
        (
            Reserved,
            In::Shipped,
            To(Shipped, &[Paid, Confirmed, Shipped], &[CONFIRMED]),
        ),
        (
            Paid,
            In::Shipped,
            To(Shipped, &[Confirmed, Shipped], &[CONFIRMED]),
        ),
        (Confirmed, In::Shipped, To(Shipped, &[Shipped], &[])),
        (Shipped, In::Shipped, There),
        (Delivered, In::Shipped, Past),
        (Rejected, In::Shipped, Contradiction),
        (Canceled, In::Shipped, Closed),
        // fulfillment.shipment.delivered.v1
        (
            Pending,
            In::Delivered,
            To(
                Delivered,
                &[Reserved, Paid, Confirmed, Shipped, Delivered],
                &[CONFIRMED],
            ),
        ),
        (
            Reserved,
            In::Delivered,
            To(
                Delivered,
                &[Paid, Confirmed, Shipped, Delivered],
                &[CONFIRMED],
            ),
        ),
        (
            Paid,
            In::Delivered,
            To(Delivered, &[Confirmed, Shipped, Delivered], &[CONFIRMED]),
        ),
        (
            Confirmed,
            In::Delivered,
            To(Delivered, &[Shipped, Delivered], &[]),
        ),
        (Shipped, In::Delivered, To(Delivered, &[Delivered], &[])),
        (Delivered, In::Delivered, There),
        (Rejected, In::Delivered, Contradiction),
        (Canceled, In::Delivered, Closed),
        // CancelOrder
        (Pending, In::Cancel, To(Canceled, &[Canceled], &[CANCELED])),
        (Reserved, In::Cancel, To(Canceled, &[Canceled], &[CANCELED])),
        (Paid, In::Cancel, To(Canceled, &[Canceled], &[CANCELED])),
        (
            Confirmed,
            In::Cancel,
            To(Canceled, &[Canceled], &[CANCELED]),
        ),
        (Shipped, In::Cancel, NotCancelable),
        (Delivered, In::Cancel, NotCancelable),
        (Rejected, In::Cancel, NotCancelable),
        (Canceled, In::Cancel, There),
    ]
}

#[test]
fn the_table_covers_every_status_and_input_once() {
    let table = table();
    let pairs: HashSet<(OrderStatus, In)> = table
        .iter()
        .map(|(status, input, _)| (*status, *input))
        .collect();
    assert_eq!(table.len(), OrderStatus::ALL.len() * INPUTS.len());
    assert_eq!(pairs.len(), table.len());
}

#[test]
fn every_status_and_input_pair_does_what_the_table_says() {
    for (status, name, expected) in table() {
        let state = state_of(status);
        let outcome = apply(&state, input(name), source(name), now());
        let context = format!("{status} + {name:?}: {outcome:?}");
        match (expected, outcome) {
            (To(new_status, entered, emits), Ok(Outcome::Applied(transition))) => {
                assert_eq!(transition.new_status(), new_status, "{context}");
                let statuses: Vec<_> = transition.history.iter().map(|e| e.status).collect();
                assert_eq!(statuses, entered, "{context}");
                let events: Vec<_> = transition.emit.iter().map(effect_name).collect();
                assert_eq!(events, emits, "{context}");
                for (index, entry) in transition.history.iter().enumerate() {
                    assert_eq!(entry.changed_at, now(), "{context}");
                    let inferred = entry.reason.starts_with("inferred from ");
                    assert_eq!(
                        inferred,
                        index + 1 < transition.history.len(),
                        "only the statuses skipped on the way are inferred: {context}"
                    );
                }
                check_terminal_details(&transition, &context);
            }
            (There, Ok(Outcome::Ignored { reason })) => {
                assert_eq!(reason, IgnoreReason::AlreadyThere { status }, "{context}");
            }
            (Past, Ok(Outcome::Ignored { reason })) => {
                assert!(
                    matches!(reason, IgnoreReason::AlreadyPast { status: at, leads_to }
                        if at == status && leads_to.progress() < status.progress()),
                    "{context}"
                );
            }
            (Closed, Ok(Outcome::Ignored { reason })) => {
                assert_eq!(reason, IgnoreReason::Closed { status }, "{context}");
            }
            (Contradiction, Err(error)) => {
                assert_eq!(
                    error,
                    TransitionError::Contradiction {
                        status,
                        input: source(name),
                    },
                    "{context}"
                );
            }
            (NotCancelable, Err(error)) => {
                assert_eq!(
                    error,
                    TransitionError::NotCancelable { status },
                    "{context}"
                );
            }
            (expected, _) => panic!("expected {expected:?}; {context}"),
        }
    }
}

/// A REJECTED or CANCELED state carries its reason, the same one the event
/// carries and the last history entry shows.
fn check_terminal_details(transition: &Transition, context: &str) {
    let last = transition.history.last().unwrap();
    match &transition.new_state {
        OrderState::Rejected(rejection) => {
            assert_eq!(
                transition.emit,
                [OrderEffect::Rejected(rejection.clone())],
                "{context}"
            );
            assert_eq!(last.reason, rejection.summary(), "{context}");
        }
        OrderState::Canceled(cancellation) => {
            assert_eq!(
                transition.emit,
                [OrderEffect::Canceled(cancellation.clone())],
                "{context}"
            );
            assert_eq!(last.reason, cancellation.reason, "{context}");
        }
        OrderState::Pending
        | OrderState::Reserved
        | OrderState::Paid
        | OrderState::Confirmed
        | OrderState::Shipped
        | OrderState::Delivered => {}
    }
}

#[test]
fn milestones_sit_where_the_happy_path_puts_them() {
    for milestone in [
        Milestone::Reserved,
        Milestone::Paid,
        Milestone::Confirmed,
        Milestone::Shipped,
        Milestone::Delivered,
    ] {
        assert_eq!(
            OrderStatus::HAPPY_PATH[milestone.progress()],
            milestone.status()
        );
    }
}

fn permutations(items: &[In]) -> Vec<Vec<In>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (index, first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(index);
        for mut tail in permutations(&rest) {
            tail.insert(0, *first);
            all.push(tail);
        }
    }
    all
}

/// Runs `inputs` against a fresh order, storing every applied transition;
/// returns the order and every event emitted.
fn run(inputs: &[In]) -> (Order, Vec<OrderEvent>) {
    let mut order = order_owned_by(owner());
    let mut emitted = Vec::new();
    for (step, name) in inputs.iter().enumerate() {
        let at = now() + Duration::seconds(i64::try_from(step).unwrap() + 1);
        match order.apply(input(*name), source(*name), at) {
            Ok(Outcome::Applied(transition)) => emitted.extend(order.record(transition)),
            Ok(Outcome::Ignored { .. }) => {}
            Err(error) => panic!("{inputs:?}: {name:?} failed: {error}"),
        }
    }
    (order, emitted)
}

#[test]
fn any_arrival_order_of_the_happy_path_ends_delivered_with_one_history() {
    let happy = [
        In::Reserved,
        In::Authorized,
        In::Committed,
        In::Shipped,
        In::Delivered,
    ];
    let orders = permutations(&happy);
    assert_eq!(orders.len(), 120);
    for inputs in orders {
        let (order, emitted) = run(&inputs);
        assert_eq!(order.status(), Delivered, "{inputs:?}");
        let statuses: Vec<_> = order.history.iter().map(|entry| entry.status).collect();
        assert_eq!(statuses, OrderStatus::HAPPY_PATH, "{inputs:?}");
        assert_eq!(
            emitted,
            [OrderEvent::of(&order, OrderEffect::Confirmed)],
            "{inputs:?}"
        );
        assert_eq!(order.updated_at, order.history.last().unwrap().changed_at);
    }
}

#[test]
fn every_input_is_idempotent() {
    for status in OrderStatus::ALL {
        for name in INPUTS {
            let state = state_of(status);
            let Ok(Outcome::Applied(first)) = apply(&state, input(name), source(name), now())
            else {
                continue;
            };
            let again = apply(&first.new_state, input(name), source(name), now());
            assert_eq!(
                again,
                Ok(Outcome::Ignored {
                    reason: IgnoreReason::AlreadyThere {
                        status: first.new_status()
                    }
                }),
                "{status} + {name:?} twice"
            );
        }
    }
}

#[test]
fn a_declined_payment_cancels_with_the_decline_and_emits_canceled() {
    let (order, emitted) = run(&[In::Reserved, In::PaymentFailed]);
    let cancellation = Cancellation {
        cause: CancelCause::PaymentFailed,
        reason: "payment failed: card_declined".to_owned(),
    };
    assert_eq!(order.state, OrderState::Canceled(cancellation.clone()));
    assert_eq!(
        emitted,
        [OrderEvent::of(&order, OrderEffect::Canceled(cancellation))]
    );
    // The release inventory sends because of it changes nothing more.
    let release = order.apply(
        OrderInput::StockReservationReleased {
            reason: "payment_failed".to_owned(),
        },
        source(In::Released),
        now(),
    );
    assert_eq!(
        release,
        Ok(Outcome::Ignored {
            reason: IgnoreReason::Closed { status: Canceled }
        })
    );
}

#[test]
fn out_of_stock_rejects_with_the_short_lines() {
    let (order, emitted) = run(&[In::ReservationFailed]);
    assert_eq!(order.state, OrderState::Rejected(rejection()));
    assert_eq!(
        emitted,
        [OrderEvent::of(&order, OrderEffect::Rejected(rejection()))]
    );
    assert_eq!(
        order.history.last().unwrap().reason,
        "insufficient_stock: SHOE-42 (2 requested, 1 available)"
    );
}

#[test]
fn a_late_authorization_after_expiry_never_confirms() {
    // Expiry first: the authorization and any commit are ignored.
    let (order, emitted) = run(&[In::Reserved, In::Expired, In::Authorized, In::Committed]);
    assert_eq!(order.status(), Canceled);
    assert_eq!(
        order.state.cancellation().map(|c| c.cause),
        Some(CancelCause::ReservationExpired)
    );
    assert_eq!(emitted.len(), 1);
    assert!(matches!(emitted[0], OrderEvent::Canceled { .. }));

    // Authorization first: the expiry still cancels, and order_canceled
    // is what makes payments void the authorization.
    let (order, emitted) = run(&[In::Reserved, In::Authorized, In::Expired]);
    assert_eq!(order.status(), Canceled);
    assert_eq!(emitted.len(), 1);
    assert!(matches!(emitted[0], OrderEvent::Canceled { .. }));
    let statuses: Vec<_> = order.history.iter().map(|entry| entry.status).collect();
    assert_eq!(statuses, [Pending, Reserved, Paid, Canceled]);
}

#[test]
fn a_cancel_before_the_saga_catches_up_sticks() {
    let (order, emitted) = run(&[
        In::Cancel,
        In::Reserved,
        In::Authorized,
        In::Committed,
        In::Shipped,
        In::Cancel,
    ]);
    assert_eq!(order.status(), Canceled);
    assert_eq!(emitted.len(), 1);
    assert!(matches!(emitted[0], OrderEvent::Canceled { .. }));
    let statuses: Vec<_> = order.history.iter().map(|entry| entry.status).collect();
    assert_eq!(statuses, [Pending, Canceled]);
}

#[test]
fn a_failure_ending_reached_twice_by_different_causes_is_closed_not_duplicate() {
    let expired = OrderState::Canceled(Cancellation::reservation_expired());
    assert_eq!(
        apply(&expired, input(In::Expired), source(In::Expired), now()),
        Ok(Outcome::Ignored {
            reason: IgnoreReason::AlreadyThere { status: Canceled }
        })
    );
    assert_eq!(
        apply(&expired, input(In::Released), source(In::Released), now()),
        Ok(Outcome::Ignored {
            reason: IgnoreReason::Closed { status: Canceled }
        })
    );
    // A person's repeated CancelOrder returns the order unchanged, whatever
    // ended it.
    assert_eq!(
        apply(&expired, input(In::Cancel), source(In::Cancel), now()),
        Ok(Outcome::Ignored {
            reason: IgnoreReason::AlreadyThere { status: Canceled }
        })
    );
}

#[test]
fn history_reasons_say_where_a_status_came_from() {
    let (order, _) = run(&[In::Shipped]);
    let reasons: Vec<_> = order
        .history
        .iter()
        .map(|entry| (entry.status, entry.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (Pending, ""),
            (Reserved, "inferred from <shipped>"),
            (Paid, "inferred from <shipped>"),
            (Confirmed, "inferred from <shipped>"),
            (Shipped, "shipped with DHL, tracking number JJD0001"),
        ]
    );
}

#[test]
fn an_admin_cancel_says_so() {
    let order = order_owned_by(owner());
    let request = order
        .authorize_cancel(
            Actor::Admin {
                user_id: Uuid::from_u128(77),
            },
            CancelReason::parse("fraud suspected").unwrap(),
        )
        .unwrap();
    let Ok(Outcome::Applied(transition)) =
        order.apply(OrderInput::Cancel(request), source(In::Cancel), now())
    else {
        panic!("a pending order can be canceled");
    };
    assert_eq!(
        transition.emit,
        [OrderEffect::Canceled(Cancellation {
            cause: CancelCause::Admin,
            reason: "fraud suspected".to_owned(),
        })]
    );
}

#[test]
fn errors_read_well() {
    assert_eq!(
        TransitionError::NotCancelable { status: Shipped }.to_string(),
        "the order is SHIPPED; only an order that has not shipped can be canceled"
    );
    assert_eq!(
        TransitionError::Contradiction {
            status: Confirmed,
            input: "<expired>",
        }
        .to_string(),
        "<expired> contradicts the order's history: it is CONFIRMED"
    );
    assert_eq!(
        IgnoreReason::AlreadyPast {
            status: Shipped,
            leads_to: Paid
        }
        .to_string(),
        "the order is already SHIPPED, past PAID"
    );
}

#[test]
fn an_order_s_debug_never_shows_the_payment_method_token() {
    let debug = format!("{:?}", order_owned_by(owner()));
    assert!(!debug.contains("pm_card_visa"), "{debug}");
    assert!(debug.contains("PaymentMethodToken(<redacted>)"), "{debug}");
}
