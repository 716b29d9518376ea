//! The cart use cases, one method per RPC. Each write runs in one
//! transaction that locks the cart row (`FOR UPDATE`) and writes it whole
//! guarded by its version; a transaction that fails on a serialization
//! failure, deadlock or lost race is run again from the start (the shared
//! [`transaction!`]). Catalog is asked for prices outside transactions.
//!
//! The other services are reached through [`ports`], in the domain's terms;
//! their gRPC clients are `crate::upstream`. Catalog's events arrive as
//! [`CatalogChange`]s through [`CartApp::apply_catalog_change`], inside the
//! inbox's transaction.

pub mod cleanup;
mod error;
pub mod ports;
pub mod settings;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ecommerce_db::transaction;
use ecommerce_kernel::Clock;
use ecommerce_platform::grpc::ErrorCode;
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait as _};
use tracing::instrument;
use uuid::Uuid;

pub use self::error::AppError;
use self::ports::{OrderPlacer, PriceQuoter, ShippingPricer};
use self::settings::CartSettings;
use crate::domain::{
    Cart, CartId, CatalogChange, CatalogItem, CheckoutAttempt, CheckoutContent, CheckoutSnapshot,
    KeyScope, Owner, PriceQuote, PricedCart, Quantity, Redacted, Replay, Sku, price_cart,
    scoped_checkout_key,
};
use crate::storage;

/// Who calls: a signed-in user, or an anonymous shopper. Its `Debug`
/// hides the bearer token.
#[derive(Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: Option<Uuid>,
    /// The caller's access token, forwarded to orders at checkout.
    pub bearer: Option<String>,
    pub correlation_id: String,
    /// The client's IP address (the gRPC peer's), which the anonymous-cart
    /// creation limit counts by; empty when the transport does not say.
    pub client_address: String,
}

impl fmt::Debug for Caller {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so a new field cannot be left out (or leak) silently.
        let Self {
            user_id,
            bearer,
            correlation_id,
            client_address,
        } = self;
        formatter
            .debug_struct("Caller")
            .field("user_id", user_id)
            .field("bearer", &bearer.as_ref().map(|_| Redacted))
            .field("correlation_id", correlation_id)
            .field("client_address", client_address)
            .finish()
    }
}

/// Which cart a request names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CartRef {
    /// An explicit cart id.
    Id(CartId),
    /// The caller's own cart (empty `cart_id`).
    Own,
}

/// AddItem, converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddItem {
    pub cart: CartRef,
    pub sku: Sku,
    pub quantity: Quantity,
    pub idempotency_key: Option<String>,
    pub expected_version: Option<i64>,
}

/// UpdateItem, converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateItem {
    pub cart: CartRef,
    pub sku: Sku,
    pub quantity: Quantity,
    pub expected_version: Option<i64>,
}

/// RemoveItem, converted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoveItem {
    pub cart: CartRef,
    pub sku: Sku,
    pub expected_version: Option<i64>,
}

/// Checkout, converted. Its `Debug` hides the payment method token.
#[derive(Clone, PartialEq, Eq)]
pub struct Checkout {
    pub cart: CartRef,
    pub shipping_option_id: Uuid,
    pub payment_method_token: String,
    pub idempotency_key: Option<String>,
    pub expected_version: Option<i64>,
}

impl fmt::Debug for Checkout {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so a new field cannot be left out (or leak) silently.
        let Self {
            cart,
            shipping_option_id,
            payment_method_token: _,
            idempotency_key,
            expected_version,
        } = self;
        formatter
            .debug_struct("Checkout")
            .field("cart", cart)
            .field("shipping_option_id", shipping_option_id)
            .field("payment_method_token", &Redacted)
            .field("idempotency_key", idempotency_key)
            .field("expected_version", expected_version)
            .finish()
    }
}

/// The placed order, as Checkout answers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedCheckout {
    pub order_id: Uuid,
    /// Orders' `OrderStatus` number, passed through to the caller as is.
    pub order_status: i32,
}

