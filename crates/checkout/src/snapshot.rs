//! The contents of a checkout snapshot, validated: what orders-svc builds
//! an order from.
//!
//! The rules (each failure names its path inside the snapshot):
//! - ids (`cart_id`, `user_id`, `shipping_option_id`, each line's
//!   `variant_id` and `product_id`) are UUIDs;
//! - `cart_version` is not negative;
//! - 1 to [`MAX_LINES`] lines, one per SKU, each with a quantity of at least
//!   1, a non-empty title and a SKU without spaces;
//! - every amount is in the snapshot's `currency` (an ISO 4217 code), not
//!   negative and at most `MAX_AMOUNT_MINOR`;
//! - `line_total = unit_price × quantity`, `subtotal = Σ line_total`,
//!   `total = subtotal + shipping_price`, all with checked arithmetic: an
//!   overflow is an invalid snapshot, never a wrapped amount;
//! - `issued_at < expires_at ≤ issued_at + MAX_SNAPSHOT_LIFETIME`;
//! - `payment_method_token` and `checkout_key` are non-empty printable ASCII.

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use ecommerce_kernel::{Currency, InvalidField, InvalidValue, Money, MoneyError};
use ecommerce_proto::ecommerce::common::v1 as common_pb;
use ecommerce_proto::ecommerce::orders::v1 as pb;
use uuid::Uuid;

use crate::error::SnapshotError;

/// Most lines one checkout may have.
pub const MAX_LINES: usize = 100;
/// Longest SKU, in characters (catalog's own limit).
pub const MAX_SKU_CHARS: usize = 64;
/// Longest line title, in characters (catalog's own limit).
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest payment method token, in bytes.
pub const MAX_PAYMENT_METHOD_TOKEN_LEN: usize = 255;
/// Longest checkout key, in bytes (the idempotency key limit of every RPC).
pub const MAX_CHECKOUT_KEY_LEN: usize = 128;
/// How long after `issued_at` a snapshot may expire at the latest: a bound
/// on how long a leaked snapshot stays usable, and on how long an old key
/// must be kept during a rotation.
pub const MAX_SNAPSHOT_LIFETIME: Duration = Duration::hours(1);
/// The lifetime cart-svc gives a snapshot. PlaceOrder follows the signing
/// at once, so this only has to cover the retries of that one call.
pub const DEFAULT_SNAPSHOT_TTL: Duration = Duration::minutes(5);

/// A payment provider's token for the shopper's payment method (never card
/// data). Kept as a reference for payments-svc; its `Debug` hides it and it
/// has no `Display`, so it cannot reach a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct PaymentMethodToken(String);

impl PaymentMethodToken {
    /// 1 to [`MAX_PAYMENT_METHOD_TOKEN_LEN`] printable ASCII characters
    /// without spaces (what providers issue, e.g. `pm_card_visa`).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_token(raw, MAX_PAYMENT_METHOD_TOKEN_LEN)?;
        Ok(Self(raw.to_owned()))
    }

    /// The token itself, for the `orders.order_placed.v1` event and storage
    /// only; named so every use stands out in review.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PaymentMethodToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("PaymentMethodToken(<redacted>)")
    }
}

/// The unique key of one checkout: orders stores at most one order per key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CheckoutKey(String);

impl CheckoutKey {
    /// 1 to [`MAX_CHECKOUT_KEY_LEN`] printable ASCII characters without
    /// spaces (a UUID is recommended).
    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        check_token(raw, MAX_CHECKOUT_KEY_LEN)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CheckoutKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// One priced line, validated. Built by [`crate::verify`] from a signed
/// snapshot, or by orders-svc's storage from rows it wrote itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineItem {
    pub sku: String,
    pub variant_id: Uuid,
    pub product_id: Uuid,
    pub title: String,
    /// At least 1.
    pub quantity: u32,
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub line_total: Money,
}

/// A checkout whose signature, structure and freshness were verified.
///
/// `#[non_exhaustive]`: only [`crate::verify`] makes one, so holding one
/// proves the checks ran; its fields are public to read and destructure.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifiedCheckout {
    pub cart_id: Uuid,
    pub cart_version: i64,
    pub user_id: Uuid,
    /// At least one, one per SKU, in the snapshot's order.
    pub lines: Vec<LineItem>,
    /// Σ `line_total`.
    pub subtotal: Money,
    pub shipping_option_id: Uuid,
    pub shipping_price: Money,
    /// `subtotal + shipping_price`: the amount to authorize.
    pub total: Money,
    /// The currency of every amount above.
    pub currency: Currency,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub payment_method_token: PaymentMethodToken,
    pub checkout_key: CheckoutKey,
}

