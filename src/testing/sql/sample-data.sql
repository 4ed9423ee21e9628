-- Data for sample-schema.sql, sized by `cutover.sample_rows` (SET cutover.sample_rows = 1000 first).
-- Deterministic: every value is a function of the row number, so two loads are identical.

INSERT INTO app.customers (email, name, status, address, referred_by, created_at, birthday, flags)
SELECT 'user' || i || '@example.com',
       CASE i % 4 WHEN 0 THEN 'Zoë Ångström ' || i WHEN 1 THEN '山田 太郎 ' || i WHEN 2 THEN 'O''Brien "the" ' || i ELSE 'plain ' || i END,
       (ARRAY['new', 'active', 'suspended', 'it''s closed']::app.customer_status[])[1 + i % 4],
       CASE WHEN i % 7 = 0 THEN NULL ELSE ROW('Street ' || i, 'City, "' || (i % 13) || '"', lpad((i % 100000)::text, 5, '0'))::app.address END,
       NULL,
       timestamptz '2020-01-01 00:00:00+00' + (i * interval '37 minutes 13.123456 seconds'),
       date '1950-01-01' + (i % 20000),
       CASE WHEN i % 5 = 0 THEN NULL ELSE ARRAY[i % 2 = 0, NULL, true] END
  FROM generate_series(1, current_setting('cutover.sample_rows')::int) AS i;
-- The self-reference: most customers were referred by an earlier one.
UPDATE app.customers SET referred_by = id / 2 WHERE id > 1 AND id % 3 <> 0;

INSERT INTO app.products (sku, title, price, weight, ratio, tags, attrs, raw_attrs, image, active)
SELECT 'SKU-' || i,
       'Product ' || i || CASE WHEN i % 3 = 0 THEN ' ☃ snowman' ELSE '' END,
       round((i * 1.37)::numeric, 2),
       CASE i % 6 WHEN 0 THEN 0.1 WHEN 1 THEN 3.4028235e38 WHEN 2 THEN -0.0 WHEN 3 THEN 1.17549435e-38 ELSE i / 7.0 END,
       CASE i % 8 WHEN 0 THEN 0.1 + 0.2 WHEN 1 THEN 1e-300 WHEN 2 THEN 'NaN'::float8 WHEN 3 THEN 'Infinity'::float8
                  WHEN 4 THEN '-Infinity'::float8 WHEN 5 THEN 1.0 / 3 WHEN 6 THEN -0.0 ELSE NULL END,
       ARRAY['tag' || (i % 5), 'with,comma', 'with "quote"', NULL],
       jsonb_build_object('color', (ARRAY['red', 'green', 'blue'])[1 + i % 3], 'size', i % 10, 'nested', jsonb_build_object('ü', i)),
       ('{"b": 1,  "a": [' || i || ', null]}')::json,
       CASE WHEN i % 4 = 0 THEN NULL ELSE decode(md5(i::text), 'hex') || '\x00ff'::bytea END,
       i % 9 <> 0
  FROM generate_series(1, greatest(current_setting('cutover.sample_rows')::int / 10, 10)) AS i;

INSERT INTO app.orders (customer_id, product_id, token, ordered_on, ordered_at, shipped_at, wait, qty, unit_price, note)
SELECT 1 + (i * 7) % n.c,
       1 + i % n.p,
       md5('order' || i)::uuid,
       date '2023-01-01' + (i % 1000),
       timestamp '2023-01-01 08:00:00' + i * interval '1 minute 0.5 seconds',
       CASE WHEN i % 10 = 0 THEN NULL ELSE timestamptz '2023-01-02 00:00:00+02' + i * interval '61 seconds' END,
       CASE WHEN i % 3 = 0 THEN NULL ELSE make_interval(days => i % 40, hours => i % 24, secs => (i % 600) / 10.0) END,
       (1 + i % 50)::smallint,
       round((i % 1000) * 0.0137, 4),
       CASE WHEN i % 11 = 0 THEN '' WHEN i % 13 = 0 THEN NULL ELSE repeat(md5(i::text), 1 + i % 3) END
  FROM generate_series(1, 2 * current_setting('cutover.sample_rows')::int) AS i,
       (SELECT count(*) AS c FROM app.customers) n_c(c),
       LATERAL (SELECT n_c.c, (SELECT count(*) FROM app.products) AS p) n;

