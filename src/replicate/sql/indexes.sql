-- The indexes of the given tables ($1: oid[]), to diff the source's with the target's (ddl: follow): the
-- table (qualified, quoted), the index name, pg_get_indexdef() (run with search_path = pg_catalog, so the
-- table and every operator class or function in it are schema-qualified), whether it is valid, whether
-- the table is partitioned (no CONCURRENTLY there), and the constraint it backs if any (p, u, x), with
-- pg_get_constraintdef() and its deferrability; `shape` is the definition without the index's own name (an
-- index renamed on the source has the shape of the one the target still has under the old name).
SELECT format('%I.%I', n.nspname, c.relname) AS table_name,
       n.nspname AS schema_name,
       ic.relname AS index_name,
       pg_get_indexdef(x.indexrelid) AS def,
       replace(pg_get_indexdef(x.indexrelid), 'INDEX ' || quote_ident(ic.relname) || ' ON ', 'INDEX ON ') AS shape,
       x.indisvalid AND x.indisready AS valid,
       c.relkind = 'p' AS partitioned,
       con.contype::text AS contype,
       con.conname AS conname,
       CASE WHEN con.oid IS NULL THEN NULL ELSE pg_get_constraintdef(con.oid) END AS condef,
       coalesce(con.condeferrable, false) AS deferrable,
       coalesce(con.condeferred, false) AS deferred
  FROM pg_index x
  JOIN pg_class ic ON ic.oid = x.indexrelid
  JOIN pg_class c ON c.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = c.oid AND con.contype IN ('p', 'u', 'x')
 WHERE x.indrelid = ANY ($1::oid[])
 ORDER BY 1, 3;
