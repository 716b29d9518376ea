-- What fulfillment knows of each order from orders' events, and shipments
-- canceled with their order.
--
-- order_notes: the shipping option the order was placed with
-- (orders.order_placed.v1; NULL while only the cancel was seen) and whether
-- it was canceled (orders.order_canceled.v1). A committed reservation opens
-- the shipment with the noted option, waits (is retried) while the order is
-- not noted yet, and opens nothing for a canceled order.
CREATE TABLE order_notes (
    order_id           uuid        PRIMARY KEY,
    shipping_option_id uuid        REFERENCES shipping_options (id),
    canceled_at        timestamptz,
    cancel_reason      text,
    updated_at         timestamptz NOT NULL,
    CONSTRAINT order_notes_cancel_check CHECK ((canceled_at IS NULL) = (cancel_reason IS NULL))
);

-- The default option is no longer what a shipment gets: every shipment
-- ships with its order's option. The flag stays (GetShippingOptions'
-- order is by price), documented as unused by shipments.
COMMENT ON COLUMN shipping_options.is_default IS
    'historic: the option shipments got before orders.order_placed.v1 was consumed';

-- CANCELED: a PENDING shipment whose order was canceled; never left.
ALTER TABLE shipments ADD COLUMN canceled_at timestamptz;
ALTER TABLE shipments DROP CONSTRAINT shipments_status_check;
ALTER TABLE shipments ADD CONSTRAINT shipments_status_check
    CHECK (status IN ('pending', 'shipped', 'delivered', 'canceled'));
ALTER TABLE shipments DROP CONSTRAINT shipments_lifecycle_check;
ALTER TABLE shipments ADD CONSTRAINT shipments_lifecycle_check CHECK (
    (status = 'pending' AND carrier IS NULL AND tracking_number IS NULL
        AND shipped_at IS NULL AND delivered_at IS NULL AND canceled_at IS NULL)
    OR (status = 'shipped' AND carrier IS NOT NULL AND tracking_number IS NOT NULL
        AND shipped_at IS NOT NULL AND delivered_at IS NULL AND canceled_at IS NULL)
    OR (status = 'delivered' AND carrier IS NOT NULL AND tracking_number IS NOT NULL
        AND shipped_at IS NOT NULL AND delivered_at IS NOT NULL AND canceled_at IS NULL)
    OR (status = 'canceled' AND carrier IS NULL AND tracking_number IS NULL
        AND shipped_at IS NULL AND delivered_at IS NULL AND canceled_at IS NOT NULL)
);
ALTER TABLE shipments ADD CONSTRAINT shipments_canceled_at_check
    CHECK (canceled_at IS NULL OR canceled_at >= created_at);
