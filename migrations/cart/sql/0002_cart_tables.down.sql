DROP TABLE IF EXISTS cart_checkouts;
DROP TABLE IF EXISTS merged_carts;
DROP TABLE IF EXISTS cart_idempotency_keys;
DROP TABLE IF EXISTS cart_lines;
DROP TABLE IF EXISTS carts;
