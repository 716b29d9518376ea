//! CreateVariant, UpdateVariant and DiscontinueVariant.

use ecommerce_db::transaction;
use tracing::instrument;

use super::{
    CatalogApp, CatalogError, check_replay, emit, get_product, get_variant,
    lock_product_then_variant, variant_with_prices,
};
use crate::domain::actor::RequestContext;
use crate::domain::commands::{CreateVariant, DiscontinueVariant, UpdateVariant};
use crate::domain::error::{DomainError, Resource};
use crate::domain::events::CatalogEvent;
use crate::domain::lifecycle::VariantStatus;
use crate::domain::model::{Variant, VariantId, variant_changes};
use crate::storage::Lock;
use crate::storage::variants::{self, NewVariant};

impl CatalogApp {
    /// CreateVariant: an ACTIVE variant at version 1 and
    /// `catalog.variant.created.v1`; ALREADY_EXISTS naming the SKU when it
    /// is taken. Idempotent on the command's key.
    #[instrument(skip_all, fields(product_id = %command.product_id, sku = %command.sku), err(level = "info"))]
    pub async fn create_variant(
        &self,
        context: &RequestContext,
        command: CreateVariant,
    ) -> Result<Variant, CatalogError> {
        context.actor.require_admin()?;
        let fingerprint = command.fingerprint();
        let idempotency = command
            .idempotency_key
            .as_ref()
            .map(|key| (key, fingerprint));
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(CatalogError, "create_variant", outbox.begin(db), |tx| {
            let now = self.clock.now();
            if let Some((key, _)) = idempotency {
                if let Some(existing) = variants::find_by_idempotency_key(tx, key).await? {
                    check_replay(existing.request_fingerprint.as_deref(), fingerprint)?;
                    return variant_with_prices(tx, existing, now).await;
                }
            }
            // FOR SHARE: the product cannot be archived until this commits.
            let product = get_product(tx, command.product_id, Lock::Share).await?;
            if product.status.is_terminal() {
                return Err(CatalogError::failed_precondition(format!(
                    "product {} is {}: variants cannot be added",
                    product.id, product.status
                )));
            }
            let new = NewVariant {
                id: VariantId::generate(),
                product_id: product.id,
                sku: &command.sku,
                attributes: &command.attributes,
                idempotency,
                now,
            };
            let Some(stored) = variants::insert(tx, new).await? else {
                let (key, _) = idempotency.ok_or_else(|| {
                    CatalogError::internal("variant insert conflicted without an idempotency key")
                })?;
                let existing = variants::find_by_idempotency_key(tx, key)
                    .await?
                    .ok_or_else(|| {
                        CatalogError::internal("idempotency key conflict without a row")
                    })?;
                check_replay(existing.request_fingerprint.as_deref(), fingerprint)?;
                return variant_with_prices(tx, existing, now).await;
            };
            let variant = stored.into_variant(Vec::new());
            emit(tx, context, &CatalogEvent::VariantCreated(&variant), now).await?;
            Ok(variant)
        })
    }

    /// UpdateVariant: replaces the attributes; when they change, bumps the
    /// version and emits `catalog.variant.updated.v1`.
    #[instrument(skip_all, fields(variant_id = %command.variant_id), err(level = "info"))]
    pub async fn update_variant(
        &self,
        context: &RequestContext,
        command: UpdateVariant,
    ) -> Result<Variant, CatalogError> {
        context.actor.require_admin()?;
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(CatalogError, "update_variant", outbox.begin(db), |tx| {
            let now = self.clock.now();
            let (product, current) = lock_product_then_variant(tx, command.variant_id).await?;
            current.version.check_expected(
                command.expected_version,
                Resource::Variant,
                current.id,
            )?;
            if current.status == VariantStatus::Discontinued {
                return Err(CatalogError::failed_precondition(format!(
                    "variant {} is {}: it cannot be edited",
                    current.id, current.status
                )));
            }
            if product.status.is_terminal() {
                return Err(CatalogError::failed_precondition(format!(
                    "product {} is {}: its variants cannot be edited",
                    product.id, product.status
                )));
            }
            let changed = variant_changes(&current.attributes, &command.attributes);
            if changed.is_empty() {
                return variant_with_prices(tx, current, now).await;
            }
            let updated = variants::update_attributes(
                tx,
                current.id,
                current.version,
                &command.attributes,
                now,
            )
            .await?;
            let variant = variant_with_prices(tx, updated, now).await?;
            let event = CatalogEvent::VariantUpdated {
                variant: &variant,
                changed: &changed,
            };
            emit(tx, context, &event, now).await?;
            Ok(variant)
        })
    }

    /// DiscontinueVariant: ACTIVE -> DISCONTINUED (FAILED_PRECONDITION
    /// naming the state otherwise) and `catalog.variant.discontinued.v1`.
    /// Allowed whatever the product's state: retiring a SKU is always safe.
    #[instrument(skip_all, fields(variant_id = %command.variant_id), err(level = "info"))]
    pub async fn discontinue_variant(
        &self,
        context: &RequestContext,
        command: DiscontinueVariant,
    ) -> Result<Variant, CatalogError> {
        context.actor.require_admin()?;
        let (outbox, db) = (&self.outbox, &self.db);
        transaction!(
            CatalogError,
            "discontinue_variant",
            outbox.begin(db),
            |tx| {
                let now = self.clock.now();
                let current = get_variant(tx, command.variant_id, Lock::Update).await?;
                current.version.check_expected(
                    command.expected_version,
                    Resource::Variant,
                    current.id,
                )?;
                let target = VariantStatus::Discontinued;
                if !current.status.can_become(target) {
                    return Err(DomainError::IllegalVariantTransition {
                        variant_id: current.id.to_string(),
                        from: current.status,
                        to: target,
                    }
                    .into());
                }
                let updated =
                    variants::update_status(tx, current.id, current.version, target, now).await?;
                let variant = variant_with_prices(tx, updated, now).await?;
                emit(
                    tx,
                    context,
                    &CatalogEvent::VariantDiscontinued(&variant),
                    now,
                )
                .await?;
                Ok(variant)
            }
        )
    }
}
