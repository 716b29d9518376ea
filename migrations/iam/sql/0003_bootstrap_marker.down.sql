ALTER TABLE users DROP COLUMN IF EXISTS created_by_bootstrap;
