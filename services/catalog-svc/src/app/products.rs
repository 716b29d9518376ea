//! CreateProduct, UpdateProduct, the lifecycle steps (Publish, Unpublish,
//! Archive), GetProduct and ListProducts.

use ecommerce_db::{begin_snapshot, transaction};
use sea_orm::ConnectionTrait;
use tracing::instrument;

use super::{
    CatalogApp, CatalogError, assemble_one, assemble_products, check_replay, emit, get_product,
};
use crate::domain::actor::RequestContext;
use crate::domain::commands::{
    ChangeProductStatus, CreateProduct, GetProduct, ListProducts, ProductPage, RequestFingerprint,
    UpdateProduct,
};
use crate::domain::error::{DomainError, Resource};
use crate::domain::events::CatalogEvent;
use crate::domain::model::{Product, ProductId};
use crate::domain::page::{Cursor, encode_page_token};
use crate::storage::Lock;
use crate::storage::products::{self, NewProduct, StoredProduct};

impl CatalogApp {
    /// CreateProduct: a DRAFT product at version 1 and
    /// `catalog.product.created.v1`. Idempotent on the command's key (see
    /// `domain::commands`).
    #[instrument(skip_all, fields(idempotency_key = ?command.idempotency_key.as_ref().map(|key| key.as_str())), err(level = "info"))]
    pub async fn create_product(
        &self,
        context: &RequestContext,
        command: CreateProduct,
    ) -> Result<Product, CatalogError> {
        context.actor.require_admin()?;
        let fingerprint = command.fingerprint();
        let idempotency = command
            .idempotency_key
            .as_ref()
            .map(|key| (key, fingerprint));
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(CatalogError, "create_product", outbox.begin(db), |tx| {
            let now = self.clock.now();
            if let Some((key, _)) = idempotency {
                if let Some(existing) = products::find_by_idempotency_key(tx, key).await? {
                    return self.replayed_product(tx, existing, fingerprint).await;
                }
            }
            let new = NewProduct {
                id: ProductId::generate(),
                details: &command.details,
                idempotency,
                now,
            };
            let Some(stored) = products::insert(tx, new).await? else {
                // A concurrent call with the same key committed first.
                let (key, _) = idempotency.ok_or_else(|| {
                    CatalogError::internal("product insert conflicted without an idempotency key")
                })?;
                let existing = products::find_by_idempotency_key(tx, key)
                    .await?
                    .ok_or_else(|| {
                        CatalogError::internal("idempotency key conflict without a row")
                    })?;
                return self.replayed_product(tx, existing, fingerprint).await;
            };
            let product = stored.into_product(Vec::new());
            emit(tx, context, &CatalogEvent::ProductCreated(&product), now).await?;
            Ok(product)
        })
    }

    async fn replayed_product(
        &self,
        db: &impl ConnectionTrait,
        existing: StoredProduct,
        fingerprint: RequestFingerprint,
    ) -> Result<Product, CatalogError> {
        check_replay(existing.request_fingerprint.as_deref(), fingerprint)?;
        assemble_one(db, existing, self.clock.now()).await
    }

    /// UpdateProduct: overwrites the named fields; when any value changes,
    /// bumps the version and emits `catalog.product.updated.v1` listing
    /// the changed fields.
    #[instrument(skip_all, fields(product_id = %command.product_id), err(level = "info"))]
    pub async fn update_product(
        &self,
        context: &RequestContext,
        command: UpdateProduct,
    ) -> Result<Product, CatalogError> {
        context.actor.require_admin()?;
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(CatalogError, "update_product", outbox.begin(db), |tx| {
            let now = self.clock.now();
            let current = get_product(tx, command.product_id, Lock::Update).await?;
            current.version.check_expected(
                command.expected_version,
                Resource::Product,
                current.id,
            )?;
            if current.status.is_terminal() {
                return Err(CatalogError::failed_precondition(format!(
                    "product {} is {}: it cannot be edited",
                    current.id, current.status
                )));
            }
            let diff = current.details.apply(&command.changes);
            if diff.is_empty() {
                return assemble_one(tx, current, now).await;
            }
            let updated =
                products::update_details(tx, current.id, current.version, &diff.details, now)
                    .await?;
            let product = assemble_one(tx, updated, now).await?;
            let event = CatalogEvent::ProductUpdated {
                product: &product,
                changed: &diff.changed,
            };
            emit(tx, context, &event, now).await?;
            Ok(product)
        })
    }

