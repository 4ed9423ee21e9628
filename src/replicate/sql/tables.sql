-- Tables change capture can follow: plain tables and partitioned roots (their partitions are captured
-- through the root), with their primary key and the unique indexes over NOT NULL columns that could
-- stand in for a missing one. Excludes system schemas and cutover's own.
SELECT
  c.oid::int8                                    AS relid,
  n.nspname                                      AS schema,
  c.relname                                      AS name,
  c.relkind::text                                AS kind,
  has_table_privilege(c.oid, 'TRIGGER')          AS can_trigger,
  has_table_privilege(c.oid, 'SELECT')           AS can_select,
  (SELECT array_agg(a.attname::text ORDER BY k.ord)
     FROM pg_constraint con
     CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
    WHERE con.conrelid = c.oid AND con.contype = 'p')                 AS primary_key,
  (SELECT coalesce(json_agg(json_build_object('index', i.relname, 'columns', cols) ORDER BY i.relname), '[]')
     FROM pg_index x
     JOIN pg_class i ON i.oid = x.indexrelid
     CROSS JOIN LATERAL (SELECT array_agg(a.attname::text ORDER BY k.ord) AS cols,
                                bool_and(a.attnotnull) AS notnull
                           FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum) kc
    WHERE x.indrelid = c.oid AND x.indisunique AND NOT x.indisprimary AND x.indpred IS NULL
      AND x.indexprs IS NULL AND kc.notnull)                            AS unique_keys
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence')
  AND n.nspname !~ '^pg_(toast|temp_)'
  AND NOT EXISTS (SELECT 1 FROM pg_depend dep
                   WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'e')
ORDER BY n.nspname, c.relname;
