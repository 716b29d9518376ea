//! Fulfillment's use cases, independent of the transport.
//!
//! Each change runs the same way: in one transaction, lock the shipment (or
//! the order, to open one), apply the domain function, emit its event and
//! store what it returns with the event's id. [`FulfillmentApp::open_shipment_in`]
//! runs inside the inbox's transaction (which also records the message);
//! the RPC writes open their own and run again on a conflict by the shared
//! policy ([`transaction!`]). Both emit through one private `emit`, in
//! whichever transaction they run: the shipment row records the event's
//! id, so the consumer cannot emit after the app returns.
//!
//! Every event about a shipment carries the correlation id of the
//! checkout (stored from the committed event) and, as causation, the
//! previous event about the shipment, so created -> shipped -> delivered
//! reads as one causal chain of the checkout.

pub mod error;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecommerce_db::{StoreError, transaction};
use ecommerce_events::EventMetadata;
use ecommerce_kernel::Clock;
use ecommerce_outbox::Outbox;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tracing::instrument;

use crate::app::error::AppError;
use crate::domain::{
    CancelOutcome, DeliverOutcome, FulfillmentError, FulfillmentEvent, InvalidValue, NoteOutcome,
    OpenOutcome, OpenShipment, OrderId, PageSize, ShipOutcome, Shipment, ShipmentId,
    ShippingOption, ShippingOptionId, Tracking, cancel_shipment, cheapest_first, mark_delivered,
    mark_shipped, note_canceled, note_placed, open_shipment,
};
use crate::storage::{self, Lock, StoredRow};

/// One page of ListShipments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipmentPage {
    pub shipments: Vec<Shipment>,
    /// The last shipment of this page when another page follows.
    pub next_after: Option<ShipmentId>,
}

/// The fulfillment service.
#[derive(Clone, Debug)]
pub struct FulfillmentApp {
    db: DatabaseConnection,
    outbox: Outbox,
    clock: Arc<dyn Clock>,
}

