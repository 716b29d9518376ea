//! The cart aggregate.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{CartError, OrderedLine};

/// Most units of one SKU in one cart.
pub const MAX_LINE_QUANTITY: i32 = 99;
/// Most lines one cart holds (what one checkout snapshot may carry).
pub const MAX_CART_LINES: usize = ecommerce_checkout::MAX_LINES;

ecommerce_kernel::uuid_id!(
    /// A cart id (UUID v7).
    CartId
);

/// The saga's SKU type, shared with inventory and fulfillment: a cart line
/// must name the same key the other services store.
pub use ecommerce_kernel::Sku;

/// The `sku` field of a request, as a [`Sku`].
pub fn parse_sku(raw: &str) -> Result<Sku, CartError> {
    Sku::parse(raw).map_err(|invalid| CartError::Invalid {
        field: "sku",
        reason: invalid.0,
    })
}

/// The saga's quantity type: a checkout line carries it to orders and
/// inventory as is. The cart's own upper bound ([`MAX_LINE_QUANTITY`]) is a
/// rule of the cart, checked by [`parse_quantity`] and the cart's writes.
pub use ecommerce_kernel::Quantity;

/// The `quantity` field of a request: 1 to [`MAX_LINE_QUANTITY`].
pub fn parse_quantity(raw: i32) -> Result<Quantity, CartError> {
    let invalid = |reason: String| CartError::Invalid {
        field: "quantity",
        reason,
    };
    let quantity = Quantity::new(raw).map_err(|invalid_value| invalid(invalid_value.0))?;
    if raw > MAX_LINE_QUANTITY {
        return Err(invalid(format!(
            "must be at most {MAX_LINE_QUANTITY}, got {raw}"
        )));
    }
    Ok(quantity)
}

/// The `cart_id`-like field `field` of a request, as a [`CartId`].
pub fn parse_cart_id(raw: &str, field: &'static str) -> Result<CartId, CartError> {
    CartId::parse(raw).map_err(|invalid| CartError::Invalid {
        field,
        reason: invalid.0,
    })
}

/// `units` of `sku` as a line's quantity, [`CartError::LimitExceeded`] past
/// [`MAX_LINE_QUANTITY`]. The kernel's [`Quantity`] only bounds it below.
fn line_quantity(sku: &Sku, units: i64) -> Result<Quantity, CartError> {
    i32::try_from(units)
        .ok()
        .filter(|units| *units <= MAX_LINE_QUANTITY)
        .and_then(|units| Quantity::new(units).ok())
        .ok_or_else(|| {
            CartError::LimitExceeded(format!(
                "a line holds at most {MAX_LINE_QUANTITY} units; {sku:?} would have {units}",
                sku = sku.as_str()
            ))
        })
}

/// Whose operation an AddItem idempotency key names: the same key from two
/// callers is two operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyScope {
    /// A signed-in caller, whatever cart it names.
    User(Uuid),
    /// An anonymous caller naming an anonymous cart.
    AnonymousCart(CartId),
    /// An anonymous caller without a cart (AddItem creates one): the key is
    /// all there is to tell callers apart, so it must be unguessable.
    NewAnonymousCart,
}

impl KeyScope {
    /// The scope of a call by `user_id` (none when anonymous) naming `cart`
    /// (none for the caller's own, or a new, cart).
    pub fn of(user_id: Option<Uuid>, cart: Option<CartId>) -> Self {
        match (user_id, cart) {
            (Some(user_id), _) => Self::User(user_id),
            (None, Some(cart_id)) => Self::AnonymousCart(cart_id),
            (None, None) => Self::NewAnonymousCart,
        }
    }

    /// The stored form (`cart_idempotency_keys.scope`).
    pub fn as_stored(&self) -> String {
        match self {
            Self::User(user_id) => format!("user:{user_id}"),
            Self::AnonymousCart(cart_id) => format!("cart:{cart_id}"),
            Self::NewAnonymousCart => "anonymous".to_owned(),
        }
    }
}

/// Who a cart belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// Reachable by anyone who holds its id.
    Anonymous,
    /// Reachable only by this user.
    User(Uuid),
}

/// Why a line cannot be bought, as far as the cart's own records go
/// (catalog events). Quotes add their own reasons at read time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnavailableReason {
    NotFound,
    NotPublished,
    Discontinued,
    NotPriced,
}

