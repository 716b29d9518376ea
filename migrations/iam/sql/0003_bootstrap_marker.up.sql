-- Which account the bootstrap admin setting created. Bootstrap grants the
-- admin role only to that account, never to one someone else signed up
-- earlier under the configured email.
ALTER TABLE users ADD COLUMN created_by_bootstrap boolean NOT NULL DEFAULT false;

-- Accounts bootstrap created before this column existed: only bootstrap
-- creates a user whose email is verified at the instant it is created (a
-- sign-up starts unverified and is verified by a later request).
UPDATE users
   SET created_by_bootstrap = true
 WHERE email_verified_at = created_at
   AND signup_key IS NULL
   AND 'admin' = ANY (roles);

