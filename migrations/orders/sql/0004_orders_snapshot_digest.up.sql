-- A retried checkout is the same checkout: the SHA-256 of the signed
-- snapshot bytes an order was placed from. PlaceOrder with a checkout key
-- already stored answers with that order only when the digest matches (cart
-- resends the bytes it signed first); other bytes under the same key are
-- another checkout reusing it, ALREADY_EXISTS. NULL for orders placed before
-- this column existed: their owner's retries are answered as before.
ALTER TABLE orders ADD COLUMN snapshot_digest bytea;
ALTER TABLE orders ADD CONSTRAINT orders_snapshot_digest_length_check
    CHECK (snapshot_digest IS NULL OR octet_length(snapshot_digest) = 32);