impl UnavailableReason {
    /// The stored form (only the reasons catalog events set are stored).
    pub fn as_stored(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::NotPublished => "not_published",
            Self::Discontinued => "discontinued",
            Self::NotPriced => "not_priced",
        }
    }

    pub fn from_stored(raw: &str) -> Option<Self> {
        match raw {
            "not_found" => Some(Self::NotFound),
            "not_published" => Some(Self::NotPublished),
            "discontinued" => Some(Self::Discontinued),
            "not_priced" => Some(Self::NotPriced),
            _ => None,
        }
    }
}

/// A catalog change that makes lines unbuyable until they are added again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogChange {
    /// A product archived: its lines are no longer published.
    ProductArchived { product_id: Uuid },
    /// A variant discontinued: the lines of its SKU.
    VariantDiscontinued { sku: Sku },
}

impl CatalogChange {
    /// The flag the change sets on the lines it concerns.
    pub fn reason(&self) -> UnavailableReason {
        match self {
            Self::ProductArchived { .. } => UnavailableReason::NotPublished,
            Self::VariantDiscontinued { .. } => UnavailableReason::Discontinued,
        }
    }
}

/// What catalog says about a sellable SKU when it is added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogItem {
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub title: String,
    /// The unit price quoted now, in the cart's currency.
    pub unit_price_minor: i64,
}

/// One SKU in a cart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartLine {
    pub sku: Sku,
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub title: String,
    pub quantity: Quantity,
    /// The unit price the shopper last saw (set on every write of the line).
    pub seen_unit_price_minor: Option<i64>,
    /// Set by catalog events; blocks checkout.
    pub flag: Option<UnavailableReason>,
}

