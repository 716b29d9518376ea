-- reporting-svc's read model. Names are unqualified: the pool's search_path
-- is the service's schema (tests migrate fresh schemas of their own).
-- Everything here is built from the events of the `reporting.event-stream`
-- stream and can be rebuilt from it (`reporting-svc rebuild` empties these
-- tables, except stream_cursors, and reads the stream again from its first
-- offset). No constraint beyond the keys: an event is a fact that already
-- happened, so nothing here may refuse one.

-- Product titles, from catalog.product.created.v1 / updated.v1; `version`
-- keeps a late older event from overwriting a newer title.
CREATE TABLE products (
    product_id uuid   PRIMARY KEY,
    title      text   NOT NULL,
    version    bigint NOT NULL
);

-- Which product a SKU belongs to (catalog.variant.created.v1), and whether
-- it was discontinued (catalog.variant.discontinued.v1).
CREATE TABLE variants (
    sku          text    PRIMARY KEY,
    variant_id   uuid    NOT NULL,
    product_id   uuid    NOT NULL,
    discontinued boolean NOT NULL DEFAULT false
);

-- One row per order, each column set once by the event that says it, at
-- that event's time (UTC). The row appears with whichever of its events
-- arrives first; currency and total come with orders.order_placed.v1.
CREATE TABLE orders (
    order_id            uuid        PRIMARY KEY,
    currency            text,
    total_minor         bigint,
    placed_at           timestamptz,
    reserved_at         timestamptz,
    reservation_failure text,
    paid_at             timestamptz,
    payment_failure     text,
    confirmed_at        timestamptz,
    rejected_at         timestamptz,
    rejection_reason    text,
    canceled_at         timestamptz,
    cancellation_cause  text
);
CREATE INDEX orders_placed_at_idx ON orders (placed_at);
CREATE INDEX orders_confirmed_at_idx ON orders (confirmed_at);

-- The lines of each order, as orders.order_placed.v1 carried them.
CREATE TABLE order_lines (
    order_id         uuid    NOT NULL REFERENCES orders (order_id),
    line_no          integer NOT NULL,
    sku              text    NOT NULL,
    title            text    NOT NULL,
    quantity         integer NOT NULL,
    line_total_minor bigint  NOT NULL,
    currency         text    NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_lines_sku_idx ON order_lines (sku);

-- Captured payments (payments.payment_captured.v1).
CREATE TABLE captures (
    payment_id   uuid        PRIMARY KEY,
    order_id     uuid        NOT NULL,
    amount_minor bigint      NOT NULL,
    currency     text        NOT NULL,
    captured_at  timestamptz NOT NULL
);
CREATE INDEX captures_captured_at_idx ON captures (captured_at);

-- Stock per SKU as inventory's events say: set by
-- inventory.stock.adjustment_applied.v1 (which carries the levels), moved
-- by the reservation events in between.
CREATE TABLE stock_levels (
    sku        text        PRIMARY KEY,
    on_hand    integer     NOT NULL,
    reserved   integer     NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Where the stream inbox reads next (see ecommerce_inbox::StreamInbox).
CREATE TABLE stream_cursors (
    stream      text        PRIMARY KEY,
    next_offset bigint      CHECK (next_offset >= 0),
    generation  bigint      NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
