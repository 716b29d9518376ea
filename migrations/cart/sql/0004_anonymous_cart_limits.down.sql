DROP INDEX IF EXISTS carts_anonymous_updated_idx;
DROP TABLE IF EXISTS anonymous_cart_creations;
