//! Property-style test: long deterministic pseudo-random sequences of every
//! inventory operation (open, block, adjust, reserve, commit, release,
//! expire, time passing, and repeats of each), applied the way the storage
//! layer will apply them, checking after every step that no invariant
//! breaks:
//! - `on_hand >= 0`, `0 <= reserved <= on_hand` for every SKU;
//! - `reserved` equals the sum of the held reservations' lines of the SKU;
//! - `on_hand` equals the adjustments' deltas minus the committed units
//!   (the ledger check the saga tests run against the database);
//! - a reservation is all or nothing, commits only before its TTL, ends at
//!   most once, and every order gets exactly one reserved-or-failed event;
//! - every operation repeated on its own result changes nothing.
//!
//! The generator is splitmix64 with fixed seeds, so a failure reproduces
//! exactly; no test crate is needed.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, TimeZone as _, Utc};

use crate::domain::error::InventoryError;
use crate::domain::events::InventoryEvent;
use crate::domain::reservation::{
    CancelOutcome, CommitOutcome, ExpireOutcome, PriorAttempt, ReleaseOutcome, ReleaseReason,
    Reservation, ReservationFailure, ReservationLines, ReservationRequest, ReservationStatus,
    ReserveOutcome, cancel_order, commit, expire, release, reserve,
};
use crate::domain::stock::{
    AdjustOutcome, AdjustStock, BlockOutcome, OnHandCount, OpenOutcome, StockChange, StockLevel,
    StockStatus, adjust_stock, block_stock, open_stock,
};
use crate::domain::values::{
    AdjustmentId, OrderId, Quantity, Reason, ReservationId, ReservationTtl, Sku,
};

/// splitmix64: tiny, fast, and good enough to shuffle operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn between(&mut self, low: i64, high: i64) -> i64 {
        low + self.below((high - low + 1) as u64) as i64
    }

    fn percent(&mut self, chance: u64) -> bool {
        self.below(100) < chance
    }
}

const SKUS: [&str; 6] = ["S0", "S1", "S2", "s-3", "S4-B", "S10"];

#[derive(Default)]
struct Counters {
    reserved: u64,
    failed: u64,
    committed: u64,
    expired_instead: u64,
    released: u64,
    expired: u64,
    too_late: u64,
    refused_release: u64,
    restocked: u64,
    adjusted: u64,
    adjust_refused: u64,
}

struct World {
    rng: Rng,
    now: DateTime<Utc>,
    levels: BTreeMap<Sku, StockLevel>,
    reservations: BTreeMap<OrderId, Reservation>,
    failures: BTreeMap<OrderId, ReservationFailure>,
    orders: Vec<OrderId>,
    /// Sum of applied adjustment deltas per SKU: the ledger.
    adjusted: BTreeMap<Sku, i64>,
    committed: BTreeMap<Sku, i64>,
    events: Vec<InventoryEvent>,
    counters: Counters,
    /// Whether orders are canceled (half the seeds, so that committed
    /// reservations also live long enough for the release refusals).
    cancels: bool,
}

impl World {
    fn new(seed: u64) -> Self {
        Self {
            rng: Rng(seed),
            now: Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
            levels: BTreeMap::new(),
            reservations: BTreeMap::new(),
            failures: BTreeMap::new(),
            orders: Vec::new(),
            adjusted: BTreeMap::new(),
            committed: BTreeMap::new(),
            events: Vec::new(),
            counters: Counters::default(),
            cancels: seed % 2 == 0,
        }
    }

    fn random_sku(&mut self) -> Sku {
        let index = self.rng.below(SKUS.len() as u64) as usize;
        Sku::parse(SKUS[index]).unwrap()
    }

