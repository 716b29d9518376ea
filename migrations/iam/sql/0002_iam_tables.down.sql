DROP TABLE IF EXISTS signing_keys;
DROP TABLE IF EXISTS sign_in_failures;
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS email_verification_tokens;
DROP TABLE IF EXISTS users;
