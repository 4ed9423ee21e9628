-- User tables (plain and partitioned roots/leaves) with what cutover needs to know about each:
-- whether the current role owns it or may create triggers on it, its primary key, size and row estimate.
-- Excludes system schemas and cutover's own bookkeeping schema.
SELECT
  n.nspname                                      AS schema,
  c.relname                                      AS name,
  c.relkind::text                                AS kind,
  c.relispartition                               AS is_partition,
  pg_has_role(c.relowner, 'USAGE')               AS owned,
  has_table_privilege(c.oid, 'TRIGGER')          AS can_trigger,
  has_table_privilege(c.oid, 'SELECT')           AS can_select,
  (SELECT array_agg(a.attname::text ORDER BY k.ord)
     FROM pg_constraint con
     CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
    WHERE con.conrelid = c.oid AND con.contype = 'p') AS primary_key,
  greatest(c.reltuples, 0)::bigint               AS estimated_rows,
  pg_total_relation_size(c.oid)::bigint          AS bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend dep
                   WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'e')
ORDER BY n.nspname, c.relname;