/// The cart application: cheap to clone, shared by handlers and the consumer.
#[derive(Clone, Debug)]
pub struct CartApp {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: DatabaseConnection,
    settings: CartSettings,
    quoter: Arc<dyn PriceQuoter>,
    shipping: Arc<dyn ShippingPricer>,
    placer: Arc<dyn OrderPlacer>,
    clock: Arc<dyn Clock>,
}

/// What the app talks to besides its database.
#[derive(Clone, Debug)]
pub struct Dependencies {
    pub quoter: Arc<dyn PriceQuoter>,
    pub shipping: Arc<dyn ShippingPricer>,
    pub placer: Arc<dyn OrderPlacer>,
    /// `SystemClock` in the service, a `ManualClock` in tests that move time.
    pub clock: Arc<dyn Clock>,
}

fn not_found(cart: CartRef) -> AppError {
    match cart {
        CartRef::Id(id) => AppError::NotFound(format!("no cart {id}")),
        CartRef::Own => AppError::NotFound("the caller has no cart".to_owned()),
    }
}

impl CartApp {
    /// `db` must be migrated with `cart_migration::Migrator`.
    pub fn new(db: DatabaseConnection, settings: CartSettings, dependencies: Dependencies) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                settings,
                quoter: dependencies.quoter,
                shipping: dependencies.shipping,
                placer: dependencies.placer,
                clock: dependencies.clock,
            }),
        }
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.inner.db
    }

    pub fn settings(&self) -> &CartSettings {
        &self.inner.settings
    }

    fn currency(&self) -> &str {
        &self.inner.settings.currency
    }

    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The cart `cart` names for `caller`, without a lock; NOT_FOUND when
    /// it does not exist or belongs to someone else (its existence is not
    /// revealed).
    async fn read_cart(&self, caller: &Caller, cart: CartRef) -> Result<Cart, AppError> {
        let found = match cart {
            CartRef::Id(id) => storage::find_cart(&self.inner.db, id, false).await?,
            CartRef::Own => match caller.user_id {
                Some(user_id) => match storage::find_user_cart_id(&self.inner.db, user_id).await? {
                    Some(id) => storage::find_cart(&self.inner.db, id, false).await?,
                    None => None,
                },
                None => None,
            },
        };
        found
            .filter(|found| found.is_reachable_by(caller.user_id))
            .ok_or_else(|| not_found(cart))
    }

    /// Prices `cart` with catalog's current quotes.
    async fn price(&self, cart: Cart) -> Result<PricedCart, AppError> {
        self.price_with(cart, Vec::new()).await
    }

    /// Prices `cart` with `fresh` quotes (taken by this same call, in the
    /// service's currency) and catalog's for its other SKUs: AddItem and
    /// UpdateItem quote their SKU before writing and need not ask again.
    async fn price_with(
        &self,
        cart: Cart,
        mut fresh: Vec<PriceQuote>,
    ) -> Result<PricedCart, AppError> {
        if cart.currency != self.currency() {
            fresh.clear();
        }
        let missing: Vec<Sku> = cart
            .lines
            .iter()
            .filter(|line| !fresh.iter().any(|quote| quote.sku == line.sku.as_str()))
            .map(|line| line.sku.clone())
            .collect();
        if !missing.is_empty() {
            fresh.extend(self.inner.quoter.quote(&missing, &cart.currency).await?);
        }
        Ok(price_cart(cart, &fresh)?)
    }

    /// GetCart. The cart shows every price that changed since the shopper
    /// last saw it (`price_changed`) and, having shown them, records them
    /// as seen: Checkout charges only prices the shopper was shown.
    #[instrument(skip_all, err(level = "info"))]
    pub async fn get_cart(&self, caller: &Caller, cart: CartRef) -> Result<PricedCart, AppError> {
        let found = self.read_cart(caller, cart).await?;
        let priced = self.price(found).await?;
        let seen: Vec<(Sku, i64)> = priced
            .price_changes()
            .into_iter()
            .map(|change| (change.sku, change.unit_price_minor))
            .collect();
        if !seen.is_empty() {
            let (db, cart_id) = (&self.inner.db, priced.cart.id);
            transaction!(AppError, "mark_prices_seen", db.begin(), |tx| {
                storage::mark_prices_seen(tx, cart_id, &seen).await?;
                Ok(())
            })?;
        }
        Ok(priced)
    }

    /// AddItem: the SKU must be sellable now (FAILED_PRECONDITION
    /// otherwise). A key the same caller used before returns that cart
    /// unchanged; keys are scoped to the caller ([`KeyScope`]), so another
    /// caller's use of the same key is another operation.
    #[instrument(skip_all, fields(sku = command.sku.as_str()), err(level = "info"))]
    pub async fn add_item(
        &self,
        caller: &Caller,
        command: AddItem,
    ) -> Result<PricedCart, AppError> {
        let named_cart = match command.cart {
            CartRef::Id(id) => Some(id),
            CartRef::Own => None,
        };
        let scope = KeyScope::of(caller.user_id, named_cart);
        // The key is looked up once, in the writing transaction below; a
        // retry therefore quotes again (retries are rare, a lookup on every
        // AddItem was not). Only a retry whose SKU is no longer sellable
        // needs the key first, to answer with the cart rather than refuse.
        let (quotes, item) = match self.sellable_item(&command.sku).await {
            Ok(sellable) => sellable,
            Err(refusal) => {
                if let Some(key) = &command.idempotency_key
                    && let Some(cart_id) =
                        storage::find_idempotency_key(&self.inner.db, scope, key).await?
                {
                    return self.get_cart(caller, CartRef::Id(cart_id)).await;
                }
                return Err(refusal);
            }
        };
        let db = &self.inner.db;
        let cart = transaction!(AppError, "add_item", db.begin(), |tx| {
            if let Some(key) = &command.idempotency_key
                && let Some(cart_id) = storage::find_idempotency_key(tx, scope, key).await?
            {
                let existing = storage::find_cart(tx, cart_id, false)
                    .await?
                    .filter(|cart| cart.is_reachable_by(caller.user_id))
                    .ok_or_else(|| not_found(CartRef::Id(cart_id)))?;
                return Ok(existing);
            }
            let (mut cart, read_version) = self.lock_or_create(tx, caller, command.cart).await?;
            if cart.currency != self.currency() {
                return Err(AppError::FailedPrecondition(format!(
                    "the cart holds {}, not {}",
                    cart.currency,
                    self.currency()
                )));
            }
            cart.add_item(
                command.sku.clone(),
                command.quantity,
                item.clone(),
                command.expected_version,
                self.now(),
            )?;
            storage::save_cart(tx, &cart, read_version).await?;
            if let Some(key) = &command.idempotency_key {
                storage::insert_idempotency_key(tx, scope, key, cart.id, self.now()).await?;
            }
            Ok(cart)
        })?;
        self.price_with(cart, quotes).await
    }

    /// Catalog's quote of `sku` and the line it makes; FAILED_PRECONDITION
    /// when the SKU is not sellable now.
    async fn sellable_item(&self, sku: &Sku) -> Result<(Vec<PriceQuote>, CatalogItem), AppError> {
        let quotes = self
            .inner
            .quoter
            .quote(std::slice::from_ref(sku), self.currency())
            .await?;
        let quote = quotes
            .iter()
            .find(|quote| quote.sku == sku.as_str())
            .ok_or_else(|| {
                AppError::FailedPrecondition(format!("SKU {:?} is not sellable", sku.as_str()))
            })?;
        if let Some(reason) = quote.unavailable_reason() {
            return Err(AppError::FailedPrecondition(format!(
                "SKU {:?} is not sellable: {}",
                sku.as_str(),
                reason.as_stored()
            )));
        }
        let item = match (quote.variant_id, quote.product_id, quote.unit_price_minor) {
            (Some(variant_id), Some(product_id), Some(unit_price_minor)) => CatalogItem {
                variant_id,
                product_id,
                title: quote.title.clone(),
                unit_price_minor,
            },
            _ => {
                return Err(AppError::internal(anyhow::anyhow!(
                    "catalog quoted {:?} available without ids or price",
                    sku.as_str()
                )));
            }
        };
        Ok((quotes, item))
    }

    /// The cart to add to, locked; a new one (read version `None`) for the
    /// caller's own cart when it has none, or for an anonymous caller.
    async fn lock_or_create(
        &self,
        transaction: &DatabaseTransaction,
        caller: &Caller,
        cart: CartRef,
    ) -> Result<(Cart, Option<i64>), AppError> {
        let existing_id = match cart {
            CartRef::Id(id) => Some(id),
            CartRef::Own => match caller.user_id {
                Some(user_id) => storage::find_user_cart_id(transaction, user_id).await?,
                None => None,
            },
        };
        if let Some(id) = existing_id {
            let locked = storage::find_cart(transaction, id, true)
                .await?
                .filter(|found| found.is_reachable_by(caller.user_id))
                .ok_or_else(|| not_found(cart))?;
            let version = locked.version;
            return Ok((locked, Some(version)));
        }
        let owner = caller.user_id.map_or(Owner::Anonymous, Owner::User);
        let created = Cart::new(
            CartId::generate(),
            owner,
            self.currency().to_owned(),
            self.now(),
        );
        if owner == Owner::Anonymous {
            self.count_anonymous_creation(transaction, caller, created.id)
                .await?;
        }
        Ok((created, None))
    }

    /// Counts the creation of anonymous cart `cart_id` against the
    /// caller's address, or refuses it (RESOURCE_EXHAUSTED with a retry
    /// delay) when the address used up its creations of the last minute.
    /// In the creating transaction, after the creations before it from the
    /// same address committed, so a burst cannot pass on a stale count.
    async fn count_anonymous_creation(
        &self,
        transaction: &DatabaseTransaction,
        caller: &Caller,
        cart_id: CartId,
    ) -> Result<(), AppError> {
        let policy = self.inner.settings.anonymous;
        let now = self.now();
        let address = caller.client_address.as_str();
        storage::serialize_anonymous_creations(transaction, address).await?;
        let recent =
            storage::recent_anonymous_creations(transaction, address, policy.window_start(now))
                .await?;
        if let Err(refused) = policy.check_creation(recent, now) {
            tracing::info!(
                client_address = address,
                recent = recent.count,
                "anonymous cart creation throttled"
            );
            return Err(refused.into());
        }
        storage::record_anonymous_creation(transaction, cart_id, address, now).await?;
        Ok(())
    }

    /// One cleanup step: deletes up to `CART_ANONYMOUS_CLEANUP_BATCH`
    /// anonymous carts unchanged for `CART_ANONYMOUS_TTL_HOURS`, with their
    /// lines, in one transaction. Returns how many went; fewer than the
    /// batch means none is left.
    #[instrument(skip_all, err)]
    pub async fn delete_expired_anonymous_carts(&self) -> Result<u64, AppError> {
        let before = self.inner.settings.anonymous.expired_before(self.now());
        let limit = self.inner.settings.anonymous_cleanup_batch;
        let db = &self.inner.db;
        transaction!(
            AppError,
            "delete_expired_anonymous_carts",
            db.begin(),
            |tx| { Ok(storage::delete_expired_anonymous_carts(tx, before, limit).await?) }
        )
    }

    /// Forgets anonymous-cart creations that no longer count toward the
    /// limit. Returns how many went.
    #[instrument(skip_all, err)]
    pub async fn prune_anonymous_creations(&self) -> Result<u64, AppError> {
        let before = self.inner.settings.anonymous.window_start(self.now());
        let db = &self.inner.db;
        transaction!(AppError, "prune_anonymous_creations", db.begin(), |tx| {
            Ok(storage::prune_anonymous_creations(tx, before).await?)
        })
    }

    /// The existing cart `cart` names, locked.
    async fn lock_existing(
        transaction: &DatabaseTransaction,
        caller: &Caller,
        cart: CartRef,
    ) -> Result<Cart, AppError> {
        let id = match cart {
            CartRef::Id(id) => Some(id),
            CartRef::Own => match caller.user_id {
                Some(user_id) => storage::find_user_cart_id(transaction, user_id).await?,
                None => None,
            },
        };
        let Some(id) = id else {
            return Err(not_found(cart));
        };
        storage::find_cart(transaction, id, true)
            .await?
            .filter(|found| found.is_reachable_by(caller.user_id))
            .ok_or_else(|| not_found(cart))
    }

    /// UpdateItem: sets the quantity of a line (NOT_FOUND when absent).
    #[instrument(skip_all, fields(sku = command.sku.as_str()), err(level = "info"))]
    pub async fn update_item(
        &self,
        caller: &Caller,
        command: UpdateItem,
    ) -> Result<PricedCart, AppError> {
        // The price the shopper will see now, so `price_changed` clears.
        let quotes = self
            .inner
            .quoter
            .quote(std::slice::from_ref(&command.sku), self.currency())
            .await?;
        let seen_price = quotes
            .iter()
            .find(|quote| quote.sku == command.sku.as_str())
            .and_then(|quote| quote.unit_price_minor);
        let db = &self.inner.db;
        let cart = transaction!(AppError, "update_item", db.begin(), |tx| {
            let mut cart = Self::lock_existing(tx, caller, command.cart).await?;
            let read_version = cart.version;
            cart.update_item(
                &command.sku,
                command.quantity,
                seen_price,
                command.expected_version,
                self.now(),
            )?;
            storage::save_cart(tx, &cart, Some(read_version)).await?;
            Ok(cart)
        })?;
        self.price_with(cart, quotes).await
    }

    /// RemoveItem: an absent SKU is a no-op.
    #[instrument(skip_all, fields(sku = command.sku.as_str()), err(level = "info"))]
    pub async fn remove_item(
        &self,
        caller: &Caller,
        command: RemoveItem,
    ) -> Result<PricedCart, AppError> {
        let db = &self.inner.db;
        let cart = transaction!(AppError, "remove_item", db.begin(), |tx| {
            let mut cart = Self::lock_existing(tx, caller, command.cart).await?;
            let read_version = cart.version;
            if cart.remove_item(&command.sku, command.expected_version, self.now())? {
                storage::save_cart(tx, &cart, Some(read_version)).await?;
            }
            Ok(cart)
        })?;
        self.price(cart).await
    }

    /// MergeCarts: the anonymous cart's lines into the caller's cart; the
    /// anonymous cart is deleted. A cart already merged by this caller
    /// returns the caller's cart unchanged.
    #[instrument(skip_all, fields(%anonymous_cart_id), err(level = "info"))]
    pub async fn merge_carts(
        &self,
        caller: &Caller,
        anonymous_cart_id: CartId,
    ) -> Result<PricedCart, AppError> {
        let user_id = caller
            .user_id
            .ok_or_else(|| AppError::Unauthenticated("MergeCarts requires sign-in".to_owned()))?;
        let db = &self.inner.db;
        let cart = transaction!(AppError, "merge_carts", db.begin(), |tx| {
            if let Some(merged_into) = storage::find_merge(tx, anonymous_cart_id).await? {
                if merged_into != user_id {
                    return Err(AppError::NotFound(format!("no cart {anonymous_cart_id}")));
                }
                let mine = Self::lock_existing(tx, caller, CartRef::Own).await?;
                return Ok(mine);
            }
            let anonymous = storage::find_cart(tx, anonymous_cart_id, true)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("no cart {anonymous_cart_id}")))?;
            if let Owner::User(owner) = anonymous.owner {
                if owner == user_id {
                    // Merging one's own cart into itself changes nothing.
                    return Ok(anonymous);
                }
                return Err(AppError::PermissionDenied(
                    "only an anonymous cart can be merged".to_owned(),
                ));
            }
            let (mut mine, read_version) = self.lock_or_create(tx, caller, CartRef::Own).await?;
            mine.merge_from(&anonymous, self.now());
            storage::save_cart(tx, &mine, read_version).await?;
            storage::delete_cart(tx, anonymous.id).await?;
            storage::insert_merge(tx, anonymous.id, user_id, self.now()).await?;
            Ok(mine)
        })?;
        self.price(cart).await
    }

    /// Checkout: prices the cart, signs a snapshot, stores it as the
    /// attempt of the caller's idempotency key and places the order with
    /// orders on the shopper's behalf; then takes the ordered lines out of
    /// the cart.
    ///
    /// A retried checkout is the same checkout. Keys are the caller's: a
    /// retry with the same key and the same cart (lines and shipping
    /// option) resends the bytes stored first, without pricing again, so
    /// orders answers with the order it placed from them; the same key with
    /// another cart is FAILED_PRECONDITION naming `idempotency_key`. A key
    /// whose order is recorded returns that order.
    ///
    /// A price that changed since the shopper last read the cart is not
    /// charged silently: FAILED_PRECONDITION listing the lines, until
    /// GetCart shows (and so accepts) them.
    #[instrument(skip_all, fields(checkout_key, order_id), err(level = "info"))]
    pub async fn checkout(
        &self,
        caller: &Caller,
        command: Checkout,
    ) -> Result<PlacedCheckout, AppError> {
        let (Some(user_id), Some(bearer)) = (caller.user_id, caller.bearer.as_deref()) else {
            return Err(AppError::Unauthenticated(
                "Checkout requires sign-in".to_owned(),
            ));
        };
        let cart = self.read_cart(caller, command.cart).await?;
        if cart.owner != Owner::User(user_id) {
            return Err(AppError::PermissionDenied(
                "an anonymous cart cannot be checked out; sign in and merge it first".to_owned(),
            ));
        }
        let idempotency_key = command
            .idempotency_key
            .clone()
            .unwrap_or_else(|| cart.default_checkout_key());
        tracing::Span::current().record("checkout_key", idempotency_key.as_str());
        let content = CheckoutContent::of(&cart, command.shipping_option_id);
        let attempt =
            match storage::find_checkout(&self.inner.db, user_id, &idempotency_key).await? {
                Some(stored) => stored,
                None => {
                    self.store_attempt(user_id, idempotency_key, content, cart, &command)
                        .await?
                }
            };
        let signed = match attempt.replay(&content)? {
            Replay::Placed {
                order_id,
                order_status,
            } => {
                return Ok(PlacedCheckout {
                    order_id,
                    order_status,
                });
            }
            Replay::Resend(signed) => signed,
        };
        let placed = match self
            .inner
            .placer
            .place_order(signed, bearer, &caller.correlation_id)
            .await
        {
            Ok(placed) => placed,
            Err(refused) => return Err(self.refused_attempt(&attempt, refused).await?),
        };
        tracing::Span::current().record("order_id", tracing::field::display(placed.order_id));
        self.record_order(&attempt, &placed).await?;
        Ok(placed)
    }

    /// A new checkout of `cart` under `idempotency_key`: priced, checked,
    /// signed and stored before orders is called. Returns the attempt that
    /// stands: this one, or a concurrent one with the same key stored
    /// first (whose bytes are the ones to send).
    async fn store_attempt(
        &self,
        user_id: Uuid,
        idempotency_key: String,
        content: CheckoutContent,
        cart: Cart,
        command: &Checkout,
    ) -> Result<CheckoutAttempt, AppError> {
        cart.check_version(command.expected_version)?;
        let priced = self.price(cart).await?;
        priced.checkout_lines()?;
        priced.check_prices_seen()?;
        let shipping_price = self
            .inner
            .shipping
            .shipping_price(command.shipping_option_id, &priced.cart.currency)
            .await?;
        let snapshot = CheckoutSnapshot::of(
            &priced,
            user_id,
            command.shipping_option_id,
            shipping_price,
            command.payment_method_token.clone(),
            scoped_checkout_key(user_id, &idempotency_key),
            self.now(),
        )?;
        let signed = self.inner.placer.sign(&snapshot)?;
        let attempt = CheckoutAttempt::new(&snapshot, idempotency_key, content, signed);
        let db = &self.inner.db;
        transaction!(AppError, "store_checkout_attempt", db.begin(), |tx| {
            storage::insert_checkout_attempt(tx, &attempt, self.now()).await?;
            storage::find_checkout(tx, attempt.user_id, &attempt.idempotency_key)
                .await?
                .ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!(
                        "the checkout attempt {:?} was stored but cannot be read back",
                        attempt.idempotency_key
                    ))
                })
        })
    }

    /// What orders' refusal of `attempt` means. An attempt whose snapshot
    /// expired was never placed when orders refuses it (orders answers an
    /// expired snapshot it placed with the order), so it is forgotten and
    /// the key may start again; any other refusal leaves it to be resent.
    async fn refused_attempt(
        &self,
        attempt: &CheckoutAttempt,
        refused: AppError,
    ) -> Result<AppError, AppError> {
        let expired_unplaced = matches!(
            refused,
            AppError::Upstream {
                code: ErrorCode::FailedPrecondition,
                ..
            }
        ) && attempt.has_expired(self.now());
        if !expired_unplaced {
            return Ok(refused);
        }
        let db = &self.inner.db;
        transaction!(AppError, "forget_expired_checkout", db.begin(), |tx| {
            storage::delete_pending_checkout(tx, attempt.user_id, &attempt.idempotency_key).await?;
            Ok(())
        })?;
        Ok(AppError::FailedPrecondition(
            "the checkout expired before the order was placed; check out again".to_owned(),
        ))
    }

    /// Records the order orders placed for `attempt` and takes its ordered
    /// lines out of the cart, once (a concurrent retry finds it recorded).
    async fn record_order(
        &self,
        attempt: &CheckoutAttempt,
        placed: &PlacedCheckout,
    ) -> Result<(), AppError> {
        let db = &self.inner.db;
        transaction!(AppError, "record_checkout", db.begin(), |tx| {
            let recorded = storage::record_checkout_order(
                tx,
                attempt.user_id,
                &attempt.idempotency_key,
                placed.order_id,
                placed.order_status,
            )
            .await?;
            if !recorded {
                return Ok(());
            }
            let Some(mut cart) = storage::find_cart(tx, attempt.cart_id, true).await? else {
                return Ok(());
            };
            let read_version = cart.version;
            if cart.remove_ordered(&attempt.ordered_lines, self.now()) {
                storage::save_cart(tx, &cart, Some(read_version)).await?;
            }
            Ok(())
        })
    }

    /// A catalog change, inside the inbox's `transaction`: flags the lines
    /// it makes unbuyable (they block checkout until added again). Returns
    /// how many lines it flagged. Cart emits nothing in reply.
    pub async fn apply_catalog_change(
        &self,
        transaction: &DatabaseTransaction,
        change: &CatalogChange,
    ) -> Result<u64, AppError> {
        let reason = change.reason();
        let flagged = match change {
            CatalogChange::ProductArchived { product_id } => {
                storage::flag_lines_by_product(transaction, *product_id, reason).await?
            }
            CatalogChange::VariantDiscontinued { sku } => {
                storage::flag_lines_by_sku(transaction, sku, reason).await?
            }
        };
        Ok(flagged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(bearer: Option<&str>) -> Caller {
        Caller {
            user_id: Some(Uuid::from_u128(7)),
            bearer: bearer.map(str::to_owned),
            correlation_id: "corr-1".to_owned(),
            client_address: "10.0.0.7".to_owned(),
        }
    }

    #[test]
    fn caller_debug_hides_the_bearer_token() {
        let signed_in = caller(Some("secret-access-token"));
        for debug in [format!("{signed_in:?}"), format!("{signed_in:#?}")] {
            assert!(!debug.contains("secret-access-token"), "{debug}");
            assert!(debug.contains("<redacted>"), "{debug}");
            assert!(debug.contains("corr-1"), "{debug}");
            assert!(debug.contains(&Uuid::from_u128(7).to_string()), "{debug}");
        }
        assert!(format!("{signed_in:?}").contains("bearer: Some(<redacted>)"));
        let anonymous = caller(None);
        assert!(format!("{anonymous:?}").contains("bearer: None"));
    }

    #[test]
    fn checkout_debug_hides_the_payment_method_token() {
        let command = Checkout {
            cart: CartRef::Own,
            shipping_option_id: Uuid::from_u128(3),
            payment_method_token: "pm_secret_visa".to_owned(),
            idempotency_key: Some("key-1".to_owned()),
            expected_version: Some(4),
        };
        for debug in [format!("{command:?}"), format!("{command:#?}")] {
            assert!(!debug.contains("pm_secret_visa"), "{debug}");
            assert!(debug.contains("<redacted>"), "{debug}");
            assert!(debug.contains("key-1"), "{debug}");
            assert!(debug.contains(&Uuid::from_u128(3).to_string()), "{debug}");
        }
    }
}