    /// The stock rows of `skus`, as `SELECT ... FOR UPDATE` in lock order
    /// returns them; also checks that the order is strictly ascending.
    fn locked<'a>(&self, skus: impl Iterator<Item = &'a Sku>) -> Vec<StockLevel> {
        let skus: Vec<&Sku> = skus.collect();
        assert!(
            skus.windows(2).all(|pair| pair[0] < pair[1]),
            "lock order must be strictly ascending: {skus:?}"
        );
        skus.into_iter()
            .filter_map(|sku| self.levels.get(sku).cloned())
            .collect()
    }

    /// Writes levels back the way `UPDATE ... WHERE version = $read` does.
    fn store(&mut self, levels: Vec<StockLevel>) {
        for level in levels {
            let previous = self.levels.get(level.sku()).map(StockLevel::version);
            assert_eq!(
                previous.map(|version| version + 1),
                Some(level.version()),
                "a change bumps the version by one"
            );
            assert_eq!(level.updated_at(), self.now);
            self.levels.insert(level.sku().clone(), level);
        }
    }

    fn step(&mut self) {
        match self.rng.below(100) {
            0..=7 => self.open(),
            8 => self.block(),
            9..=24 => self.adjust(),
            25..=49 => self.reserve(),
            50..=64 => self.commit(),
            65..=74 => self.release(),
            75..=84 => self.expire_due(),
            85..=86 if self.cancels => self.cancel(),
            _ => self.tick(),
        }
        self.check();
    }

    fn open(&mut self) {
        let sku = self.random_sku();
        let existing = self.levels.get(&sku).cloned();
        match open_stock(existing.as_ref(), sku.clone(), self.now) {
            OpenOutcome::Opened(level) => {
                assert!(existing.is_none());
                assert_eq!(level.version(), StockLevel::INITIAL_VERSION);
                self.levels.insert(sku, level);
            }
            OpenOutcome::Ignored => assert!(existing.is_some()),
        }
    }

    fn block(&mut self) {
        let sku = self.random_sku();
        let existing = self.levels.get(&sku).cloned();
        match block_stock(existing.as_ref(), sku.clone(), self.now).unwrap() {
            BlockOutcome::Blocked(level) => {
                assert_eq!(level.status(), StockStatus::Blocked);
                match &existing {
                    Some(before) => {
                        assert_eq!(before.status(), StockStatus::Active);
                        self.store(vec![level.clone()]);
                    }
                    None => {
                        self.levels.insert(sku.clone(), level.clone());
                    }
                }
                assert_eq!(
                    block_stock(Some(&level), sku, self.now).unwrap(),
                    BlockOutcome::Ignored
                );
            }
            BlockOutcome::Ignored => {
                assert_eq!(
                    existing.map(|level| level.status()),
                    Some(StockStatus::Blocked)
                );
            }
        }
    }

    fn adjust(&mut self) {
        let sku = self.random_sku();
        let change = if self.rng.percent(25) {
            // Mostly a count of the current level, sometimes of another
            // (a receipt raced the count).
            let current = self.levels.get(&sku).map_or(0, StockLevel::on_hand);
            let expected = if self.rng.percent(80) {
                current
            } else {
                self.rng.between(0, 15) as i32
            };
            StockChange::SetOnHand {
                counted: OnHandCount::new(self.rng.between(0, 15) as i32).unwrap(),
                expected: OnHandCount::new(expected).unwrap(),
            }
        } else {
            let delta = self.rng.between(-8, 12) as i32;
            match StockChange::delta(delta) {
                Ok(change) => change,
                Err(_) => return,
            }
        };
        let command = AdjustStock {
            adjustment_id: AdjustmentId::generate(),
            sku: sku.clone(),
            change,
            reason: Reason::parse("property test").unwrap(),
            expected_version: None,
        };
        let before = self.levels.get(&sku).cloned();
        match adjust_stock(before.as_ref(), &command, self.now) {
            Ok(AdjustOutcome::Applied { level, event }) => {
                let before = before.unwrap();
                assert_eq!(
                    i64::from(level.on_hand()),
                    i64::from(before.on_hand()) + i64::from(event.delta)
                );
                assert_eq!(level.reserved(), before.reserved());
                assert_eq!(event.available, level.available());
                assert_eq!(event.version, level.version());
                *self.adjusted.entry(sku).or_default() += i64::from(event.delta);
                self.store(vec![level]);
                self.events.push(event.into());
                self.counters.adjusted += 1;
            }
            Ok(AdjustOutcome::Unchanged { level }) => assert_eq!(Some(level), before),
            Err(InventoryError::UnknownSku { .. }) => assert!(before.is_none()),
            Err(InventoryError::BelowReserved {
                on_hand_after,
                reserved,
                ..
            }) => {
                assert!(on_hand_after < i64::from(reserved));
                self.counters.adjust_refused += 1;
            }
            Err(InventoryError::StaleOnHand {
                expected, current, ..
            }) => {
                assert_ne!(expected, current);
                assert_eq!(before.map(|level| level.on_hand()), Some(current));
                self.counters.adjust_refused += 1;
            }
            Err(other) => panic!("unexpected adjustment error {other}"),
        }
    }

    fn reserve(&mut self) {
        let line_count = self.rng.between(1, 4);
        let mut raw_lines = Vec::new();
        for _ in 0..line_count {
            let sku = self.random_sku();
            let quantity = Quantity::new(self.rng.between(1, 5) as i32).unwrap();
            raw_lines.push((sku, quantity));
        }
        let request = ReservationRequest {
            reservation_id: ReservationId::generate(),
            order_id: OrderId::generate(),
            lines: ReservationLines::aggregate(raw_lines).unwrap(),
            ttl: ReservationTtl::from_seconds(self.rng.between(1, 600)).unwrap(),
        };
        self.orders.push(request.order_id);
        let locked = self.locked(request.lock_order());
        let before = self.levels.clone();
        match reserve(PriorAttempt::None, &locked, &request, self.now).unwrap() {
            ReserveOutcome::Reserved(transition) => {
                for line in request.lines.as_slice() {
                    let level = &before[&line.sku];
                    assert_eq!(level.status(), StockStatus::Active);
                    assert!(level.available() >= line.quantity.get());
                }
                assert_eq!(transition.levels.len(), request.lines.as_slice().len());
                assert_eq!(
                    transition.reservation.expires_at(),
                    self.now + request.ttl.as_duration()
                );
                self.store(transition.levels);
                let reservation = transition.reservation;
                // A redelivery of the same order reserves nothing more.
                let relocked = self.locked(request.lock_order());
                assert!(matches!(
                    reserve(
                        PriorAttempt::Reserved(&reservation),
                        &relocked,
                        &request,
                        self.now
                    )
                    .unwrap(),
                    ReserveOutcome::Ignored(_)
                ));
                self.reservations.insert(request.order_id, reservation);
                self.events.push(transition.event.into());
                self.counters.reserved += 1;
            }
            ReserveOutcome::Failed { failure, event } => {
                assert_eq!(self.levels, before, "a failed reservation changes no stock");
                assert!(!failure.short_lines.is_empty());
                for short in &failure.short_lines {
                    match before.get(&short.sku) {
                        None => assert_eq!(short.available, 0),
                        Some(level) if level.status() == StockStatus::Blocked => {
                            assert_eq!(short.available, 0)
                        }
                        Some(level) => {
                            assert_eq!(short.available, level.available());
                            assert!(short.available < short.requested);
                        }
                    }
                }
                // Every line not listed as short could have been reserved.
                for line in request.lines.as_slice() {
                    if failure
                        .short_lines
                        .iter()
                        .all(|short| short.sku != line.sku)
                    {
                        let level = &before[&line.sku];
                        assert!(level.available() >= line.quantity.get());
                    }
                }
                assert!(matches!(
                    reserve(PriorAttempt::Failed(&failure), &locked, &request, self.now).unwrap(),
                    ReserveOutcome::Ignored(_)
                ));
                self.failures.insert(request.order_id, failure);
                self.events.push(event.into());
                self.counters.failed += 1;
            }
            ReserveOutcome::Ignored(because) => panic!("a new order was ignored: {because:?}"),
        }
    }

    fn random_reservation(&mut self) -> Option<Reservation> {
        if self.orders.is_empty() {
            return None;
        }
        let index = self.rng.below(self.orders.len() as u64) as usize;
        self.reservations.get(&self.orders[index]).cloned()
    }

    fn save(&mut self, reservation: Reservation) {
        let previous = self.reservations.get(&reservation.order_id()).unwrap();
        let from_to = (previous.status(), reservation.status());
        assert!(
            previous.status() == ReservationStatus::Held
                || from_to == (ReservationStatus::Committed, ReservationStatus::Restocked),
            "only a held reservation changes, or a committed one is restocked: {from_to:?}"
        );
        assert!(reservation.status().is_terminal());
        self.reservations
            .insert(reservation.order_id(), reservation);
    }

    fn commit(&mut self) {
        let Some(reservation) = self.random_reservation() else {
            return;
        };
        let locked = self.locked(reservation.lock_order());
        let before = self.levels.clone();
        let outcome = commit(&reservation, &locked, self.now).unwrap();
        match outcome {
            CommitOutcome::Committed(transition) => {
                assert_eq!(reservation.status(), ReservationStatus::Held);
                assert!(
                    self.now < reservation.expires_at(),
                    "committed after the TTL"
                );
                for line in reservation.lines().as_slice() {
                    *self.committed.entry(line.sku.clone()).or_default() +=
                        i64::from(line.quantity.get());
                }
                self.finish(transition.reservation, transition.levels, transition.event);
                self.counters.committed += 1;
            }
            CommitOutcome::ExpiredInstead(transition) => {
                assert!(reservation.is_due(self.now));
                self.finish(transition.reservation, transition.levels, transition.event);
                self.counters.expired_instead += 1;
            }
            CommitOutcome::Ignored(_) => {
                assert_eq!(reservation.status(), ReservationStatus::Committed);
                assert_eq!(self.levels, before);
            }
            CommitOutcome::TooLate { status } => {
                assert_eq!(status, reservation.status());
                assert!(matches!(
                    status,
                    ReservationStatus::Released
                        | ReservationStatus::Expired
                        | ReservationStatus::Restocked
                ));
                self.counters.too_late += 1;
            }
        }
    }

    fn release(&mut self) {
        let Some(reservation) = self.random_reservation() else {
            return;
        };
        let reason = if self.rng.percent(50) {
            ReleaseReason::PaymentFailed
        } else {
            ReleaseReason::OrderCanceled
        };
        let locked = self.locked(reservation.lock_order());
        match release(&reservation, &locked, &reason, self.now).unwrap() {
            ReleaseOutcome::Released(transition) => {
                assert!(!reservation.is_due(self.now));
                self.finish(transition.reservation, transition.levels, transition.event);
                self.counters.released += 1;
            }
            ReleaseOutcome::ExpiredInstead(transition) => {
                assert!(reservation.is_due(self.now));
                self.finish(transition.reservation, transition.levels, transition.event);
                self.counters.expired_instead += 1;
            }
            ReleaseOutcome::Ignored(_) => assert!(matches!(
                reservation.status(),
                ReservationStatus::Released
                    | ReservationStatus::Expired
                    | ReservationStatus::Restocked
            )),
            ReleaseOutcome::RefusedCommitted => {
                assert_eq!(reservation.status(), ReservationStatus::Committed);
                self.counters.refused_release += 1;
            }
        }
    }

    /// `orders.order_canceled.v1`: releases a held reservation, restocks a
    /// committed one.
    fn cancel(&mut self) {
        // Mostly a committed order (canceled at CONFIRMED), which random
        // picks would rarely reach.
        let committed: Vec<Reservation> = self
            .reservations
            .values()
            .filter(|reservation| reservation.status() == ReservationStatus::Committed)
            .cloned()
            .collect();
        let picked = if !committed.is_empty() && self.rng.percent(75) {
            let index = self.rng.below(committed.len() as u64) as usize;
            Some(committed[index].clone())
        } else {
            self.random_reservation()
        };
        let Some(reservation) = picked else {
            return;
        };
        let locked = self.locked(reservation.lock_order());
        match cancel_order(&reservation, &locked, self.now).unwrap() {
            CancelOutcome::Restocked(transition) => {
                assert_eq!(reservation.status(), ReservationStatus::Committed);
                for line in reservation.lines().as_slice() {
                    *self.committed.entry(line.sku.clone()).or_default() -=
                        i64::from(line.quantity.get());
                }
                self.finish(transition.reservation, transition.levels, transition.event);
                self.counters.restocked += 1;
            }
            CancelOutcome::Release(ReleaseOutcome::Released(transition)) => {
                assert!(!reservation.is_due(self.now));
                self.finish(transition.reservation, transition.levels, transition.event);
                self.counters.released += 1;
            }
            CancelOutcome::Release(ReleaseOutcome::ExpiredInstead(transition)) => {
                assert!(reservation.is_due(self.now));
                self.finish(transition.reservation, transition.levels, transition.event);
                self.counters.expired_instead += 1;
            }
            CancelOutcome::Release(ReleaseOutcome::Ignored(_)) => assert!(matches!(
                reservation.status(),
                ReservationStatus::Released
                    | ReservationStatus::Expired
                    | ReservationStatus::Restocked
            )),
            CancelOutcome::Release(ReleaseOutcome::RefusedCommitted) => {
                panic!("a cancel never refuses a committed reservation")
            }
        }
    }

    /// The expiry worker: every held reservation whose TTL ran out.
    fn expire_due(&mut self) {
        let due: Vec<Reservation> = self
            .reservations
            .values()
            .filter(|reservation| reservation.is_due(self.now))
            .cloned()
            .collect();
        for reservation in due {
            let locked = self.locked(reservation.lock_order());
            match expire(&reservation, &locked, self.now).unwrap() {
                ExpireOutcome::Expired(transition) => {
                    self.finish(transition.reservation, transition.levels, transition.event);
                    self.counters.expired += 1;
                }
                ExpireOutcome::Ignored(because) => panic!("a due reservation was {because:?}"),
            }
        }
        // A held one that is not due stays held.
        if let Some(reservation) = self.random_reservation() {
            if reservation.status() == ReservationStatus::Held {
                let locked = self.locked(reservation.lock_order());
                assert!(matches!(
                    expire(&reservation, &locked, self.now).unwrap(),
                    ExpireOutcome::Ignored(_)
                ));
            }
        }
    }

    /// Stores a transition, then repeats every operation on its result to
    /// check that none changes anything any more.
    fn finish(
        &mut self,
        reservation: Reservation,
        levels: Vec<StockLevel>,
        event: impl Into<InventoryEvent>,
    ) {
        self.store(levels);
        self.save(reservation.clone());
        self.events.push(event.into());
        let locked = self.locked(reservation.lock_order());
        let before = self.levels.clone();
        match commit(&reservation, &locked, self.now).unwrap() {
            CommitOutcome::Ignored(_) | CommitOutcome::TooLate { .. } => {}
            other => panic!("a repeated commit acted: {other:?}"),
        }
        match release(
            &reservation,
            &locked,
            &ReleaseReason::OrderCanceled,
            self.now,
        )
        .unwrap()
        {
            ReleaseOutcome::Ignored(_) | ReleaseOutcome::RefusedCommitted => {}
            other => panic!("a repeated release acted: {other:?}"),
        }
        // A repeated cancel acts only on a commit (which it restocks).
        if reservation.status() != ReservationStatus::Committed {
            match cancel_order(&reservation, &locked, self.now).unwrap() {
                CancelOutcome::Release(ReleaseOutcome::Ignored(_)) => {}
                other => panic!("a repeated cancel acted: {other:?}"),
            }
        }
        match expire(&reservation, &locked, self.now + Duration::days(1)).unwrap() {
            ExpireOutcome::Ignored(_) => {}
            other => panic!("a repeated expiry acted: {other:?}"),
        }
        assert_eq!(self.levels, before);
    }

    fn tick(&mut self) {
        self.now += Duration::seconds(self.rng.between(0, 300));
    }

    fn check(&self) {
        let mut held: BTreeMap<&Sku, i64> = BTreeMap::new();
        for reservation in self.reservations.values() {
            if reservation.status() == ReservationStatus::Held {
                for line in reservation.lines().as_slice() {
                    *held.entry(&line.sku).or_default() += i64::from(line.quantity.get());
                }
            }
        }
        for (sku, level) in &self.levels {
            assert!(level.on_hand() >= 0, "{sku}: negative on hand");
            assert!(level.reserved() >= 0, "{sku}: negative reserved");
            assert!(level.reserved() <= level.on_hand(), "{sku}: oversold");
            assert_eq!(level.available(), level.on_hand() - level.reserved());
            assert_eq!(
                i64::from(level.reserved()),
                held.get(sku).copied().unwrap_or_default(),
                "{sku}: reserved is not the sum of the held lines"
            );
            assert_eq!(
                i64::from(level.on_hand()),
                self.adjusted.get(sku).copied().unwrap_or_default()
                    - self.committed.get(sku).copied().unwrap_or_default(),
                "{sku}: on hand is not adjustments minus commits"
            );
        }
        for sku in held.keys() {
            assert!(self.levels.contains_key(*sku), "{sku}: held but no stock");
        }
    }

    /// Whole-run checks on the emitted events.
    fn check_events(&self) {
        let mut outcomes: BTreeMap<OrderId, usize> = BTreeMap::new();
        let mut endings: BTreeMap<OrderId, usize> = BTreeMap::new();
        let mut restocks: BTreeMap<OrderId, usize> = BTreeMap::new();
        for event in &self.events {
            match event {
                InventoryEvent::Reserved(reserved) => {
                    *outcomes.entry(reserved.order_id).or_default() += 1;
                }
                InventoryEvent::ReservationFailed(failed) => {
                    *outcomes.entry(failed.order_id).or_default() += 1;
                }
                InventoryEvent::Committed(ended) => {
                    *endings.entry(ended.order_id).or_default() += 1;
                }
                InventoryEvent::Released(ended) => {
                    *endings.entry(ended.order_id).or_default() += 1;
                }
                InventoryEvent::Expired(ended) => {
                    *endings.entry(ended.order_id).or_default() += 1;
                }
                InventoryEvent::Restocked(restocked) => {
                    *restocks.entry(restocked.order_id).or_default() += 1;
                }
                InventoryEvent::AdjustmentApplied(adjusted) => assert_ne!(adjusted.delta, 0),
            }
        }
        for order_id in &self.orders {
            assert_eq!(outcomes.get(order_id), Some(&1), "order {order_id}");
            let ended = endings.get(order_id).copied().unwrap_or_default();
            let terminal = self
                .reservations
                .get(order_id)
                .is_some_and(|reservation| reservation.status().is_terminal());
            assert_eq!(ended, usize::from(terminal), "order {order_id}");
            // Restocked at most once, and only what was committed.
            let restocked = self
                .reservations
                .get(order_id)
                .is_some_and(|reservation| reservation.status() == ReservationStatus::Restocked);
            assert_eq!(
                restocks.get(order_id).copied().unwrap_or_default(),
                usize::from(restocked),
                "order {order_id}"
            );
        }
    }
}