impl FulfillmentApp {
    /// `db` must be migrated with `fulfillment_migration::Migrator`;
    /// `outbox` writes to that schema's `fulfillment_outbox_events`;
    /// `clock` stamps the shipments' changes (`SystemClock` in the service).
    pub fn new(db: DatabaseConnection, outbox: Outbox, clock: Arc<dyn Clock>) -> Self {
        Self { db, outbox, clock }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Now at the database's precision (the kernel's clocks keep
    /// microseconds), so an answer built from the new state equals the
    /// state read back later.
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    // ------------------------------------------------------------ reads

    /// Every shipping option, cheapest first. Every option ships to every
    /// destination and every order, so the request's filters only have to
    /// be valid.
    pub async fn shipping_options(&self) -> Result<Vec<ShippingOption>, AppError> {
        let mut options = storage::list_shipping_options(&self.db).await?;
        cheapest_first(&mut options);
        Ok(options)
    }

    pub async fn get_shipment(&self, id: ShipmentId) -> Result<Shipment, AppError> {
        storage::find_shipment(&self.db, id, Lock::None)
            .await?
            .map(|stored| stored.shipment)
            .ok_or_else(|| AppError::NotFound(format!("shipment {id}")))
    }

    /// The shipments of `order_id` after `after`, oldest first.
    pub async fn list_shipments(
        &self,
        order_id: OrderId,
        page_size: PageSize,
        after: Option<ShipmentId>,
    ) -> Result<ShipmentPage, AppError> {
        // One more than asked tells whether another page follows.
        let mut shipments =
            storage::list_shipments(&self.db, order_id, after, page_size.get() + 1).await?;
        let has_more = u64::try_from(shipments.len()).unwrap_or(u64::MAX) > page_size.get();
        if has_more {
            shipments.pop();
        }
        let next_after = if has_more {
            shipments.last().map(Shipment::id)
        } else {
            None
        };
        Ok(ShipmentPage {
            shipments,
            next_after,
        })
    }

    // ----------------------------------------------------------- events

    /// On `orders.order_placed.v1`, inside `db` (the inbox's transaction):
    /// remembers the shipping option the order was placed with, for the
    /// shipment its commit opens. An option fulfillment does not offer is
    /// refused naming `shipping_option_id` (dead-lettered). Emits nothing.
    #[instrument(skip_all, fields(%order_id, %shipping_option_id), err(level = "info"))]
    pub async fn note_order_placed_in<C: ConnectionTrait>(
        &self,
        db: &C,
        order_id: OrderId,
        shipping_option_id: ShippingOptionId,
    ) -> Result<(), AppError> {
        if storage::find_shipping_option(db, shipping_option_id)
            .await?
            .is_none()
        {
            return Err(FulfillmentError::from(
                InvalidValue::new(format!(
                    "shipping option {shipping_option_id} is not on offer"
                ))
                .at("shipping_option_id"),
            )
            .into());
        }
        storage::lock_order(db, order_id).await?;
        let existing = storage::find_order_note(db, order_id).await?;
        match note_placed(existing.as_ref(), order_id, shipping_option_id) {
            NoteOutcome::Store(note) => storage::store_order_note(db, &note, self.now()).await?,
            NoteOutcome::Unchanged => tracing::info!("order noted already; nothing to do"),
        }
        Ok(())
    }

    /// On `orders.order_canceled.v1`, inside `db` (the inbox's
    /// transaction): remembers the cancel (so a commit arriving later opens
    /// nothing) and cancels the order's PENDING shipment, emitting
    /// `shipment.canceled` with `metadata(shipment id)` (causation = the
    /// cancel). A shipment that has left already is reported and left as it
    /// is. Returns the canceled shipment, if one was.
    #[instrument(skip_all, fields(%order_id), err(level = "info"))]
    pub async fn cancel_order_in<C: ConnectionTrait>(
        &self,
        db: &C,
        order_id: OrderId,
        reason: &str,
        metadata: impl FnOnce(ShipmentId) -> EventMetadata + Send,
    ) -> Result<Option<Shipment>, AppError> {
        storage::lock_order(db, order_id).await?;
        let now = self.now();
        let existing = storage::find_order_note(db, order_id).await?;
        if let NoteOutcome::Store(note) = note_canceled(existing.as_ref(), order_id, reason, now) {
            storage::store_order_note(db, &note, now).await?;
        }
        let Some(stored) = storage::find_shipment_by_order(db, order_id).await? else {
            tracing::info!("no shipment yet; none will be opened");
            return Ok(None);
        };
        match cancel_shipment(&stored.shipment, reason, now) {
            CancelOutcome::Canceled { shipment, event } => {
                let event_id = self
                    .outbox
                    .emit(db, &FulfillmentEvent::from(event), metadata(shipment.id()))
                    .await?;
                storage::update_shipment(db, &shipment, stored.shipment.status(), event_id).await?;
                tracing::info!(shipment_id = %shipment.id(), "shipment canceled");
                Ok(Some(*shipment))
            }
            CancelOutcome::Unchanged => Ok(None),
            CancelOutcome::AlreadyLeft { status } => {
                // orders refuses CancelOrder once SHIPPED, so only a
                // MarkShipped racing the cancel gets here; payments then
                // dead-letters the shipped event for an operator.
                tracing::warn!(shipment_id = %stored.shipment.id(), %status, "order canceled after its shipment left; not called back");
                Ok(None)
            }
        }
    }

    /// On `inventory.stock.committed.v1`, inside `db` (the inbox's
    /// transaction): opens the order's shipment with the shipping option
    /// the order was placed with and emits `shipment.created` with
    /// `metadata` (causation = the committed event). A second commit of the
    /// same order, or the commit of an order canceled meanwhile, changes
    /// and emits nothing; `None` then. A commit that overtook its order's
    /// `order_placed` is [`FulfillmentError::OrderNotPlaced`]: retried.
    #[instrument(skip_all, fields(order_id = %request.order_id), err(level = "info"))]
    pub async fn open_shipment_in<C: ConnectionTrait>(
        &self,
        db: &C,
        request: OpenShipment,
        metadata: EventMetadata,
    ) -> Result<Option<Shipment>, AppError> {
        storage::lock_order(db, request.order_id).await?;
        let existing = storage::find_shipment_by_order(db, request.order_id).await?;
        let note = storage::find_order_note(db, request.order_id).await?;
        let option = match note.as_ref().and_then(|note| note.shipping_option_id) {
            Some(id) => storage::find_shipping_option(db, id).await?,
            None => None,
        };
        match open_shipment(
            existing.as_ref().map(|stored| &stored.shipment),
            note.as_ref(),
            request,
            option.as_ref(),
            self.now(),
        )? {
            OpenOutcome::Opened { shipment, event } => {
                let correlation_id = metadata.correlation_id.clone();
                let event_id = self
                    .outbox
                    .emit(db, &FulfillmentEvent::from(event), metadata)
                    .await?;
                storage::insert_shipment(db, &shipment, correlation_id.as_deref(), event_id)
                    .await?;
                tracing::info!(shipment_id = %shipment.id(), "shipment opened");
                Ok(Some(*shipment))
            }
            OpenOutcome::AlreadyOpen => {
                tracing::info!("the order has a shipment already; nothing to do");
                Ok(None)
            }
            OpenOutcome::OrderCanceled => {
                tracing::info!("the order was canceled before its commit; no shipment");
                Ok(None)
            }
        }
    }

    // ----------------------------------------------------- RPC writes

    /// MarkShipped: PENDING -> SHIPPED with `shipment.shipped`; a repeat
    /// with the same tracking answers the shipment unchanged, emitting
    /// nothing.
    #[instrument(skip_all, fields(%id), err(level = "info"))]
    pub async fn mark_shipped(
        &self,
        id: ShipmentId,
        tracking: &Tracking,
        correlation_id: &str,
    ) -> Result<Shipment, AppError> {
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(AppError, "mark_shipped", outbox.begin(db), |tx| {
            let stored = self.lock_shipment(tx, id).await?;
            let shipment = match mark_shipped(&stored.shipment, tracking.clone(), self.now())? {
                ShipOutcome::Shipped { shipment, event } => {
                    let event = FulfillmentEvent::from(event);
                    self.store_transition(tx, &stored, &shipment, &event, correlation_id)
                        .await?;
                    *shipment
                }
                ShipOutcome::Unchanged => stored.shipment,
            };
            Ok(shipment)
        })
    }

    /// MarkDelivered: SHIPPED -> DELIVERED with `shipment.delivered`; a
    /// repeat answers the shipment unchanged, emitting nothing.
    #[instrument(skip_all, fields(%id), err(level = "info"))]
    pub async fn mark_delivered(
        &self,
        id: ShipmentId,
        correlation_id: &str,
    ) -> Result<Shipment, AppError> {
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(AppError, "mark_delivered", outbox.begin(db), |tx| {
            let stored = self.lock_shipment(tx, id).await?;
            let shipment = match mark_delivered(&stored.shipment, self.now())? {
                DeliverOutcome::Delivered { shipment, event } => {
                    let event = FulfillmentEvent::from(event);
                    self.store_transition(tx, &stored, &shipment, &event, correlation_id)
                        .await?;
                    *shipment
                }
                DeliverOutcome::Unchanged => stored.shipment,
            };
            Ok(shipment)
        })
    }

    async fn lock_shipment<C: ConnectionTrait>(
        &self,
        db: &C,
        id: ShipmentId,
    ) -> Result<StoredRow, AppError> {
        storage::find_shipment(db, id, Lock::Update)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("shipment {id}")))
    }

    /// Emits `event` (correlation: the checkout's, else the caller's;
    /// causation: the previous event about the shipment), then stores
    /// `after` over `before`.
    async fn store_transition<C: ConnectionTrait>(
        &self,
        db: &C,
        before: &StoredRow,
        after: &Shipment,
        event: &FulfillmentEvent,
        caller_correlation_id: &str,
    ) -> Result<(), StoreError> {
        let correlation_id = before
            .correlation_id
            .as_deref()
            .unwrap_or(caller_correlation_id);
        let metadata = EventMetadata::new(FulfillmentEvent::AGGREGATE_TYPE, after.id().to_string())
            .with_correlation_id(correlation_id)
            .with_causation_id(before.last_event_id.to_string());
        let event_id = self.outbox.emit(db, event, metadata).await?;
        storage::update_shipment(db, after, before.shipment.status(), event_id).await
    }
}
