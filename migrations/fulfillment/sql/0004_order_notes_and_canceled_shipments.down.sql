-- Fails while a shipment is CANCELED (no earlier status says it never ships).
ALTER TABLE shipments DROP CONSTRAINT shipments_canceled_at_check;
ALTER TABLE shipments DROP CONSTRAINT shipments_lifecycle_check;
ALTER TABLE shipments DROP CONSTRAINT shipments_status_check;
ALTER TABLE shipments ADD CONSTRAINT shipments_status_check
    CHECK (status IN ('pending', 'shipped', 'delivered'));
ALTER TABLE shipments ADD CONSTRAINT shipments_lifecycle_check CHECK (
    (status = 'pending' AND carrier IS NULL AND tracking_number IS NULL
        AND shipped_at IS NULL AND delivered_at IS NULL)
    OR (status = 'shipped' AND carrier IS NOT NULL AND tracking_number IS NOT NULL
        AND shipped_at IS NOT NULL AND delivered_at IS NULL)
    OR (status = 'delivered' AND carrier IS NOT NULL AND tracking_number IS NOT NULL
        AND shipped_at IS NOT NULL AND delivered_at IS NOT NULL)
);
ALTER TABLE shipments DROP COLUMN canceled_at;
COMMENT ON COLUMN shipping_options.is_default IS NULL;
DROP TABLE order_notes;