#[test]
fn random_operation_sequences_never_break_the_invariants() {
    let mut totals = Counters::default();
    for seed in 1..=80_u64 {
        let mut world = World::new(seed);
        for _ in 0..1_500 {
            world.step();
        }
        // Let every held reservation run out, as the worker would.
        world.now += Duration::seconds(i64::from(ReservationTtl::MAX_SECONDS));
        world.expire_due();
        world.check();
        world.check_events();
        assert!(
            world.levels.values().all(|level| level.reserved() == 0),
            "seed {seed}: units still reserved after every TTL ran out"
        );
        let counters = world.counters;
        totals.reserved += counters.reserved;
        totals.failed += counters.failed;
        totals.committed += counters.committed;
        totals.expired_instead += counters.expired_instead;
        totals.released += counters.released;
        totals.expired += counters.expired;
        totals.too_late += counters.too_late;
        totals.refused_release += counters.refused_release;
        totals.restocked += counters.restocked;
        totals.adjusted += counters.adjusted;
        totals.adjust_refused += counters.adjust_refused;
    }
    // The generator must actually reach every branch, or the test proves
    // little.
    for (name, count) in [
        ("reserved", totals.reserved),
        ("failed", totals.failed),
        ("committed", totals.committed),
        ("expired instead", totals.expired_instead),
        ("released", totals.released),
        ("expired", totals.expired),
        ("too late", totals.too_late),
        ("refused release", totals.refused_release),
        ("restocked", totals.restocked),
        ("adjusted", totals.adjusted),
        ("adjustment refused", totals.adjust_refused),
    ] {
        assert!(count >= 20, "only {count} {name} across all seeds");
    }
}