/// Checks the structure of a snapshot (not its signature or freshness), so
/// cart-svc can refuse to sign what orders-svc would refuse to accept.
pub fn check_snapshot(snapshot: &pb::CheckoutSnapshot) -> Result<(), SnapshotError> {
    parse_snapshot(snapshot).map(|_| ())
}

/// The snapshot's contents, validated (see the module docs).
pub(crate) fn parse_snapshot(
    snapshot: &pb::CheckoutSnapshot,
) -> Result<VerifiedCheckout, SnapshotError> {
    let currency =
        Currency::parse(&snapshot.currency).map_err(|invalid| invalid.at("snapshot.currency"))?;
    let cart_id = uuid(&snapshot.cart_id, "snapshot.cart_id")?;
    if snapshot.cart_version < 0 {
        return Err(SnapshotError::invalid(
            "snapshot.cart_version",
            format!("must not be negative, got {}", snapshot.cart_version),
        ));
    }
    let user_id = uuid(&snapshot.user_id, "snapshot.user_id")?;
    let lines = lines(&snapshot.lines, currency)?;
    let subtotal = money(snapshot.subtotal.as_ref(), currency, "snapshot.subtotal")?;
    let computed_subtotal = lines.iter().try_fold(Money::zero(currency), |sum, line| {
        sum.checked_add(line.line_total)
    });
    expect_amount(
        computed_subtotal,
        subtotal,
        "snapshot.subtotal",
        "the sum of line_total",
    )?;
    let shipping_option_id = uuid(&snapshot.shipping_option_id, "snapshot.shipping_option_id")?;
    let shipping_price = money(
        snapshot.shipping_price.as_ref(),
        currency,
        "snapshot.shipping_price",
    )?;
    let total = money(snapshot.total.as_ref(), currency, "snapshot.total")?;
    expect_amount(
        subtotal.checked_add(shipping_price),
        total,
        "snapshot.total",
        "subtotal + shipping_price",
    )?;
    let issued_at = timestamp(snapshot.issued_at.as_ref(), "snapshot.issued_at")?;
    let expires_at = timestamp(snapshot.expires_at.as_ref(), "snapshot.expires_at")?;
    if expires_at <= issued_at {
        return Err(SnapshotError::invalid(
            "snapshot.expires_at",
            format!("must be after issued_at ({issued_at}), got {expires_at}"),
        ));
    }
    if expires_at - issued_at > MAX_SNAPSHOT_LIFETIME {
        return Err(SnapshotError::invalid(
            "snapshot.expires_at",
            format!(
                "must be at most {} minutes after issued_at",
                MAX_SNAPSHOT_LIFETIME.num_minutes()
            ),
        ));
    }
    let payment_method_token = PaymentMethodToken::parse(&snapshot.payment_method_token)
        .map_err(|invalid| invalid.at("snapshot.payment_method_token"))?;
    let checkout_key = CheckoutKey::parse(&snapshot.checkout_key)
        .map_err(|invalid| invalid.at("snapshot.checkout_key"))?;
    Ok(VerifiedCheckout {
        cart_id,
        cart_version: snapshot.cart_version,
        user_id,
        lines,
        subtotal,
        shipping_option_id,
        shipping_price,
        total,
        currency,
        issued_at,
        expires_at,
        payment_method_token,
        checkout_key,
    })
}

