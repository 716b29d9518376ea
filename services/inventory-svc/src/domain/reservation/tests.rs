//! The reservation rules' tests: each transition of the lifecycle table in
//! [`super`], its idempotence, and the refusals of inconsistent state.
#![allow(clippy::unwrap_used)]

use chrono::Duration;
use ecommerce_kernel::ErrorCode;

use super::*;
use crate::domain::stock::tests::{sku, stock_of, t0};
use crate::domain::stock::{BlockOutcome, block_stock};

fn quantity(units: i32) -> Quantity {
    Quantity::new(units).unwrap()
}

fn lines(pairs: &[(&str, i32)]) -> ReservationLines {
    ReservationLines::aggregate(
        pairs
            .iter()
            .map(|(raw, units)| (sku(raw), quantity(*units))),
    )
    .unwrap()
}

fn request(pairs: &[(&str, i32)]) -> ReservationRequest {
    ReservationRequest {
        reservation_id: ReservationId::generate(),
        order_id: OrderId::generate(),
        lines: lines(pairs),
        ttl: ReservationTtl::DEFAULT,
    }
}

fn reserved(levels: &[StockLevel], request: &ReservationRequest) -> Transition<StockReserved> {
    match reserve(PriorAttempt::None, levels, request, t0()).unwrap() {
        ReserveOutcome::Reserved(transition) => transition,
        other => panic!("expected a reservation, got {other:?}"),
    }
}

fn counts(levels: &[StockLevel]) -> Vec<(&str, i32, i32)> {
    levels
        .iter()
        .map(|level| (level.sku().as_str(), level.on_hand(), level.reserved()))
        .collect()
}

/// A held reservation of A×2 and B×1 over A(5) and B(3), as stored.
fn held() -> (Reservation, Vec<StockLevel>) {
    let transition = reserved(
        &[stock_of("A", 5, 0), stock_of("B", 3, 0)],
        &request(&[("A", 2), ("B", 1)]),
    );
    (transition.reservation, transition.levels)
}

fn before_expiry() -> DateTime<Utc> {
    t0() + Duration::seconds(899)
}

fn at_expiry() -> DateTime<Utc> {
    t0() + Duration::seconds(900)
}

#[test]
fn statuses_round_trip_and_only_held_is_open() {
    for status in ReservationStatus::ALL {
        assert_eq!(
            ReservationStatus::from_stored(status.as_str()),
            Some(status)
        );
        assert_eq!(status.is_terminal(), status != ReservationStatus::Held);
    }
    assert_eq!(ReservationStatus::Held.to_string(), "PENDING");
    for reason in FailureReason::ALL {
        assert_eq!(FailureReason::from_stored(reason.as_str()), Some(reason));
    }
}

#[test]
fn duplicate_skus_are_summed_and_lines_sorted() {
    let aggregated = lines(&[("B", 1), ("A", 2), ("B", 3), ("a", 1)]);
    let pairs: Vec<(&str, i32)> = aggregated
        .as_slice()
        .iter()
        .map(|line| (line.sku.as_str(), line.quantity.get()))
        .collect();
    assert_eq!(pairs, [("A", 2), ("B", 4), ("a", 1)]);
    let order: Vec<&str> = aggregated.lock_order().map(Sku::as_str).collect();
    assert_eq!(order, ["A", "B", "a"]);
}

#[test]
fn line_sets_are_bounded() {
    assert!(ReservationLines::aggregate(Vec::new()).is_err());
    let overflow =
        ReservationLines::aggregate([(sku("A"), quantity(i32::MAX)), (sku("A"), quantity(1))]);
    assert!(overflow.unwrap_err().0.contains("SKU A"));
    let many =
        (0..=ReservationLines::MAX_SKUS).map(|index| (sku(&format!("S{index}")), quantity(1)));
    assert!(ReservationLines::aggregate(many).is_err());
    let enough =
        (0..ReservationLines::MAX_SKUS).map(|index| (sku(&format!("S{index}")), quantity(1)));
    assert!(ReservationLines::aggregate(enough).is_ok());
    // The same SKU many times is one line.
    let repeated = (0..1000).map(|_| (sku("A"), quantity(1)));
    assert_eq!(
        ReservationLines::aggregate(repeated).unwrap().as_slice()[0].quantity,
        quantity(1000)
    );
}

