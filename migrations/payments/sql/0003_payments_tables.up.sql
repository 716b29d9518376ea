-- payments-svc's own table. Names are unqualified: the pool's search_path
-- is the service's schema. Money is integer minor units; times are UTC.
-- The CHECKs are the ones `PaymentColumns` documents: the row can only hold
-- a state the payment state machine can reach.

CREATE TABLE payments (
    id                   uuid        PRIMARY KEY,
    -- One payment per order: the unique index makes a duplicate
    -- orders.order_placed.v1 (a new message id for the same order) a no-op.
    order_id             uuid        NOT NULL,
    -- The customer of the order (from orders.order_placed.v1): who may read it.
    user_id              uuid        NOT NULL,
    amount_minor         bigint      NOT NULL,
    currency             text        NOT NULL,
    -- A reference to a payment method at the provider (never card data).
    -- Never logged: the row type's Debug leaves it out.
    payment_method_token text        NOT NULL,
    -- The checkout's correlation id, so events of the admin CapturePayment
    -- carry it like the saga's own.
    correlation_id       text,
    status               text        NOT NULL,
    provider_reference   text,
    authorized_at        timestamptz,
    failure_reason       text,
    failed_at            timestamptz,
    captured_at          timestamptz,
    void_reason          text,
    voided_at            timestamptz,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT payments_order_id_key UNIQUE (order_id),
    CONSTRAINT payments_status_check
        CHECK (status IN ('pending', 'authorized', 'failed', 'captured', 'voided')),
    CONSTRAINT payments_authorization_pair_check
        CHECK ((provider_reference IS NULL) = (authorized_at IS NULL)),
    CONSTRAINT payments_authorized_reference_check
        CHECK (status NOT IN ('authorized', 'captured') OR provider_reference IS NOT NULL),
    CONSTRAINT payments_unauthorized_reference_check
        CHECK (status NOT IN ('pending', 'failed') OR provider_reference IS NULL),
    CONSTRAINT payments_failed_check
        CHECK ((status = 'failed') = (failure_reason IS NOT NULL AND failed_at IS NOT NULL)),
    CONSTRAINT payments_failure_pair_check
        CHECK ((failure_reason IS NULL) = (failed_at IS NULL)),
    CONSTRAINT payments_captured_check
        CHECK ((status = 'captured') = (captured_at IS NOT NULL)),
    CONSTRAINT payments_voided_check
        CHECK ((status = 'voided') = (void_reason IS NOT NULL AND voided_at IS NOT NULL)),
    CONSTRAINT payments_void_pair_check
        CHECK ((void_reason IS NULL) = (voided_at IS NULL)),
    CONSTRAINT payments_void_reason_check
        CHECK (void_reason IN ('order_canceled', 'reservation_expired',
                               'reservation_failed', 'reservation_released')),
    CONSTRAINT payments_amount_check CHECK (amount_minor >= 0),
    CONSTRAINT payments_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT payments_payment_method_token_length_check
        CHECK (char_length(payment_method_token) BETWEEN 1 AND 255),
    CONSTRAINT payments_updated_at_check CHECK (updated_at >= created_at)
);