/// A cart: lines in the order they were added, one per SKU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cart {
    pub id: CartId,
    pub owner: Owner,
    /// ISO 4217 code; one cart holds one currency.
    pub currency: String,
    /// 0 for a cart never written; +1 on every change of its lines.
    pub version: i64,
    pub lines: Vec<CartLine>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Cart {
    /// A new, empty cart at version 0.
    pub fn new(id: CartId, owner: Owner, currency: String, now: DateTime<Utc>) -> Self {
        Self {
            id,
            owner,
            currency,
            version: 0,
            lines: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether `caller` (a user id, or none for anonymous) may use the cart.
    pub fn is_reachable_by(&self, caller: Option<Uuid>) -> bool {
        match self.owner {
            Owner::Anonymous => true,
            Owner::User(owner) => caller == Some(owner),
        }
    }

    /// ABORTED unless the cart is at `expected` (when given).
    pub fn check_version(&self, expected: Option<i64>) -> Result<(), CartError> {
        match expected {
            Some(expected) if expected != self.version => Err(CartError::StaleVersion {
                expected,
                actual: self.version,
            }),
            _ => Ok(()),
        }
    }

    pub fn line(&self, sku: &Sku) -> Option<&CartLine> {
        self.lines.iter().find(|line| &line.sku == sku)
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        self.version += 1;
        self.updated_at = now.max(self.created_at);
    }

    /// AddItem: sums with an existing line of the SKU (refreshing what
    /// catalog says about it), else appends a line.
    pub fn add_item(
        &mut self,
        sku: Sku,
        quantity: Quantity,
        item: CatalogItem,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), CartError> {
        self.check_version(expected_version)?;
        if let Some(line) = self.lines.iter_mut().find(|line| line.sku == sku) {
            let total = i64::from(line.quantity.get()) + i64::from(quantity.get());
            line.quantity = line_quantity(&sku, total)?;
            line.variant_id = item.variant_id;
            line.product_id = item.product_id;
            line.title = item.title;
            line.seen_unit_price_minor = Some(item.unit_price_minor);
            line.flag = None;
        } else {
            if self.lines.len() >= MAX_CART_LINES {
                return Err(CartError::LimitExceeded(format!(
                    "a cart holds at most {MAX_CART_LINES} lines"
                )));
            }
            let quantity = line_quantity(&sku, i64::from(quantity.get()))?;
            self.lines.push(CartLine {
                sku,
                variant_id: item.variant_id,
                product_id: item.product_id,
                title: item.title,
                quantity,
                seen_unit_price_minor: Some(item.unit_price_minor),
                flag: None,
            });
        }
        self.touch(now);
        Ok(())
    }

    /// UpdateItem: sets the line's quantity; NOT_FOUND for an absent SKU.
    /// `seen_unit_price_minor` is the price the shopper is shown now.
    pub fn update_item(
        &mut self,
        sku: &Sku,
        quantity: Quantity,
        seen_unit_price_minor: Option<i64>,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), CartError> {
        self.check_version(expected_version)?;
        let line = self
            .lines
            .iter_mut()
            .find(|line| &line.sku == sku)
            .ok_or_else(|| CartError::LineNotFound {
                sku: sku.as_str().to_owned(),
            })?;
        line.quantity = line_quantity(sku, i64::from(quantity.get()))?;
        if seen_unit_price_minor.is_some() {
            line.seen_unit_price_minor = seen_unit_price_minor;
        }
        self.touch(now);
        Ok(())
    }

    /// RemoveItem: drops the line; an absent SKU is a no-op (no new version).
    /// Returns whether the cart changed.
    pub fn remove_item(
        &mut self,
        sku: &Sku,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<bool, CartError> {
        self.check_version(expected_version)?;
        let before = self.lines.len();
        self.lines.retain(|line| &line.sku != sku);
        if self.lines.len() == before {
            return Ok(false);
        }
        self.touch(now);
        Ok(true)
    }

    /// MergeCarts: moves `anonymous`'s lines in (quantities of one SKU
    /// summed, capped at [`MAX_LINE_QUANTITY`] so a sign-in never fails on
    /// a limit; lines beyond [`MAX_CART_LINES`] are dropped).
    pub fn merge_from(&mut self, anonymous: &Cart, now: DateTime<Utc>) {
        let mut changed = false;
        for incoming in &anonymous.lines {
            if let Some(line) = self.lines.iter_mut().find(|line| line.sku == incoming.sku) {
                let total = (i64::from(line.quantity.get()) + i64::from(incoming.quantity.get()))
                    .min(i64::from(MAX_LINE_QUANTITY));
                // Two quantities of at least 1 capped at the limit: always a
                // line quantity, so the fallback (keep ours) never runs.
                if let Ok(capped) = line_quantity(&line.sku, total) {
                    line.quantity = capped;
                }
                line.flag = line.flag.or(incoming.flag);
                changed = true;
            } else if self.lines.len() < MAX_CART_LINES {
                self.lines.push(incoming.clone());
                changed = true;
            }
        }
        if changed {
            self.touch(now);
        }
    }

    /// Takes a placed checkout's `ordered` lines out of the cart: each
    /// line's quantity less what was ordered of its SKU, the line dropped
    /// when nothing is left. Lines added since the checkout stay, and so do
    /// units added to an ordered line. Returns whether the cart changed.
    pub fn remove_ordered(&mut self, ordered: &[OrderedLine], now: DateTime<Utc>) -> bool {
        let mut changed = false;
        for taken in ordered {
            let Some(index) = self.lines.iter().position(|line| line.sku == taken.sku) else {
                continue;
            };
            let left =
                i64::from(self.lines[index].quantity.get()) - i64::from(taken.quantity.get());
            match i32::try_from(left)
                .ok()
                .and_then(|left| Quantity::new(left).ok())
            {
                Some(quantity) => self.lines[index].quantity = quantity,
                None => {
                    self.lines.remove(index);
                }
            }
            changed = true;
        }
        if changed {
            self.touch(now);
        }
        changed
    }

    /// Flags the lines `matches` selects; returns whether any changed.
    /// Flags do not bump the version: the shopper changed nothing.
    pub fn flag_lines(
        &mut self,
        reason: UnavailableReason,
        matches: impl Fn(&CartLine) -> bool,
    ) -> bool {
        let mut changed = false;
        for line in self.lines.iter_mut().filter(|line| matches(line)) {
            if line.flag != Some(reason) {
                line.flag = Some(reason);
                changed = true;
            }
        }
        changed
    }

    /// The key a Checkout of this cart at this version uses when the
    /// client sends none: a retry of the same cart version finds the same order.
    pub fn default_checkout_key(&self) -> String {
        format!("cart-{}-v{}", self.id, self.version)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    fn item(price: i64) -> CatalogItem {
        CatalogItem {
            variant_id: Uuid::from_u128(1),
            product_id: Uuid::from_u128(2),
            title: "Shoe".to_owned(),
            unit_price_minor: price,
        }
    }

    fn sku(raw: &str) -> Sku {
        Sku::parse(raw).unwrap()
    }

    fn cart() -> Cart {
        Cart::new(
            CartId::generate(),
            Owner::Anonymous,
            "EUR".to_owned(),
            now(),
        )
    }

    #[test]
    fn values_are_validated() {
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse("A B").is_err());
        assert!(Sku::parse(&"x".repeat(65)).is_err());
        assert!(Sku::parse("SHOE-42").is_ok());
        assert!(parse_quantity(0).is_err());
        assert!(parse_quantity(100).is_err());
        assert_eq!(parse_quantity(99).unwrap().get(), 99);
        assert_eq!(
            parse_cart_id("nope", "cart_id").unwrap_err(),
            CartError::Invalid {
                field: "cart_id",
                reason: "\"nope\" is not a UUID".to_owned()
            }
        );
    }

    #[test]
    fn add_sums_lines_of_one_sku_and_bumps_the_version() {
        let mut cart = cart();
        cart.add_item(sku("A"), Quantity::new(2).unwrap(), item(100), None, now())
            .unwrap();
        cart.add_item(
            sku("B"),
            Quantity::new(1).unwrap(),
            item(50),
            Some(1),
            now(),
        )
        .unwrap();
        cart.add_item(sku("A"), Quantity::new(3).unwrap(), item(120), None, now())
            .unwrap();
        assert_eq!(cart.version, 3);
        assert_eq!(cart.lines.len(), 2);
        assert_eq!(cart.lines[0].sku.as_str(), "A");
        assert_eq!(cart.lines[0].quantity.get(), 5);
        assert_eq!(cart.lines[0].seen_unit_price_minor, Some(120));
    }

    #[test]
    fn limits_are_enforced() {
        let mut cart = cart();
        cart.add_item(sku("A"), Quantity::new(99).unwrap(), item(1), None, now())
            .unwrap();
        let error = cart
            .add_item(sku("A"), Quantity::new(1).unwrap(), item(1), None, now())
            .unwrap_err();
        assert!(matches!(error, CartError::LimitExceeded(_)));
        assert_eq!(cart.version, 1);
        for index in 1..MAX_CART_LINES {
            cart.add_item(
                sku(&format!("S{index}")),
                Quantity::new(1).unwrap(),
                item(1),
                None,
                now(),
            )
            .unwrap();
        }
        let error = cart
            .add_item(
                sku("ONE-TOO-MANY"),
                Quantity::new(1).unwrap(),
                item(1),
                None,
                now(),
            )
            .unwrap_err();
        assert!(matches!(error, CartError::LimitExceeded(_)));
    }

    #[test]
    fn stale_versions_are_refused_without_change() {
        let mut cart = cart();
        cart.add_item(sku("A"), Quantity::new(1).unwrap(), item(1), None, now())
            .unwrap();
        let before = cart.clone();
        let error = cart
            .update_item(&sku("A"), Quantity::new(4).unwrap(), None, Some(0), now())
            .unwrap_err();
        assert_eq!(
            error,
            CartError::StaleVersion {
                expected: 0,
                actual: 1
            }
        );
        assert!(cart.remove_item(&sku("A"), Some(7), now()).is_err());
        assert!(
            cart.add_item(sku("B"), Quantity::new(1).unwrap(), item(1), Some(3), now())
                .is_err()
        );
        assert_eq!(cart, before);
    }

    #[test]
    fn update_and_remove() {
        let mut cart = cart();
        cart.add_item(sku("A"), Quantity::new(1).unwrap(), item(1), None, now())
            .unwrap();
        cart.update_item(
            &sku("A"),
            Quantity::new(7).unwrap(),
            Some(3),
            Some(1),
            now(),
        )
        .unwrap();
        assert_eq!(cart.lines[0].quantity.get(), 7);
        assert_eq!(cart.lines[0].seen_unit_price_minor, Some(3));
        assert_eq!(cart.version, 2);
        assert!(matches!(
            cart.update_item(&sku("Z"), Quantity::new(1).unwrap(), None, None, now()),
            Err(CartError::LineNotFound { .. })
        ));
        assert!(matches!(
            cart.update_item(&sku("A"), Quantity::new(100).unwrap(), None, None, now()),
            Err(CartError::LimitExceeded(_))
        ));
        assert_eq!(cart.lines[0].quantity.get(), 7);
        assert!(!cart.remove_item(&sku("Z"), None, now()).unwrap());
        assert_eq!(cart.version, 2);
        assert!(cart.remove_item(&sku("A"), Some(2), now()).unwrap());
        assert!(cart.lines.is_empty());
        assert_eq!(cart.version, 3);
    }

    #[test]
    fn a_placed_checkout_takes_out_only_what_it_ordered() {
        let mut cart = cart();
        cart.add_item(sku("A"), Quantity::new(2).unwrap(), item(1), None, now())
            .unwrap();
        cart.add_item(sku("B"), Quantity::new(1).unwrap(), item(1), None, now())
            .unwrap();
        let ordered = |raw: &str, quantity: i32| OrderedLine {
            sku: sku(raw),
            quantity: Quantity::new(quantity).unwrap(),
        };
        // Ordered: 2 A and 1 B. Since then: one more A, and C added.
        cart.add_item(sku("A"), Quantity::new(1).unwrap(), item(1), None, now())
            .unwrap();
        cart.add_item(sku("C"), Quantity::new(4).unwrap(), item(1), None, now())
            .unwrap();
        let version = cart.version;
        assert!(cart.remove_ordered(&[ordered("A", 2), ordered("B", 1)], now()));
        let left: Vec<_> = cart
            .lines
            .iter()
            .map(|line| (line.sku.as_str(), line.quantity.get()))
            .collect();
        assert_eq!(left, [("A", 1), ("C", 4)]);
        assert_eq!(cart.version, version + 1);
        // Lines already gone (removed meanwhile) change nothing.
        assert!(!cart.remove_ordered(&[ordered("B", 1)], now()));
        assert_eq!(cart.version, version + 1);
        // More ordered than the line holds now: the line goes, no underflow.
        assert!(cart.remove_ordered(&[ordered("C", 9)], now()));
        assert_eq!(cart.lines.len(), 1);
    }

    #[test]
    fn idempotency_keys_are_scoped_to_the_caller() {
        let user = Uuid::from_u128(9);
        let cart_id = CartId::generate();
        assert_eq!(
            KeyScope::of(Some(user), Some(cart_id)),
            KeyScope::User(user)
        );
        assert_eq!(KeyScope::of(Some(user), None), KeyScope::User(user));
        assert_eq!(
            KeyScope::of(None, Some(cart_id)),
            KeyScope::AnonymousCart(cart_id)
        );
        assert_eq!(KeyScope::of(None, None), KeyScope::NewAnonymousCart);
        assert_eq!(KeyScope::User(user).as_stored(), format!("user:{user}"));
        assert_eq!(
            KeyScope::AnonymousCart(cart_id).as_stored(),
            format!("cart:{cart_id}")
        );
        assert_eq!(KeyScope::NewAnonymousCart.as_stored(), "anonymous");
    }

    #[test]
    fn merge_sums_caps_and_keeps_order() {
        let user = Uuid::from_u128(9);
        let mut mine = Cart::new(
            CartId::generate(),
            Owner::User(user),
            "EUR".to_owned(),
            now(),
        );
        mine.add_item(sku("A"), Quantity::new(90).unwrap(), item(1), None, now())
            .unwrap();
        let mut anonymous = cart();
        anonymous
            .add_item(sku("B"), Quantity::new(2).unwrap(), item(1), None, now())
            .unwrap();
        anonymous
            .add_item(sku("A"), Quantity::new(20).unwrap(), item(1), None, now())
            .unwrap();
        mine.merge_from(&anonymous, now());
        assert_eq!(mine.version, 2);
        let skus: Vec<_> = mine.lines.iter().map(|line| line.sku.as_str()).collect();
        assert_eq!(skus, ["A", "B"]);
        assert_eq!(mine.lines[0].quantity.get(), MAX_LINE_QUANTITY);
        assert_eq!(mine.lines[1].quantity.get(), 2);

        let empty = cart();
        mine.merge_from(&empty, now());
        assert_eq!(mine.version, 2, "merging nothing changes nothing");
    }

    #[test]
    fn reachability_and_flags() {
        let user = Uuid::from_u128(9);
        let mut mine = Cart::new(
            CartId::generate(),
            Owner::User(user),
            "EUR".to_owned(),
            now(),
        );
        assert!(mine.is_reachable_by(Some(user)));
        assert!(!mine.is_reachable_by(None));
        assert!(!mine.is_reachable_by(Some(Uuid::from_u128(8))));
        assert!(cart().is_reachable_by(None));

        mine.add_item(sku("A"), Quantity::new(1).unwrap(), item(1), None, now())
            .unwrap();
        assert!(
            mine.flag_lines(UnavailableReason::Discontinued, |line| line.sku.as_str()
                == "A")
        );
        assert!(
            !mine.flag_lines(UnavailableReason::Discontinued, |line| line.sku.as_str()
                == "A")
        );
        assert_eq!(mine.version, 1, "flags are not shopper changes");
        assert_eq!(mine.lines[0].flag, Some(UnavailableReason::Discontinued));
        for reason in [
            UnavailableReason::NotFound,
            UnavailableReason::NotPublished,
            UnavailableReason::Discontinued,
            UnavailableReason::NotPriced,
        ] {
            assert_eq!(
                UnavailableReason::from_stored(reason.as_stored()),
                Some(reason)
            );
        }
        assert_eq!(mine.default_checkout_key(), format!("cart-{}-v1", mine.id));
    }
}
