-- A retried checkout is the same checkout.
--
-- 1. Idempotency keys are scoped to the caller: AddItem keys by
--    `scope` ('user:<user id>' for a signed-in caller, 'cart:<cart id>' for
--    an anonymous caller naming a cart, 'anonymous' for an anonymous caller
--    creating one), Checkout keys by user. The same key from two callers is
--    two operations.
-- 2. A checkout is stored, signed, before orders is called: its row holds the
--    exact snapshot bytes and signature sent to orders, and a digest of what
--    it covers (cart, lines, shipping option). A retry with the same key and
--    the same cart resends those bytes; the same key with another cart is
--    refused. Once orders answers, the order is recorded on the row and the
--    bytes (which hold the payment method token) are dropped.

ALTER TABLE cart_idempotency_keys ADD COLUMN scope text;
-- Every row has its cart (ON DELETE CASCADE); an anonymous cart's keys get
-- that cart's scope.
UPDATE cart_idempotency_keys AS k
SET scope = CASE WHEN c.user_id IS NULL THEN 'cart:' || c.id::text ELSE 'user:' || c.user_id::text END
FROM carts AS c
WHERE c.id = k.cart_id;
ALTER TABLE cart_idempotency_keys ALTER COLUMN scope SET NOT NULL;
ALTER TABLE cart_idempotency_keys DROP CONSTRAINT cart_idempotency_keys_pkey;
ALTER TABLE cart_idempotency_keys ADD PRIMARY KEY (scope, idempotency_key);
ALTER TABLE cart_idempotency_keys ADD CONSTRAINT cart_idempotency_keys_scope_check
    CHECK (scope = 'anonymous' OR scope ~ '^(user|cart):[0-9a-f-]{36}$');

-- The client's key, per user; `checkout_key` becomes the key orders stores
-- (derived from user and key, so two users' keys never meet at orders).
-- Rows recorded before keep their key as both.
ALTER TABLE cart_checkouts ADD COLUMN idempotency_key text;
UPDATE cart_checkouts SET idempotency_key = checkout_key;
ALTER TABLE cart_checkouts ALTER COLUMN idempotency_key SET NOT NULL;
ALTER TABLE cart_checkouts DROP CONSTRAINT cart_checkouts_pkey;
ALTER TABLE cart_checkouts ADD PRIMARY KEY (user_id, idempotency_key);
ALTER TABLE cart_checkouts ADD CONSTRAINT cart_checkouts_checkout_key_key UNIQUE (checkout_key);
ALTER TABLE cart_checkouts ADD CONSTRAINT cart_checkouts_idempotency_key_check
    CHECK (char_length(idempotency_key) BETWEEN 1 AND 128);

-- NULL only on rows recorded before attempts were stored.
ALTER TABLE cart_checkouts ADD COLUMN content_digest bytea;
-- [{"sku": ..., "quantity": ...}]: what the order takes out of the cart.
ALTER TABLE cart_checkouts ADD COLUMN ordered_lines jsonb;
-- Set while the checkout is not known to be placed.
ALTER TABLE cart_checkouts ADD COLUMN snapshot bytea;
ALTER TABLE cart_checkouts ADD COLUMN signature bytea;
ALTER TABLE cart_checkouts ADD COLUMN expires_at timestamptz;
-- NULL until orders answered.
ALTER TABLE cart_checkouts ALTER COLUMN order_id DROP NOT NULL;
ALTER TABLE cart_checkouts ALTER COLUMN order_status DROP NOT NULL;
ALTER TABLE cart_checkouts ADD CONSTRAINT cart_checkouts_state_check CHECK (
    (order_id IS NULL) = (order_status IS NULL)
    AND (snapshot IS NULL) = (signature IS NULL)
    AND (snapshot IS NULL) = (expires_at IS NULL)
    AND (order_id IS NOT NULL OR (
        snapshot IS NOT NULL AND content_digest IS NOT NULL AND ordered_lines IS NOT NULL)));
ALTER TABLE cart_checkouts ADD CONSTRAINT cart_checkouts_content_digest_check
    CHECK (content_digest IS NULL OR octet_length(content_digest) = 32);
