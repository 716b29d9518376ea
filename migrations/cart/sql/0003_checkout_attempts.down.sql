-- Attempts not known to be placed cannot be represented before this step.
DELETE FROM cart_checkouts WHERE order_id IS NULL;
ALTER TABLE cart_checkouts DROP CONSTRAINT IF EXISTS cart_checkouts_content_digest_check;
ALTER TABLE cart_checkouts DROP CONSTRAINT IF EXISTS cart_checkouts_state_check;
ALTER TABLE cart_checkouts ALTER COLUMN order_status SET NOT NULL;
ALTER TABLE cart_checkouts ALTER COLUMN order_id SET NOT NULL;
ALTER TABLE cart_checkouts DROP COLUMN IF EXISTS expires_at;
ALTER TABLE cart_checkouts DROP COLUMN IF EXISTS signature;
ALTER TABLE cart_checkouts DROP COLUMN IF EXISTS snapshot;
ALTER TABLE cart_checkouts DROP COLUMN IF EXISTS ordered_lines;
ALTER TABLE cart_checkouts DROP COLUMN IF EXISTS content_digest;
ALTER TABLE cart_checkouts DROP CONSTRAINT IF EXISTS cart_checkouts_idempotency_key_check;
ALTER TABLE cart_checkouts DROP CONSTRAINT IF EXISTS cart_checkouts_checkout_key_key;
ALTER TABLE cart_checkouts DROP CONSTRAINT cart_checkouts_pkey;
ALTER TABLE cart_checkouts ADD PRIMARY KEY (checkout_key);
ALTER TABLE cart_checkouts DROP COLUMN IF EXISTS idempotency_key;

-- Keys of one string from several callers collapse to the oldest.
DELETE FROM cart_idempotency_keys AS newer
USING cart_idempotency_keys AS older
WHERE newer.idempotency_key = older.idempotency_key
  AND (newer.created_at, newer.scope) > (older.created_at, older.scope);
ALTER TABLE cart_idempotency_keys DROP CONSTRAINT IF EXISTS cart_idempotency_keys_scope_check;
ALTER TABLE cart_idempotency_keys DROP CONSTRAINT cart_idempotency_keys_pkey;
ALTER TABLE cart_idempotency_keys ADD PRIMARY KEY (idempotency_key);
ALTER TABLE cart_idempotency_keys DROP COLUMN IF EXISTS scope;