#[test]
fn stored_lines_are_sorted_and_unique() {
    let stored = ReservationLines::from_stored(vec![
        ReservationLine {
            sku: sku("B"),
            quantity: quantity(1),
        },
        ReservationLine {
            sku: sku("A"),
            quantity: quantity(2),
        },
    ])
    .unwrap();
    assert_eq!(stored, lines(&[("A", 2), ("B", 1)]));
    assert!(ReservationLines::from_stored(Vec::new()).is_err());
    let twice = ReservationLines::from_stored(vec![
        ReservationLine {
            sku: sku("A"),
            quantity: quantity(1),
        },
        ReservationLine {
            sku: sku("A"),
            quantity: quantity(2),
        },
    ]);
    assert_eq!(twice.unwrap_err().code(), ErrorCode::Internal);
}

#[test]
fn stored_reservations_expire_after_creation() {
    let (reservation, _) = held();
    let restored = Reservation::from_stored(
        reservation.id(),
        reservation.order_id(),
        reservation.lines().clone(),
        reservation.status(),
        reservation.expires_at(),
        reservation.created_at(),
        reservation.updated_at(),
    )
    .unwrap();
    assert_eq!(restored, reservation);
    assert!(
        Reservation::from_stored(
            reservation.id(),
            reservation.order_id(),
            reservation.lines().clone(),
            reservation.status(),
            reservation.created_at(),
            reservation.created_at(),
            reservation.updated_at(),
        )
        .is_err()
    );
}

#[test]
fn reserving_holds_every_line_with_a_ttl() {
    let levels = [
        stock_of("A", 5, 1),
        stock_of("B", 3, 0),
        stock_of("C", 9, 0),
    ];
    let request = request(&[("B", 1), ("A", 2), ("A", 2)]);
    let transition = reserved(&levels, &request);
    assert_eq!(counts(&transition.levels), [("A", 5, 5), ("B", 3, 1)]);
    assert!(transition.levels.iter().all(|level| level.version() == 2));
    let reservation = &transition.reservation;
    assert_eq!(reservation.status(), ReservationStatus::Held);
    assert_eq!(reservation.id(), request.reservation_id);
    assert_eq!(reservation.order_id(), request.order_id);
    assert_eq!(reservation.expires_at(), t0() + Duration::seconds(900));
    assert_eq!(reservation.created_at(), t0());
    assert_eq!(
        transition.event,
        StockReserved {
            reservation_id: request.reservation_id,
            order_id: request.order_id,
            lines: lines(&[("A", 4), ("B", 1)]).to_vec(),
            expires_at: t0() + Duration::seconds(900),
        }
    );
}

#[test]
fn the_whole_available_stock_can_be_reserved() {
    let transition = reserved(&[stock_of("A", 3, 1)], &request(&[("A", 2)]));
    assert_eq!(counts(&transition.levels), [("A", 3, 3)]);
    assert_eq!(transition.levels[0].available(), 0);
}

#[test]
fn a_short_line_reserves_nothing_and_names_every_short_line() {
    let BlockOutcome::Blocked(blocked) =
        block_stock(Some(&stock_of("C", 8, 0)), sku("C"), t0()).unwrap()
    else {
        panic!("blocks");
    };
    let levels = [stock_of("A", 5, 4), stock_of("B", 3, 0), blocked];
    let request = request(&[("D", 1), ("A", 2), ("B", 3), ("C", 1)]);
    let ReserveOutcome::Failed { failure, event } =
        reserve(PriorAttempt::None, &levels, &request, t0()).unwrap()
    else {
        panic!("must fail");
    };
    // A is first in SKU order, so its reason is the event's.
    assert_eq!(failure.reason, FailureReason::InsufficientStock);
    assert_eq!(
        failure.short_lines,
        [
            ShortLine {
                sku: sku("A"),
                requested: 2,
                available: 1
            },
            ShortLine {
                sku: sku("C"),
                requested: 1,
                available: 0
            },
            ShortLine {
                sku: sku("D"),
                requested: 1,
                available: 0
            },
        ]
    );
    assert_eq!(failure.order_id, request.order_id);
    assert_eq!(failure.failed_at, t0());
    assert_eq!(event.reason, failure.reason);
    assert_eq!(event.short_lines, failure.short_lines);
    assert_eq!(event.order_id, request.order_id);
}