fn lines(raw: &[pb::CheckoutLine], currency: Currency) -> Result<Vec<LineItem>, SnapshotError> {
    if raw.is_empty() {
        return Err(SnapshotError::invalid(
            "snapshot.lines",
            "must hold at least one line",
        ));
    }
    if raw.len() > MAX_LINES {
        return Err(SnapshotError::invalid(
            "snapshot.lines",
            format!("must hold at most {MAX_LINES} lines, got {}", raw.len()),
        ));
    }
    let mut seen_skus = HashSet::with_capacity(raw.len());
    let mut lines = Vec::with_capacity(raw.len());
    for (index, line) in raw.iter().enumerate() {
        let field = |name: &str| format!("snapshot.lines[{index}].{name}");
        check_text(&line.sku, MAX_SKU_CHARS, false).map_err(|invalid| invalid.at(field("sku")))?;
        // Inventory reserves per SKU: two lines of one SKU would be reserved
        // as two requests and could half-succeed.
        if !seen_skus.insert(line.sku.as_str()) {
            return Err(SnapshotError::invalid(
                field("sku"),
                format!("{:?} appears on more than one line", line.sku),
            ));
        }
        let variant_id = uuid(&line.variant_id, &field("variant_id"))?;
        let product_id = uuid(&line.product_id, &field("product_id"))?;
        check_text(&line.title, MAX_TITLE_CHARS, true)
            .map_err(|invalid| invalid.at(field("title")))?;
        let quantity = u32::try_from(line.quantity)
            .ok()
            .filter(|quantity| *quantity > 0)
            .ok_or_else(|| {
                SnapshotError::invalid(
                    field("quantity"),
                    format!("must be at least 1, got {}", line.quantity),
                )
            })?;
        let unit_price = money(line.unit_price.as_ref(), currency, &field("unit_price"))?;
        let line_total = money(line.line_total.as_ref(), currency, &field("line_total"))?;
        expect_amount(
            unit_price.checked_mul(quantity),
            line_total,
            &field("line_total"),
            "unit_price × quantity",
        )?;
        lines.push(LineItem {
            sku: line.sku.clone(),
            variant_id,
            product_id,
            title: line.title.clone(),
            quantity,
            unit_price,
            line_total,
        });
    }
    Ok(lines)
}

/// `stated` must equal `computed` (`rule` in words); an overflow while
/// computing is the snapshot's fault too.
fn expect_amount(
    computed: Result<Money, MoneyError>,
    stated: Money,
    field: &str,
    rule: &str,
) -> Result<(), SnapshotError> {
    let computed = computed.map_err(|error| {
        SnapshotError::invalid(field, format!("{rule} cannot be computed: {error}"))
    })?;
    if computed != stated {
        return Err(SnapshotError::invalid(
            field,
            format!(
                "must be {rule} = {} minor units, got {}",
                computed.amount_minor(),
                stated.amount_minor()
            ),
        ));
    }
    Ok(())
}

fn money(
    raw: Option<&common_pb::Money>,
    currency: Currency,
    field: &str,
) -> Result<Money, InvalidField> {
    let raw = raw.ok_or_else(|| InvalidField::new(field, "is required"))?;
    if raw.currency != currency.code() {
        return Err(InvalidField::new(
            format!("{field}.currency"),
            format!(
                "must be the snapshot's currency {currency}, got {:?}",
                raw.currency
            ),
        ));
    }
    Money::new(raw.amount_minor, currency)
        .map_err(|invalid| invalid.at(format!("{field}.amount_minor")))
}

fn uuid(raw: &str, field: &str) -> Result<Uuid, InvalidField> {
    if raw.is_empty() {
        return Err(InvalidField::new(field, "is required"));
    }
    let parsed = Uuid::try_parse(raw)
        .map_err(|_| InvalidField::new(field, format!("{raw:?} is not a UUID")))?;
    if parsed.is_nil() {
        return Err(InvalidField::new(field, "must not be the nil UUID"));
    }
    Ok(parsed)
}

fn timestamp(
    raw: Option<&prost_types::Timestamp>,
    field: &str,
) -> Result<DateTime<Utc>, InvalidField> {
    let raw = raw.ok_or_else(|| InvalidField::new(field, "is required"))?;
    u32::try_from(raw.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)
        .and_then(|nanos| DateTime::from_timestamp(raw.seconds, nanos))
        .ok_or_else(|| InvalidField::new(field, "is not a valid timestamp"))
}

/// Non-empty, at most `max_chars` characters, no control characters (they
/// break logs and displays, and Postgres `text` cannot hold NUL), and no
/// whitespace unless `allow_spaces`: titles have spaces, SKUs never.
fn check_text(value: &str, max_chars: usize, allow_spaces: bool) -> Result<(), InvalidValue> {
    if value.is_empty() {
        return Err(InvalidValue::new("must not be empty"));
    }
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(InvalidValue::new(format!(
            "must be at most {max_chars} characters, got {chars}"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidValue::new("must not contain control characters"));
    }
    if !allow_spaces && value.chars().any(char::is_whitespace) {
        return Err(InvalidValue::new("must not contain spaces"));
    }
    Ok(())
}

/// 1 to `max_len` printable ASCII characters, no spaces.
fn check_token(raw: &str, max_len: usize) -> Result<(), InvalidValue> {
    if raw.is_empty() {
        return Err(InvalidValue::new("must not be empty"));
    }
    if raw.len() > max_len {
        return Err(InvalidValue::new(format!(
            "must be at most {max_len} characters, got {}",
            raw.len()
        )));
    }
    if !raw.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Err(InvalidValue::new("must be printable ASCII without spaces"));
    }
    Ok(())
}
