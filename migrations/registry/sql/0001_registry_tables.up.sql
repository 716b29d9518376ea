-- schema-registry's tables. Names are unqualified: the pool's search_path is
-- the service's schema (tests migrate fresh schemas of their own).
--
-- The service (schema-registry `domain`) validates every value before a
-- write; the constraints here repeat the ones that must hold whatever the
-- code does. A violated CHECK is an internal error, never a user error.

-- The registry-wide settings: one row. The global compatibility level is
-- what a subject without a level of its own is checked at.
CREATE TABLE config (
    id                  boolean     PRIMARY KEY DEFAULT true,
    compatibility_level text        NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT config_single_row_check CHECK (id),
    CONSTRAINT config_level_check CHECK (compatibility_level IN (
        'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE',
        'FULL', 'FULL_TRANSITIVE', 'NONE', 'WIRE_STRICT'))
);
INSERT INTO config (id, compatibility_level) VALUES (true, 'BACKWARD');

-- A subject (by convention an event type string). Its row is also the lock
-- every registration under it takes (SELECT ... FOR UPDATE), so concurrent
-- registrations of one subject, from any number of processes, serialize.
-- compatibility_level NULL: inherit the global default. Names compare
-- bytewise (COLLATE "C"), so ListSubjects' lexical order and its page
-- tokens do not depend on the database's locale.
CREATE TABLE subjects (
    name                text COLLATE "C" PRIMARY KEY,
    compatibility_level text,
    created_at          timestamptz NOT NULL,
    CONSTRAINT subjects_name_check CHECK (octet_length(name) BETWEEN 1 AND 255),
    CONSTRAINT subjects_level_check CHECK (compatibility_level IS NULL OR compatibility_level IN (
        'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE',
        'FULL', 'FULL_TRANSITIVE', 'NONE', 'WIRE_STRICT'))
);

-- One registered version of a subject's schema. Rows are never removed:
-- a delete sets deleted_at, so an id keeps resolving and a version number
-- is never handed out twice.
CREATE TABLE schemas (
    -- The registry-wide schema id.
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject             text COLLATE "C" NOT NULL REFERENCES subjects (name),
    version             integer     NOT NULL,
    -- Fully qualified, without a leading dot.
    message_name        text        NOT NULL,
    -- The file of the set that defines the message, e.g.
    -- "ecommerce/orders/v1/events.proto".
    message_file        text        NOT NULL,
    -- Every file the message's file imports, directly or not, sorted:
    -- GetReferences answers from here (and its GIN index).
    imports             text[]      NOT NULL,
    -- The message's (ecommerce.events.v1.event_type) option; '' if none.
    event_type          text        NOT NULL,
    -- The canonical encoded FileDescriptorSet and its SHA-256.
    file_descriptor_set bytea       NOT NULL,
    fingerprint         bytea       NOT NULL,
    created_at          timestamptz NOT NULL,
    deleted_at          timestamptz,
    CONSTRAINT schemas_subject_version_key UNIQUE (subject, version),
    CONSTRAINT schemas_version_check CHECK (version >= 1),
    CONSTRAINT schemas_message_name_check CHECK (char_length(message_name) >= 1),
    CONSTRAINT schemas_fingerprint_check CHECK (octet_length(fingerprint) = 32),
    CONSTRAINT schemas_deleted_at_check CHECK (deleted_at IS NULL OR deleted_at >= created_at)
);
-- A subject's live versions by fingerprint: the idempotency lookup.
CREATE INDEX schemas_subject_fingerprint_idx ON schemas (subject, fingerprint)
    WHERE deleted_at IS NULL;
-- GetReferences: which subjects' messages live in an imported file, and
-- which live versions import a file.
CREATE INDEX schemas_message_file_idx ON schemas (message_file) WHERE deleted_at IS NULL;
CREATE INDEX schemas_imports_idx ON schemas USING gin (imports) WHERE deleted_at IS NULL;