#[test]
fn the_reason_is_the_first_short_sku_s() {
    let cases = [
        (vec![], FailureReason::UnknownSku),
        (vec![stock_of("A", 0, 0)], FailureReason::InsufficientStock),
    ];
    for (levels, expected) in cases {
        let ReserveOutcome::Failed { failure, .. } =
            reserve(PriorAttempt::None, &levels, &request(&[("A", 1)]), t0()).unwrap()
        else {
            panic!("must fail");
        };
        assert_eq!(failure.reason, expected);
    }
    let BlockOutcome::Blocked(blocked) = block_stock(None, sku("A"), t0()).unwrap() else {
        panic!("blocks");
    };
    let ReserveOutcome::Failed { failure, .. } =
        reserve(PriorAttempt::None, &[blocked], &request(&[("A", 1)]), t0()).unwrap()
    else {
        panic!("must fail");
    };
    assert_eq!(failure.reason, FailureReason::SkuBlocked);
}

#[test]
fn a_blocked_sku_with_stock_is_still_refused() {
    let BlockOutcome::Blocked(blocked) =
        block_stock(Some(&stock_of("A", 10, 0)), sku("A"), t0()).unwrap()
    else {
        panic!("blocks");
    };
    let outcome = reserve(PriorAttempt::None, &[blocked], &request(&[("A", 1)]), t0()).unwrap();
    let ReserveOutcome::Failed { failure, .. } = outcome else {
        panic!("must fail");
    };
    assert_eq!(failure.short_lines[0].available, 0);
}

#[test]
fn reserving_is_idempotent_per_order() {
    let (reservation, levels) = held();
    let again = ReservationRequest {
        order_id: reservation.order_id(),
        ..request(&[("A", 1)])
    };
    assert_eq!(
        reserve(PriorAttempt::Reserved(&reservation), &levels, &again, t0()).unwrap(),
        ReserveOutcome::Ignored(IgnoredBecause::AlreadyReserved)
    );
    let failure = ReservationFailure {
        order_id: again.order_id,
        reason: FailureReason::UnknownSku,
        short_lines: Vec::new(),
        failed_at: t0(),
    };
    assert_eq!(
        reserve(PriorAttempt::Failed(&failure), &levels, &again, t0()).unwrap(),
        ReserveOutcome::Ignored(IgnoredBecause::AlreadyFailed)
    );
    let other_order = request(&[("A", 1)]);
    assert_eq!(
        reserve(
            PriorAttempt::Reserved(&reservation),
            &levels,
            &other_order,
            t0()
        )
        .unwrap_err()
        .code(),
        ErrorCode::Internal
    );
    assert!(reserve(PriorAttempt::Failed(&failure), &levels, &other_order, t0()).is_err());
}

#[test]
fn levels_given_twice_are_a_bug() {
    let levels = [stock_of("A", 5, 0), stock_of("A", 5, 0)];
    assert_eq!(
        reserve(PriorAttempt::None, &levels, &request(&[("A", 1)]), t0())
            .unwrap_err()
            .code(),
        ErrorCode::Internal
    );
}

#[test]
fn reservations_lock_in_sku_order() {
    let request = request(&[("b", 1), ("B", 1), ("A-2", 1), ("A-10", 1)]);
    let order: Vec<&str> = request.lock_order().map(Sku::as_str).collect();
    assert_eq!(order, ["A-10", "A-2", "B", "b"]);
    let levels = ["b", "B", "A-2", "A-10"].map(|raw| stock_of(raw, 1, 0));
    let transition = reserved(&levels, &request);
    let reservation_order: Vec<&str> = transition
        .reservation
        .lock_order()
        .map(Sku::as_str)
        .collect();
    assert_eq!(reservation_order, order);
    let level_order: Vec<&str> = transition
        .levels
        .iter()
        .map(|level| level.sku().as_str())
        .collect();
    assert_eq!(level_order, order);
}

#[test]
fn commit_deducts_on_hand_and_reserved_once() {
    let (reservation, levels) = held();
    let CommitOutcome::Committed(transition) =
        commit(&reservation, &levels, before_expiry()).unwrap()
    else {
        panic!("commits before the TTL");
    };
    assert_eq!(counts(&transition.levels), [("A", 3, 0), ("B", 2, 0)]);
    assert_eq!(
        transition.reservation.status(),
        ReservationStatus::Committed
    );
    assert_eq!(transition.reservation.updated_at(), before_expiry());
    assert_eq!(
        transition.event,
        StockCommitted {
            reservation_id: reservation.id(),
            order_id: reservation.order_id(),
            lines: reservation.lines().to_vec(),
        }
    );
    assert_eq!(
        commit(&transition.reservation, &transition.levels, before_expiry()).unwrap(),
        CommitOutcome::Ignored(IgnoredBecause::AlreadyCommitted)
    );
}

