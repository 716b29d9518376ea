-- inventory-svc's own tables. Names are unqualified: the pool's search_path
-- is the service's schema (tests migrate fresh schemas of their own).
--
-- The domain (inventory-svc `domain::stock`, `domain::reservation`) checks
-- every rule before a write; the constraints here repeat the ones that must
-- hold even when two transactions each passed those checks on their own
-- snapshot. A violated CHECK is an internal error, never a user error.
--
-- SKUs are `COLLATE "C"` everywhere, so `ORDER BY sku` is byte order: the
-- lock order every transaction follows (`ReservationLines::lock_order`).

CREATE TABLE stock_levels (
    sku         text COLLATE "C" PRIMARY KEY,
    on_hand     integer     NOT NULL,
    reserved    integer     NOT NULL,
    status      text        NOT NULL,
    -- Every change is `UPDATE ... WHERE sku = $1 AND version = $read` on a
    -- row read FOR UPDATE.
    version     bigint      NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT stock_levels_counts_check
        CHECK (on_hand >= 0 AND reserved >= 0 AND reserved <= on_hand),
    CONSTRAINT stock_levels_status_check CHECK (status IN ('active', 'blocked')),
    CONSTRAINT stock_levels_version_check CHECK (version > 0),
    CONSTRAINT stock_levels_sku_check CHECK (char_length(sku) BETWEEN 1 AND 64)
);

CREATE TABLE reservations (
    id              uuid        PRIMARY KEY,
    order_id        uuid        NOT NULL,
    status          text        NOT NULL,
    expires_at      timestamptz NOT NULL,
    -- The correlation id of the order event that made the reservation, so
    -- the expiry worker's event stays in the checkout's correlation.
    correlation_id  text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT reservations_order_id_key UNIQUE (order_id),
    CONSTRAINT reservations_status_check
        CHECK (status IN ('held', 'committed', 'released', 'expired')),
    CONSTRAINT reservations_expiry_check CHECK (expires_at > created_at),
    CONSTRAINT reservations_timestamps_check CHECK (updated_at >= created_at)
);
-- The expiry worker: held reservations by due time.
CREATE INDEX reservations_held_due_idx ON reservations (expires_at) WHERE status = 'held';

CREATE TABLE reservation_lines (
    reservation_id  uuid    NOT NULL REFERENCES reservations (id),
    sku             text COLLATE "C" NOT NULL REFERENCES stock_levels (sku),
    quantity        integer NOT NULL,
    CONSTRAINT reservation_lines_pkey PRIMARY KEY (reservation_id, sku),
    CONSTRAINT reservation_lines_quantity_check CHECK (quantity > 0)
);
CREATE INDEX reservation_lines_sku_idx ON reservation_lines (sku);

-- A refused reservation, so a re-published order (new message id, same
-- order) is not reserved after it was rejected.
CREATE TABLE reservation_failures (
    order_id     uuid        PRIMARY KEY,
    reason       text        NOT NULL,
    -- [{"sku": "...", "requested": 2, "available": 1}] in SKU order.
    short_lines  jsonb       NOT NULL,
    failed_at    timestamptz NOT NULL,
    CONSTRAINT reservation_failures_reason_check
        CHECK (reason IN ('insufficient_stock', 'unknown_sku', 'sku_blocked')),
    CONSTRAINT reservation_failures_short_lines_check CHECK (jsonb_typeof(short_lines) = 'array')
);

-- Append-only ledger of adjustments: per SKU, the sum of the deltas minus
-- the committed units is on-hand.
CREATE TABLE stock_adjustments (
    id               uuid        PRIMARY KEY,
    sku              text COLLATE "C" NOT NULL REFERENCES stock_levels (sku),
    delta            integer     NOT NULL,
    reason           text        NOT NULL,
    on_hand_after    integer     NOT NULL,
    version_after    bigint      NOT NULL,
    idempotency_key  text,
    created_at       timestamptz NOT NULL,
    CONSTRAINT stock_adjustments_delta_check CHECK (delta <> 0),
    CONSTRAINT stock_adjustments_on_hand_check CHECK (on_hand_after >= 0),
    CONSTRAINT stock_adjustments_idempotency_key_key UNIQUE (idempotency_key)
);
CREATE INDEX stock_adjustments_sku_idx ON stock_adjustments (sku, created_at);
