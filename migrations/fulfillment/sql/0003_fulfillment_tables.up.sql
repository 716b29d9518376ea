-- fulfillment-svc's own tables. Names are unqualified: the pool's search_path
-- is the service's schema (tests migrate fresh schemas of their own).
--
-- The domain (fulfillment-svc `domain::shipment`) checks every rule before a
-- write; the constraints here repeat the ones that must hold whatever the
-- code does. A violated CHECK is an internal error, never a user error.

-- The shipping options on offer. Ids are stable: carts and orders refer to
-- them. Prices are integer minor units of an ISO 4217 currency.
CREATE TABLE shipping_options (
    id                 uuid    PRIMARY KEY,
    code               text    NOT NULL,
    name               text    NOT NULL,
    price_amount_minor bigint  NOT NULL,
    price_currency     text    NOT NULL,
    min_delivery_days  integer NOT NULL,
    max_delivery_days  integer NOT NULL,
    -- The option a shipment gets when its order's choice is not known
    -- (inventory.stock.committed.v1 does not carry it); exactly one.
    is_default         boolean NOT NULL DEFAULT false,
    CONSTRAINT shipping_options_code_key UNIQUE (code),
    CONSTRAINT shipping_options_name_check CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT shipping_options_price_check CHECK (price_amount_minor >= 0),
    CONSTRAINT shipping_options_currency_check CHECK (price_currency ~ '^[A-Z]{3}$'),
    CONSTRAINT shipping_options_days_check
        CHECK (min_delivery_days >= 0 AND max_delivery_days >= min_delivery_days)
);
CREATE UNIQUE INDEX shipping_options_one_default_idx ON shipping_options (is_default) WHERE is_default;

INSERT INTO shipping_options
    (id, code, name, price_amount_minor, price_currency, min_delivery_days, max_delivery_days, is_default)
VALUES
    ('01936b2e-0000-7000-8000-000000000001', 'standard', 'Standard (DHL)', 499, 'EUR', 3, 5, true),
    ('01936b2e-0000-7000-8000-000000000002', 'express', 'Express (DHL)', 1299, 'EUR', 1, 2, false);

-- One shipment per order (opened on inventory.stock.committed.v1), with
-- the shipping option copied as it was when the shipment was opened.
CREATE TABLE shipments (
    id                   uuid        PRIMARY KEY,
    order_id             uuid        NOT NULL,
    reservation_id       uuid        NOT NULL,
    status               text        NOT NULL,
    shipping_option_id   uuid        NOT NULL REFERENCES shipping_options (id),
    shipping_option_name text        NOT NULL,
    shipping_price_minor bigint      NOT NULL,
    shipping_currency    text        NOT NULL,
    min_delivery_days    integer     NOT NULL,
    max_delivery_days    integer     NOT NULL,
    carrier              text,
    tracking_number      text,
    -- The checkout's correlation id (from the committed event), so the
    -- shipped and delivered events stay in the checkout's correlation.
    correlation_id       text,
    -- Id of the last event emitted about this shipment: the causation of
    -- the next one, so the chain created -> shipped -> delivered is causal.
    last_event_id        uuid        NOT NULL,
    created_at           timestamptz NOT NULL,
    shipped_at           timestamptz,
    delivered_at         timestamptz,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT shipments_order_id_key UNIQUE (order_id),
    CONSTRAINT shipments_status_check CHECK (status IN ('pending', 'shipped', 'delivered')),
    CONSTRAINT shipments_lifecycle_check CHECK (
        (status = 'pending' AND carrier IS NULL AND tracking_number IS NULL
            AND shipped_at IS NULL AND delivered_at IS NULL)
        OR (status = 'shipped' AND carrier IS NOT NULL AND tracking_number IS NOT NULL
            AND shipped_at IS NOT NULL AND delivered_at IS NULL)
        OR (status = 'delivered' AND carrier IS NOT NULL AND tracking_number IS NOT NULL
            AND shipped_at IS NOT NULL AND delivered_at IS NOT NULL)
    ),
    CONSTRAINT shipments_carrier_check CHECK (carrier IS NULL OR char_length(carrier) BETWEEN 1 AND 100),
    CONSTRAINT shipments_tracking_number_check
        CHECK (tracking_number IS NULL OR char_length(tracking_number) BETWEEN 1 AND 100),
    CONSTRAINT shipments_price_check CHECK (shipping_price_minor >= 0),
    CONSTRAINT shipments_currency_check CHECK (shipping_currency ~ '^[A-Z]{3}$'),
    CONSTRAINT shipments_days_check
        CHECK (min_delivery_days >= 0 AND max_delivery_days >= min_delivery_days),
    CONSTRAINT shipments_timestamps_check CHECK (
        updated_at >= created_at
        AND (shipped_at IS NULL OR shipped_at >= created_at)
        AND (delivered_at IS NULL OR delivered_at >= shipped_at)
    )
);

CREATE TABLE shipment_lines (
    shipment_id uuid    NOT NULL REFERENCES shipments (id),
    sku         text COLLATE "C" NOT NULL,
    quantity    integer NOT NULL,
    CONSTRAINT shipment_lines_pkey PRIMARY KEY (shipment_id, sku),
    CONSTRAINT shipment_lines_quantity_check CHECK (quantity > 0),
    CONSTRAINT shipment_lines_sku_check CHECK (char_length(sku) BETWEEN 1 AND 64)
);
