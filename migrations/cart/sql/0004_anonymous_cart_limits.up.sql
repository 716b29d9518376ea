-- Limits on anonymous carts, which anyone may create.
--
-- 1. Creations per client address: every anonymous cart AddItem creates is
--    recorded with the caller's address, in the transaction that creates it,
--    and a client that created CART_ANONYMOUS_CREATES_PER_MINUTE in the last
--    minute is refused (RESOURCE_EXHAUSTED). A row outlives its cart (merged
--    or cleaned up), so deleting carts does not free the limit; the cleanup
--    timer prunes rows older than the window.
-- 2. Anonymous carts unchanged for CART_ANONYMOUS_TTL_HOURS are deleted by
--    the cleanup timer, with their lines and AddItem keys (ON DELETE CASCADE).

CREATE TABLE anonymous_cart_creations (
    -- The cart created; not a foreign key, the row must outlive the cart.
    cart_id uuid PRIMARY KEY,
    -- The gRPC peer's IP address; empty when the transport did not say.
    client_address text NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT anonymous_cart_creations_address_check CHECK (char_length(client_address) <= 64)
);

CREATE INDEX anonymous_cart_creations_client_idx
    ON anonymous_cart_creations (client_address, created_at);
CREATE INDEX anonymous_cart_creations_created_idx
    ON anonymous_cart_creations (created_at);

-- The cleanup's scan: anonymous carts, oldest change first.
CREATE INDEX carts_anonymous_updated_idx ON carts (updated_at) WHERE user_id IS NULL;