#[test]
fn a_late_authorization_expires_instead_of_committing() {
    let (reservation, levels) = held();
    let CommitOutcome::ExpiredInstead(transition) =
        commit(&reservation, &levels, at_expiry()).unwrap()
    else {
        panic!("must not commit at the TTL");
    };
    assert_eq!(counts(&transition.levels), [("A", 5, 0), ("B", 3, 0)]);
    assert_eq!(transition.reservation.status(), ReservationStatus::Expired);
    assert_eq!(transition.event.reservation_id, reservation.id());
    assert_eq!(transition.event.order_id, reservation.order_id());
    // Authorized again (a redelivery, or the worker's expiry came
    // first): still never committed, and nothing new to emit.
    assert_eq!(
        commit(&transition.reservation, &transition.levels, at_expiry()).unwrap(),
        CommitOutcome::TooLate {
            status: ReservationStatus::Expired
        }
    );
}

#[test]
fn release_returns_units_and_says_why() {
    let (reservation, levels) = held();
    for (reason, text) in [
        (ReleaseReason::PaymentFailed, "payment_failed"),
        (ReleaseReason::OrderCanceled, "order_canceled"),
        (
            ReleaseReason::Operator(Reason::parse("customer called").unwrap()),
            "customer called",
        ),
    ] {
        let ReleaseOutcome::Released(transition) =
            release(&reservation, &levels, &reason, before_expiry()).unwrap()
        else {
            panic!("releases before the TTL");
        };
        assert_eq!(counts(&transition.levels), [("A", 5, 0), ("B", 3, 0)]);
        assert_eq!(transition.reservation.status(), ReservationStatus::Released);
        assert_eq!(transition.event.reason, text);
        assert_eq!(transition.event.lines, reservation.lines().to_vec());
        assert_eq!(
            release(
                &transition.reservation,
                &transition.levels,
                &reason,
                before_expiry()
            )
            .unwrap(),
            ReleaseOutcome::Ignored(IgnoredBecause::AlreadyReleased)
        );
        assert_eq!(
            commit(&transition.reservation, &transition.levels, before_expiry()).unwrap(),
            CommitOutcome::TooLate {
                status: ReservationStatus::Released
            }
        );
    }
}

#[test]
fn expiry_waits_for_the_ttl_and_happens_once() {
    let (reservation, levels) = held();
    assert!(!reservation.is_due(before_expiry()));
    assert!(reservation.is_due(at_expiry()));
    assert_eq!(
        expire(&reservation, &levels, before_expiry()).unwrap(),
        ExpireOutcome::Ignored(IgnoredBecause::NotDue)
    );
    let ExpireOutcome::Expired(transition) = expire(&reservation, &levels, at_expiry()).unwrap()
    else {
        panic!("expires at the TTL");
    };
    assert_eq!(counts(&transition.levels), [("A", 5, 0), ("B", 3, 0)]);
    assert!(!transition.reservation.is_due(at_expiry()));
    assert_eq!(
        expire(&transition.reservation, &transition.levels, at_expiry()).unwrap(),
        ExpireOutcome::Ignored(IgnoredBecause::AlreadyExpired)
    );
}

