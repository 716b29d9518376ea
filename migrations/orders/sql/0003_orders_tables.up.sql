-- orders-svc's own tables. Names are unqualified: the pool's search_path is
-- the service's schema. Money is integer minor units of the order's one
-- currency; times are UTC.

CREATE TABLE orders (
    id                    uuid        PRIMARY KEY,
    user_id               uuid        NOT NULL,
    -- The signed snapshot's checkout key: the unique index is what makes a
    -- retried PlaceOrder (even a concurrent one) end in one order and one
    -- orders.order_placed.v1.
    checkout_key          text        NOT NULL,
    cart_id               uuid        NOT NULL,
    cart_version          bigint      NOT NULL,
    status                text        NOT NULL,
    currency              text        NOT NULL,
    subtotal_minor        bigint      NOT NULL,
    shipping_price_minor  bigint      NOT NULL,
    total_minor           bigint      NOT NULL,
    shipping_option_id    uuid        NOT NULL,
    -- A reference to a payment method at the provider (never card data),
    -- needed to build orders.order_placed.v1 for payments-svc. Never logged:
    -- the row type's Debug leaves it out.
    payment_method_token  text        NOT NULL,
    -- Shared by every event of this order's checkout saga.
    correlation_id        text        NOT NULL,
    -- Set exactly when the status is rejected.
    rejection_failure     text,
    rejection_short_lines jsonb,
    -- Set exactly when the status is canceled.
    cancel_cause          text,
    cancel_reason         text,
    -- Incremented by every stored transition.
    version               bigint      NOT NULL DEFAULT 1,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    CONSTRAINT orders_status_check CHECK (status IN (
        'pending', 'reserved', 'paid', 'confirmed', 'shipped', 'delivered', 'rejected', 'canceled')),
    CONSTRAINT orders_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT orders_amounts_check CHECK (
        subtotal_minor >= 0 AND shipping_price_minor >= 0
        AND total_minor = subtotal_minor + shipping_price_minor),
    CONSTRAINT orders_checkout_key_length_check CHECK (char_length(checkout_key) BETWEEN 1 AND 128),
    CONSTRAINT orders_payment_method_token_length_check
        CHECK (char_length(payment_method_token) BETWEEN 1 AND 255),
    CONSTRAINT orders_rejection_check CHECK (
        (status = 'rejected') = (rejection_failure IS NOT NULL)
        AND (rejection_failure IS NULL) = (rejection_short_lines IS NULL)
        AND (rejection_failure IS NULL
             OR rejection_failure IN ('insufficient_stock', 'unknown_sku', 'sku_blocked'))),
    CONSTRAINT orders_cancellation_check CHECK (
        (status = 'canceled') = (cancel_cause IS NOT NULL)
        AND (cancel_cause IS NULL) = (cancel_reason IS NULL)
        AND (cancel_cause IS NULL OR cancel_cause IN (
            'customer', 'admin', 'payment_failed', 'reservation_expired', 'reservation_released'))),
    CONSTRAINT orders_version_check CHECK (version >= 1),
    CONSTRAINT orders_updated_at_check CHECK (updated_at >= created_at)
);
CREATE UNIQUE INDEX orders_checkout_key_key ON orders (checkout_key);
-- ListOrders: one user's orders, newest first (ids are UUID v7).
CREATE INDEX orders_user_id_idx ON orders (user_id, id DESC);

CREATE TABLE order_lines (
    order_id          uuid    NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- Position in the signed snapshot, from 0.
    line_no           integer NOT NULL,
    sku               text    NOT NULL,
    variant_id        uuid    NOT NULL,
    product_id        uuid    NOT NULL,
    title             text    NOT NULL,
    quantity          integer NOT NULL,
    unit_price_minor  bigint  NOT NULL,
    line_total_minor  bigint  NOT NULL,
    PRIMARY KEY (order_id, line_no),
    CONSTRAINT order_lines_sku_key UNIQUE (order_id, sku),
    CONSTRAINT order_lines_line_no_check CHECK (line_no >= 0),
    CONSTRAINT order_lines_quantity_check CHECK (quantity > 0),
    CONSTRAINT order_lines_amounts_check CHECK (
        unit_price_minor >= 0 AND line_total_minor = unit_price_minor * quantity)
);

CREATE TABLE order_status_history (
    order_id    uuid        NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    -- Order of entry, from 0 (always PENDING).
    seq         integer     NOT NULL,
    status      text        NOT NULL,
    reason      text        NOT NULL DEFAULT '',
    changed_at  timestamptz NOT NULL,
    PRIMARY KEY (order_id, seq),
    CONSTRAINT order_status_history_seq_check CHECK (seq >= 0),
    CONSTRAINT order_status_history_status_check CHECK (status IN (
        'pending', 'reserved', 'paid', 'confirmed', 'shipped', 'delivered', 'rejected', 'canceled'))
);
