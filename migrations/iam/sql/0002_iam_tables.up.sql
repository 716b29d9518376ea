-- iam-svc's own tables. Names are unqualified: the pool's search_path is the
-- service's schema. Secrets are never stored in clear: passwords as Argon2id
-- PHC strings, refresh and verification tokens as SHA-256 digests.

CREATE TABLE users (
    id                 uuid        PRIMARY KEY,
    -- Normalized (lower case) by the service; the unique index is what makes
    -- concurrent sign-ups with the same email end in exactly one user.
    email              text        NOT NULL,
    email_verified_at  timestamptz,
    name               text        NOT NULL,
    image_url          text        NOT NULL DEFAULT '',
    roles              text[]      NOT NULL DEFAULT '{}',
    password_hash      text        NOT NULL,
    -- A SignUp retried with the same key returns the same user.
    signup_key         text,
    locked_until       timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    CONSTRAINT users_email_lower_check CHECK (email = lower(email)),
    CONSTRAINT users_email_length_check CHECK (char_length(email) BETWEEN 3 AND 254),
    CONSTRAINT users_name_length_check CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT users_password_hash_check CHECK (password_hash LIKE '$argon2id$%')
);
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE UNIQUE INDEX users_signup_key_key ON users (signup_key) WHERE signup_key IS NOT NULL;

CREATE TABLE email_verification_tokens (
    token_hash  bytea       PRIMARY KEY,
    user_id     uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The address the token proves: a later email change must not be
    -- verified by an older token.
    email       text        NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CONSTRAINT email_verification_tokens_hash_length_check CHECK (octet_length(token_hash) = 32),
    CONSTRAINT email_verification_tokens_expiry_check CHECK (expires_at > created_at)
);
CREATE INDEX email_verification_tokens_user_idx ON email_verification_tokens (user_id);

CREATE TABLE sessions (
    id                   uuid        PRIMARY KEY,
    user_id              uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at           timestamptz NOT NULL,
    last_refreshed_at    timestamptz NOT NULL,
    -- Sliding: each refresh moves it forward, never past absolute_expires_at.
    expires_at           timestamptz NOT NULL,
    absolute_expires_at  timestamptz NOT NULL,
    revoked_at           timestamptz,
    revoked_reason       text,
    client_address       text        NOT NULL DEFAULT '',
    CONSTRAINT sessions_expiry_check CHECK (expires_at <= absolute_expires_at)
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Every refresh token a session was ever given. Rotation spends the current
-- one; presenting a spent one again means it leaked, and revokes the session.
CREATE TABLE refresh_tokens (
    token_hash  bytea       PRIMARY KEY,
    session_id  uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL,
    spent_at    timestamptz,
    CONSTRAINT refresh_tokens_hash_length_check CHECK (octet_length(token_hash) = 32)
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Failed sign-ins inside the throttle window, per account and per client.
-- `account` is the normalized email even when no user has it, so probing
-- unknown emails is throttled like guessing passwords.
CREATE TABLE sign_in_failures (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account         text        NOT NULL,
    client_address  text        NOT NULL,
    failed_at       timestamptz NOT NULL
);
CREATE INDEX sign_in_failures_account_idx ON sign_in_failures (account, failed_at);
CREATE INDEX sign_in_failures_client_idx ON sign_in_failures (client_address, failed_at);

-- Ed25519 keys that sign access tokens; the newest unretired one signs,
-- every unretired one is published by GetJwks.
CREATE TABLE signing_keys (
    kid              text        PRIMARY KEY,
    private_key_pem  text        NOT NULL,
    created_at       timestamptz NOT NULL,
    retired_at       timestamptz
);
