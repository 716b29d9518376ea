ALTER TABLE orders DROP CONSTRAINT IF EXISTS orders_snapshot_digest_length_check;
ALTER TABLE orders DROP COLUMN IF EXISTS snapshot_digest;