INSERT INTO billing.invoices (id, issued_on, order_id, amount, currency)
SELECT i, date '2024-01-01' + (i % 900), i, round(i * 0.3333, 4), CASE WHEN i % 5 = 0 THEN 'USD' ELSE 'EUR' END
  FROM generate_series(1, current_setting('cutover.sample_rows')::int) AS i;

INSERT INTO billing.audit_log (at, actor, message, detail)
SELECT timestamptz '2024-06-01 12:00:00+00' + (i / 2) * interval '1 second',
       CASE WHEN i % 2 = 0 THEN 'system' ELSE NULL END,
       'event ' || (i / 2),  -- pairs of identical rows
       CASE WHEN i % 4 = 0 THEN NULL ELSE jsonb_build_object('n', i / 2) END
  FROM generate_series(1, greatest(current_setting('cutover.sample_rows')::int / 2, 2)) AS i;

INSERT INTO "Ünïcode ""Schema"""."order" ("select", "Mixed Case", "with space", "quote""d", "ü", "customer.id")
SELECT i, 'MiXeD ' || i, 'a b ' || i, 'say "hi" ' || i, i::int8 * 1000000000, 1 + i % 5
  FROM generate_series(1, greatest(current_setting('cutover.sample_rows')::int / 10, 5)) AS i;

INSERT INTO app."Table With Spaces & ""Quotes""" ("Value")
SELECT 'v' || i FROM generate_series(1, 20) AS i;

SELECT setval('billing.invoice_number', 1000 + 7 * current_setting('cutover.sample_rows')::int);

-- Issue 23's objects (see sample-schema.sql).
INSERT INTO app.promotions (id, band, during, raw)
SELECT i, app.price_band(i, i * 10 + 1, '[)'),
       CASE WHEN i % 4 = 0 THEN NULL ELSE tstzrange(timestamptz '2024-01-01 00:00:00+00' + i * interval '1 day', NULL) END,
       ('{"k": ' || i || ', "k": "dup", "nested": {"a": 1, "a": 2}}')::json
  FROM generate_series(1, greatest(current_setting('cutover.sample_rows')::int / 20, 5)) AS i;
INSERT INTO app.events (id, at, kind)
SELECT i, timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour', 'live' FROM generate_series(1, 50) AS i;
INSERT INTO app.events_archive (id, at, kind, archived_on)
SELECT i, timestamptz '2020-01-01 00:00:00+00' + i * interval '1 hour', 'old', date '2023-01-01' FROM generate_series(1001, 1030) AS i;
INSERT INTO app.readings (region, at, value)
SELECT (ARRAY['eu', 'us', 'apac'])[1 + i % 3], date '2023-06-01' + (i % 700), i * 0.5 FROM generate_series(1, 600) AS i;
INSERT INTO app.tenant_notes (id, tenant, body)
SELECT i, 'tenant' || (i % 3), 'note ' || i FROM generate_series(1, 30) AS i;
ALTER TABLE app.tenant_notes FORCE ROW LEVEL SECURITY;
REFRESH MATERIALIZED VIEW app.customer_stats;
-- Large objects with fixed OIDs (deterministic), an owner other than the loader for one, an ACL, comments.
SELECT lo_from_bytea(424201, convert_to('sample large object one', 'UTF8'));
SELECT lo_from_bytea(424202, decode(repeat('00ff10', 3000), 'hex'));
COMMENT ON LARGE OBJECT 424201 IS 'a contract scan';
GRANT SELECT ON LARGE OBJECT 424201 TO sample_readers;
GRANT SELECT, UPDATE ON LARGE OBJECT 424202 TO sample_app;
ALTER LARGE OBJECT 424202 OWNER TO sample_app;
ANALYZE;