/// The oversell scenario of the saga tests, in miniature: stock 10, 100
/// orders of one unit interleaved with payments, failures and expiries.
/// Exactly 10 may ever be committed.
#[test]
fn ten_units_never_serve_more_than_ten_orders() {
    let mut world = World::new(7);
    let sku = Sku::parse("ONLY").unwrap();
    world
        .levels
        .insert(sku.clone(), StockLevel::opened(sku.clone(), world.now));
    let command = AdjustStock {
        adjustment_id: AdjustmentId::generate(),
        sku: sku.clone(),
        change: StockChange::Delta(10),
        reason: Reason::parse("receipt").unwrap(),
        expected_version: None,
    };
    let AdjustOutcome::Applied { level, .. } =
        adjust_stock(world.levels.get(&sku), &command, world.now).unwrap()
    else {
        panic!("receives");
    };
    world.adjusted.insert(sku.clone(), 10);
    world.store(vec![level]);

    let mut committed = 0;
    let mut rejected = 0;
    for _ in 0..100 {
        let request = ReservationRequest {
            reservation_id: ReservationId::generate(),
            order_id: OrderId::generate(),
            lines: ReservationLines::aggregate([(sku.clone(), Quantity::new(1).unwrap())]).unwrap(),
            ttl: ReservationTtl::DEFAULT,
        };
        let locked = world.locked(request.lock_order());
        match reserve(PriorAttempt::None, &locked, &request, world.now).unwrap() {
            ReserveOutcome::Reserved(transition) => {
                world.store(transition.levels);
                let locked = world.locked(transition.reservation.lock_order());
                let CommitOutcome::Committed(done) =
                    commit(&transition.reservation, &locked, world.now).unwrap()
                else {
                    panic!("commits in time");
                };
                world.store(done.levels);
                committed += 1;
            }
            ReserveOutcome::Failed { failure, .. } => {
                assert_eq!(failure.short_lines[0].available, 0);
                rejected += 1;
            }
            ReserveOutcome::Ignored(because) => panic!("{because:?}"),
        }
    }
    assert_eq!((committed, rejected), (10, 90));
    let level = &world.levels[&sku];
    assert_eq!(
        (level.on_hand(), level.reserved(), level.available()),
        (0, 0, 0)
    );
}
