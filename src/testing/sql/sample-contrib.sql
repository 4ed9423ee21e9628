-- Contrib extensions and a table using them; loaded only where the server ships contrib (Debian's
-- packages do; the embedded 14/17 servers do not) and only when asked (createSampleDatabase contrib).
CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA app;
CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA app;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA app;
CREATE TABLE app.profiles (
  id       int PRIMARY KEY,
  login    app.citext NOT NULL UNIQUE,
  prefs    app.hstore,
  secret   bytea
);
INSERT INTO app.profiles (id, login, prefs, secret)
SELECT i, 'User' || i, app.hstore(ARRAY['theme', 'lang'], ARRAY['dark', 'en' || (i % 3)]), app.digest('s' || i, 'sha256')
  FROM generate_series(1, 100) AS i;
GRANT SELECT ON app.profiles TO sample_readers;