/// Every (status, operation, TTL passed or not) with its outcome kind.
#[test]
fn every_status_and_operation() {
    #[derive(Debug, PartialEq)]
    enum Kind {
        Committed,
        Released,
        Expired,
        Restocked,
        Ignored(IgnoredBecause),
        TooLate,
        Refused,
    }
    use IgnoredBecause::*;
    use ReservationStatus::{Committed, Expired, Held, Released, Restocked};
    let (held_reservation, held_levels) = held();
    let stored_in = |status: ReservationStatus| -> (Reservation, Vec<StockLevel>) {
        // The levels are as they would be once the reservation reached
        // `status`.
        match status {
            Held => (held_reservation.clone(), held_levels.clone()),
            Committed => match commit(&held_reservation, &held_levels, t0()).unwrap() {
                CommitOutcome::Committed(t) => (t.reservation, t.levels),
                other => panic!("{other:?}"),
            },
            Released => match release(
                &held_reservation,
                &held_levels,
                &ReleaseReason::OrderCanceled,
                t0(),
            )
            .unwrap()
            {
                ReleaseOutcome::Released(t) => (t.reservation, t.levels),
                other => panic!("{other:?}"),
            },
            Expired => match expire(&held_reservation, &held_levels, at_expiry()).unwrap() {
                ExpireOutcome::Expired(t) => (t.reservation, t.levels),
                other => panic!("{other:?}"),
            },
            Restocked => {
                let CommitOutcome::Committed(committed) =
                    commit(&held_reservation, &held_levels, t0()).unwrap()
                else {
                    panic!("commits");
                };
                match cancel_order(&committed.reservation, &committed.levels, t0()).unwrap() {
                    CancelOutcome::Restocked(t) => (t.reservation, t.levels),
                    other => panic!("{other:?}"),
                }
            }
        }
    };
    let table = [
        // (status, TTL passed, commit, release, order canceled, expire)
        (
            Held,
            false,
            Kind::Committed,
            Kind::Released,
            Kind::Released,
            Kind::Ignored(NotDue),
        ),
        (
            Held,
            true,
            Kind::Expired,
            Kind::Expired,
            Kind::Expired,
            Kind::Expired,
        ),
        (
            Committed,
            false,
            Kind::Ignored(AlreadyCommitted),
            Kind::Refused,
            Kind::Restocked,
            Kind::Ignored(AlreadyCommitted),
        ),
        (
            Committed,
            true,
            Kind::Ignored(AlreadyCommitted),
            Kind::Refused,
            Kind::Restocked,
            Kind::Ignored(AlreadyCommitted),
        ),
        (
            Released,
            false,
            Kind::TooLate,
            Kind::Ignored(AlreadyReleased),
            Kind::Ignored(AlreadyReleased),
            Kind::Ignored(AlreadyReleased),
        ),
        (
            Released,
            true,
            Kind::TooLate,
            Kind::Ignored(AlreadyReleased),
            Kind::Ignored(AlreadyReleased),
            Kind::Ignored(AlreadyReleased),
        ),
        (
            Expired,
            false,
            Kind::TooLate,
            Kind::Ignored(AlreadyExpired),
            Kind::Ignored(AlreadyExpired),
            Kind::Ignored(AlreadyExpired),
        ),
        (
            Expired,
            true,
            Kind::TooLate,
            Kind::Ignored(AlreadyExpired),
            Kind::Ignored(AlreadyExpired),
            Kind::Ignored(AlreadyExpired),
        ),
        (
            Restocked,
            false,
            Kind::TooLate,
            Kind::Ignored(AlreadyRestocked),
            Kind::Ignored(AlreadyRestocked),
            Kind::Ignored(AlreadyRestocked),
        ),
        (
            Restocked,
            true,
            Kind::TooLate,
            Kind::Ignored(AlreadyRestocked),
            Kind::Ignored(AlreadyRestocked),
            Kind::Ignored(AlreadyRestocked),
        ),
    ];
    assert_eq!(table.len(), ReservationStatus::ALL.len() * 2);
    for (status, ttl_passed, on_commit, on_release, on_cancel, on_expire) in table {
        let (reservation, levels) = stored_in(status);
        let now = if ttl_passed {
            at_expiry() + Duration::days(1)
        } else {
            before_expiry()
        };
        let committed = match commit(&reservation, &levels, now).unwrap() {
            CommitOutcome::Committed(_) => Kind::Committed,
            CommitOutcome::ExpiredInstead(_) => Kind::Expired,
            CommitOutcome::Ignored(because) => Kind::Ignored(because),
            CommitOutcome::TooLate { status: seen } => {
                assert_eq!(seen, status);
                Kind::TooLate
            }
        };
        let released =
            match release(&reservation, &levels, &ReleaseReason::PaymentFailed, now).unwrap() {
                ReleaseOutcome::Released(_) => Kind::Released,
                ReleaseOutcome::ExpiredInstead(_) => Kind::Expired,
                ReleaseOutcome::Ignored(because) => Kind::Ignored(because),
                ReleaseOutcome::RefusedCommitted => Kind::Refused,
            };
        let canceled = match cancel_order(&reservation, &levels, now).unwrap() {
            CancelOutcome::Restocked(_) => Kind::Restocked,
            CancelOutcome::Release(ReleaseOutcome::Released(_)) => Kind::Released,
            CancelOutcome::Release(ReleaseOutcome::ExpiredInstead(_)) => Kind::Expired,
            CancelOutcome::Release(ReleaseOutcome::Ignored(because)) => Kind::Ignored(because),
            CancelOutcome::Release(ReleaseOutcome::RefusedCommitted) => Kind::Refused,
        };
        let expired = match expire(&reservation, &levels, now).unwrap() {
            ExpireOutcome::Expired(_) => Kind::Expired,
            ExpireOutcome::Ignored(because) => Kind::Ignored(because),
        };
        let context = format!("{status} ttl_passed={ttl_passed}");
        assert_eq!(committed, on_commit, "commit, {context}");
        assert_eq!(released, on_release, "release, {context}");
        assert_eq!(canceled, on_cancel, "order canceled, {context}");
        assert_eq!(expired, on_expire, "expire, {context}");
    }
}

