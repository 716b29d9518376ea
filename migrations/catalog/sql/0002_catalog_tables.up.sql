-- catalog-svc's own tables. Names are unqualified: the pool's search_path is
-- the service's schema (tests migrate fresh schemas of their own).
--
-- The service validates every value before it writes (catalog-svc
-- `domain::validation`); the CHECK constraints repeat the limits that keep
-- stored data meaningful, so a bug in the service cannot store garbage that
-- consumers would then have to cope with. A violated CHECK is an internal
-- error, never a user error.
--
-- Idempotent creates: each table that a create RPC writes carries the
-- caller's idempotency key and a SHA-256 fingerprint of the normalized
-- request. The unique key is what makes two concurrent retries end in one
-- row (`INSERT ... ON CONFLICT (idempotency_key) DO NOTHING`); the
-- fingerprint tells a retry from a different request reusing the key.
-- NULL keys (a create without a key) never conflict.

CREATE TABLE products (
    id                   uuid        PRIMARY KEY,
    title                text        NOT NULL,
    description          text        NOT NULL DEFAULT '',
    brand                text        NOT NULL DEFAULT '',
    -- Category slugs, e.g. 'shoes/running'; GIN-indexed for the filter.
    categories           text[]      NOT NULL DEFAULT '{}',
    -- [{"url": "https://...", "alt_text": "..."}] in display order.
    media                jsonb       NOT NULL DEFAULT '[]',
    status               text        NOT NULL,
    -- Optimistic concurrency: every change is `UPDATE ... WHERE version = $read`.
    version              bigint      NOT NULL,
    idempotency_key      text,
    request_fingerprint  bytea,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    -- ListProducts' text query. A stored generated column rather than an
    -- expression index so the query and the index cannot drift apart.
    -- 'english' stems ("shoes" finds "shoe"); pg_trgm is not relied on
    -- because it is not installed everywhere and needs superuser to add.
    search_document      tsvector    GENERATED ALWAYS AS (
                             setweight(to_tsvector('english', title), 'A')
                             || setweight(to_tsvector('english', brand), 'B')
                             || setweight(to_tsvector('english', description), 'C')
                         ) STORED,
    CONSTRAINT products_status_check
        CHECK (status IN ('draft', 'published', 'unpublished', 'archived')),
    CONSTRAINT products_version_check CHECK (version > 0),
    CONSTRAINT products_title_check CHECK (char_length(title) BETWEEN 1 AND 200),
    CONSTRAINT products_description_check CHECK (char_length(description) <= 5000),
    CONSTRAINT products_brand_check CHECK (char_length(brand) <= 100),
    CONSTRAINT products_categories_check CHECK (cardinality(categories) <= 20),
    -- CASE, not AND: SQL does not promise to short-circuit, and
    -- jsonb_array_length fails on a non-array.
    CONSTRAINT products_media_check CHECK (
        CASE WHEN jsonb_typeof(media) = 'array' THEN jsonb_array_length(media) <= 20 ELSE false END
    ),
    CONSTRAINT products_idempotency_check
        CHECK ((idempotency_key IS NULL) = (request_fingerprint IS NULL)),
    CONSTRAINT products_timestamps_check CHECK (updated_at >= created_at),
    CONSTRAINT products_idempotency_key_key UNIQUE (idempotency_key)
);
-- ListProducts' keyset pagination: newest first, (created_at, id) as the
-- position, with and without the status filter.
CREATE INDEX products_listing_idx ON products (created_at DESC, id DESC);
CREATE INDEX products_status_listing_idx ON products (status, created_at DESC, id DESC);
CREATE INDEX products_search_idx ON products USING gin (search_document);
CREATE INDEX products_categories_idx ON products USING gin (categories);

CREATE TABLE variants (
    id                   uuid        PRIMARY KEY,
    -- Products are archived, never deleted: no cascade.
    product_id           uuid        NOT NULL REFERENCES products (id),
    sku                  text        NOT NULL,
    -- {"size": "42", "color": "blue"}
    attributes           jsonb       NOT NULL DEFAULT '{}',
    status               text        NOT NULL,
    version              bigint      NOT NULL,
    idempotency_key      text,
    request_fingerprint  bytea,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    -- Same rule as `domain::validation::Sku`.
    CONSTRAINT variants_sku_format_check CHECK (sku ~ '^[A-Z0-9][A-Z0-9._-]{0,63}$'),
    CONSTRAINT variants_status_check CHECK (status IN ('active', 'discontinued')),
    CONSTRAINT variants_version_check CHECK (version > 0),
    CONSTRAINT variants_attributes_check CHECK (jsonb_typeof(attributes) = 'object'),
    CONSTRAINT variants_idempotency_check
        CHECK ((idempotency_key IS NULL) = (request_fingerprint IS NULL)),
    CONSTRAINT variants_timestamps_check CHECK (updated_at >= created_at),
    -- What makes two concurrent CreateVariant calls with one SKU end in one
    -- variant and one ALREADY_EXISTS.
    CONSTRAINT variants_sku_key UNIQUE (sku),
    CONSTRAINT variants_idempotency_key_key UNIQUE (idempotency_key)
);
-- A product's variants in creation order (GetProduct, ListProducts).
CREATE INDEX variants_product_idx ON variants (product_id, created_at, id);

-- Price history: rows are only ever inserted. The price in effect at time t
-- for a variant and currency is the row with the latest effective_from <= t,
-- ties going to the later recorded row (ids are UUID v7).
CREATE TABLE prices (
    id                   uuid        PRIMARY KEY,
    variant_id           uuid        NOT NULL REFERENCES variants (id),
    currency             text        NOT NULL,
    amount_minor         bigint      NOT NULL,
    effective_from       timestamptz NOT NULL,
    created_at           timestamptz NOT NULL,
    idempotency_key      text,
    request_fingerprint  bytea,
    CONSTRAINT prices_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
    -- Upper bound = `domain::money::MAX_AMOUNT_MINOR`: headroom so that
    -- quantities times prices summed over an order cannot overflow bigint.
    CONSTRAINT prices_amount_check CHECK (amount_minor BETWEEN 0 AND 999999999999999),
    CONSTRAINT prices_idempotency_check
        CHECK ((idempotency_key IS NULL) = (request_fingerprint IS NULL)),
    CONSTRAINT prices_idempotency_key_key UNIQUE (idempotency_key)
);
-- "Latest effective_from <= now per variant and currency" (QuotePrices,
-- current prices) is one backward index scan per pair.
CREATE INDEX prices_lookup_idx ON prices (variant_id, currency, effective_from DESC, id DESC);