    /// PublishProduct, UnpublishProduct and ArchiveProduct: one lifecycle
    /// step (FAILED_PRECONDITION naming the current state when illegal),
    /// a version bump and the matching event.
    #[instrument(skip_all, fields(product_id = %command.product_id, action = ?command.action), err(level = "info"))]
    pub async fn change_product_status(
        &self,
        context: &RequestContext,
        command: ChangeProductStatus,
    ) -> Result<Product, CatalogError> {
        context.actor.require_admin()?;
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(
            CatalogError,
            "change_product_status",
            outbox.begin(db),
            |tx| {
                let now = self.clock.now();
                let current = get_product(tx, command.product_id, Lock::Update).await?;
                current.version.check_expected(
                    command.expected_version,
                    Resource::Product,
                    current.id,
                )?;
                let target = command.action.target();
                if !current.status.can_become(target) {
                    return Err(DomainError::IllegalProductTransition {
                        product_id: current.id.to_string(),
                        from: current.status,
                        to: target,
                    }
                    .into());
                }
                let updated =
                    products::update_status(tx, current.id, current.version, target, now).await?;
                let product = assemble_one(tx, updated, now).await?;
                let event = CatalogEvent::lifecycle(&product).ok_or_else(|| {
                    CatalogError::internal(format!(
                        "product {} moved to {} without an event",
                        product.id, product.status
                    ))
                })?;
                emit(tx, context, &event, now).await?;
                Ok(product)
            }
        )
    }

    /// GetProduct: NOT_FOUND for a product the caller may not see.
    #[instrument(skip_all, fields(product_id = %command.product_id), err(level = "info"))]
    pub async fn get_product(
        &self,
        context: &RequestContext,
        command: GetProduct,
    ) -> Result<Product, CatalogError> {
        transaction!(
            CatalogError,
            "get_product",
            begin_snapshot(&self.db),
            |tx| {
                let now = self.clock.now();
                let stored = products::find(tx, command.product_id, Lock::None)
                    .await?
                    .filter(|stored| {
                        context.actor.sees_unpublished() || stored.status.is_visible_to_shoppers()
                    })
                    .ok_or_else(|| {
                        CatalogError::not_found(Resource::Product, command.product_id)
                    })?;
                assemble_one(tx, stored, now).await
            }
        )
    }

    /// ListProducts: one page, newest first, of the products the caller
    /// may see that match the filter.
    #[instrument(skip_all, fields(page_size = command.page_size.get()), err(level = "info"))]
    pub async fn list_products(
        &self,
        context: &RequestContext,
        command: ListProducts,
    ) -> Result<ProductPage, CatalogError> {
        let scope = command.filter.status_scope(&context.actor);
        let page_size = usize::try_from(command.page_size.get())
            .map_err(|error| CatalogError::internal(format!("page size out of usize: {error}")))?;
        transaction!(
            CatalogError,
            "list_products",
            begin_snapshot(&self.db),
            |tx| {
                let now = self.clock.now();
                // One more than asked tells whether another page follows.
                let mut rows = products::list(
                    tx,
                    scope,
                    &command.filter,
                    command.after.as_ref(),
                    u64::from(command.page_size.get()) + 1,
                )
                .await?;
                let has_more = rows.len() > page_size;
                rows.truncate(page_size);
                let next_page_token = match rows.last() {
                    Some(last) if has_more => Some(encode_page_token(
                        &Cursor {
                            created_at: last.created_at,
                            id: last.id,
                        },
                        &command.filter,
                    )),
                    Some(_) | None => None,
                };
                let products = assemble_products(tx, rows, now).await?;
                Ok(ProductPage {
                    products,
                    next_page_token,
                })
            }
        )
    }
}