#[test]
fn ending_needs_every_level_with_the_held_units() {
    let (reservation, levels) = held();
    let missing_b = &levels[..1];
    assert_eq!(
        commit(&reservation, missing_b, t0()).unwrap_err().code(),
        ErrorCode::Internal
    );
    let underreserved = [stock_of("A", 5, 1), stock_of("B", 3, 1)];
    for outcome in [
        commit(&reservation, &underreserved, t0()).map(|_| ()),
        release(
            &reservation,
            &underreserved,
            &ReleaseReason::OrderCanceled,
            t0(),
        )
        .map(|_| ()),
        expire(&reservation, &underreserved, at_expiry()).map(|_| ()),
    ] {
        assert_eq!(outcome.unwrap_err().code(), ErrorCode::Internal);
    }
    // Terminal reservations do not look at the levels at all.
    let ExpireOutcome::Expired(expired) = expire(&reservation, &levels, at_expiry()).unwrap()
    else {
        panic!("expires");
    };
    assert!(commit(&expired.reservation, &[], t0()).is_ok());
}

#[test]
fn blocked_stock_keeps_its_reservations() {
    let (reservation, levels) = held();
    let blocked: Vec<StockLevel> = levels
        .iter()
        .map(
            |level| match block_stock(Some(level), level.sku().clone(), t0()).unwrap() {
                BlockOutcome::Blocked(level) => level,
                BlockOutcome::Ignored => panic!("blocks"),
            },
        )
        .collect();
    let CommitOutcome::Committed(transition) = commit(&reservation, &blocked, t0()).unwrap() else {
        panic!("a held reservation of a discontinued SKU still commits");
    };
    assert_eq!(counts(&transition.levels), [("A", 3, 0), ("B", 2, 0)]);
    assert!(
        transition
            .levels
            .iter()
            .all(|level| level.status() == StockStatus::Blocked)
    );
    let ReleaseOutcome::Released(released) =
        release(&reservation, &blocked, &ReleaseReason::OrderCanceled, t0()).unwrap()
    else {
        panic!("releases");
    };
    assert!(
        released
            .levels
            .iter()
            .all(|level| level.status() == StockStatus::Blocked)
    );
}

#[test]
fn a_cancel_after_the_commit_puts_the_units_back_once() {
    let (reservation, levels) = held();
    let CommitOutcome::Committed(committed) = commit(&reservation, &levels, t0()).unwrap() else {
        panic!("commits");
    };
    assert_eq!(counts(&committed.levels), [("A", 3, 0), ("B", 2, 0)]);
    let later = t0() + Duration::days(3);
    let CancelOutcome::Restocked(restocked) =
        cancel_order(&committed.reservation, &committed.levels, later).unwrap()
    else {
        panic!("restocks a committed reservation");
    };
    assert_eq!(counts(&restocked.levels), [("A", 5, 0), ("B", 3, 0)]);
    assert_eq!(restocked.reservation.status(), ReservationStatus::Restocked);
    assert_eq!(restocked.reservation.updated_at(), later);
    assert_eq!(
        restocked.event,
        StockRestocked {
            reservation_id: reservation.id(),
            order_id: reservation.order_id(),
            lines: reservation.lines().to_vec(),
            reason: "order_canceled".to_owned(),
        }
    );
    // Again (a re-published cancel): nothing.
    assert_eq!(
        cancel_order(&restocked.reservation, &restocked.levels, later).unwrap(),
        CancelOutcome::Release(ReleaseOutcome::Ignored(IgnoredBecause::AlreadyRestocked))
    );
    // A missing level is an inconsistency, never a silent skip.
    assert_eq!(
        cancel_order(&committed.reservation, &committed.levels[..1], later)
            .unwrap_err()
            .code(),
        ErrorCode::Internal
    );
}
