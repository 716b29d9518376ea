-- Carts, their lines, AddItem idempotency keys and placed checkouts.
-- The domain enforces every rule first; a violated CHECK is a bug, never a
-- user error.

CREATE TABLE carts (
    id uuid PRIMARY KEY,
    -- NULL for an anonymous cart; a user has at most one cart.
    user_id uuid UNIQUE,
    currency text NOT NULL,
    version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT carts_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT carts_version_check CHECK (version >= 0),
    CONSTRAINT carts_timestamps_check CHECK (updated_at >= created_at)
);

CREATE TABLE cart_lines (
    cart_id uuid NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    sku text NOT NULL,
    -- Order of addition, so lines come back as they were added.
    position integer NOT NULL,
    variant_id uuid NOT NULL,
    product_id uuid NOT NULL,
    title text NOT NULL,
    quantity integer NOT NULL,
    -- The unit price the shopper last saw, in the cart's currency.
    seen_unit_price_minor bigint,
    -- Set by catalog events: 'not_published' (archived product) or
    -- 'discontinued' (discontinued variant).
    unavailable_reason text,
    PRIMARY KEY (cart_id, sku),
    CONSTRAINT cart_lines_sku_check CHECK (char_length(sku) BETWEEN 1 AND 64),
    CONSTRAINT cart_lines_quantity_check CHECK (quantity BETWEEN 1 AND 99),
    CONSTRAINT cart_lines_position_check CHECK (position >= 0),
    CONSTRAINT cart_lines_price_check CHECK (seen_unit_price_minor IS NULL OR seen_unit_price_minor >= 0),
    CONSTRAINT cart_lines_reason_check
        CHECK (unavailable_reason IS NULL OR unavailable_reason IN ('not_found', 'not_published', 'discontinued', 'not_priced'))
);

CREATE INDEX cart_lines_product_idx ON cart_lines (product_id);
CREATE INDEX cart_lines_sku_idx ON cart_lines (sku);

-- AddItem keys: a retry with the same key returns the cart instead of adding twice.
CREATE TABLE cart_idempotency_keys (
    idempotency_key text PRIMARY KEY,
    cart_id uuid NOT NULL REFERENCES carts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    CONSTRAINT cart_idempotency_keys_key_check CHECK (char_length(idempotency_key) BETWEEN 1 AND 128)
);

-- Anonymous carts merged into a user's cart, so a repeated MergeCarts is a no-op.
CREATE TABLE merged_carts (
    anonymous_cart_id uuid PRIMARY KEY,
    user_id uuid NOT NULL,
    merged_at timestamptz NOT NULL
);

-- Orders placed from a cart, by checkout key: a retried Checkout returns the same order.
CREATE TABLE cart_checkouts (
    checkout_key text PRIMARY KEY,
    cart_id uuid NOT NULL,
    user_id uuid NOT NULL,
    cart_version bigint NOT NULL,
    order_id uuid NOT NULL,
    order_status integer NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT cart_checkouts_key_check CHECK (char_length(checkout_key) BETWEEN 1 AND 128),
    CONSTRAINT cart_checkouts_version_check CHECK (cart_version >= 0)
);
