-- An application schema with what trigger replication must survive (src/testing/app-workload.ts): types
-- in public (an enum, a domain, a composite), a key of a user type, a non-deferrable UNIQUE and an
-- EXCLUDE constraint values are swapped under, ON DELETE CASCADE / SET NULL / NO ACTION foreign keys,
-- a partitioned table rows move across, and a table without a key that holds duplicate rows.
-- Created with search_path = public (the types' names print unqualified there).
SET search_path = public;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TYPE addr AS (street text, zip text);
CREATE SCHEMA shop;
CREATE SEQUENCE shop.ids START 100000;
CREATE TABLE shop.accounts (
  id int PRIMARY KEY, email text NOT NULL UNIQUE, mood mood NOT NULL DEFAULT 'ok', credit posint, home addr, tags mood[]
);
CREATE TABLE shop.bookings (id int PRIMARY KEY, during int4range NOT NULL, EXCLUDE USING gist (during WITH &&));
CREATE TABLE shop.parents (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE shop.children (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES shop.parents ON DELETE CASCADE, note text);
CREATE TABLE shop.links (id int PRIMARY KEY, parent_id int REFERENCES shop.parents ON DELETE SET NULL);
CREATE TABLE shop.strict_refs (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES shop.parents);
CREATE TABLE shop.events (id int NOT NULL, region text NOT NULL, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE shop.events_eu PARTITION OF shop.events FOR VALUES IN ('eu');
CREATE TABLE shop.events_us PARTITION OF shop.events FOR VALUES IN ('us');
CREATE TABLE shop.history (at int, msg text, amount float8);
CREATE TABLE shop.moods (m mood PRIMARY KEY, n int NOT NULL);

INSERT INTO shop.accounts (id, email, mood, credit, home, tags)
  SELECT i, 'a' || i || '@example.com', (ARRAY['sad', 'ok', 'happy']::mood[])[1 + i % 3], 1 + i % 50, ROW('street ' || i, lpad(i::text, 5, '0'))::addr, ARRAY['ok', 'happy']::mood[]
    FROM generate_series(1, 200) i;
INSERT INTO shop.bookings SELECT i, int4range(i * 10, i * 10 + 10) FROM generate_series(1, 100) i;
INSERT INTO shop.parents SELECT i, 'parent ' || i FROM generate_series(1, 100) i;
INSERT INTO shop.children SELECT i, 1 + i % 100, 'child ' || i FROM generate_series(1, 300) i;
INSERT INTO shop.links SELECT i, 1 + i % 100 FROM generate_series(1, 100) i;
INSERT INTO shop.strict_refs SELECT i, 1 + i % 50 FROM generate_series(1, 50) i;
INSERT INTO shop.events SELECT i, CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END, i FROM generate_series(1, 200) i;
INSERT INTO shop.history SELECT i % 20, 'event ' || (i % 20), (i % 7) / 3.0 FROM generate_series(1, 300) i;
INSERT INTO shop.moods VALUES ('sad', 1), ('ok', 2), ('happy', 3);
