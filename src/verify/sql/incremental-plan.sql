-- The captured tables whose leading key column is an integer, each with its leaf tables (the table
-- itself, or its partitions) and the planner's row estimate of each leaf. Run on the source.
-- $1 relids, $2 schemas, $3 names, $4 leading key columns: the captured tables, in the change source's
-- order (src/replicate/changes), already limited to integer leading keys.
SELECT t.schema_name::text AS schema,
       t.table_name::text  AS name,
       t.key_column::text  AS key_column,
       ln.nspname::text    AS leaf_schema,
       lc.relname::text    AS leaf_name,
       greatest(lc.reltuples, 0)::float8 AS leaf_rows
  FROM unnest($1::oid[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY t(relid, schema_name, table_name, key_column, ord)
 -- pg_partition_tree() returns nothing for a table that is not partitioned: the table is its own leaf.
 CROSS JOIN LATERAL (SELECT p.relid FROM pg_partition_tree(t.relid::regclass) p WHERE p.isleaf
                     UNION SELECT t.relid::regclass WHERE NOT EXISTS (SELECT 1 FROM pg_partition_tree(t.relid::regclass))) p
  JOIN pg_class lc ON lc.oid = p.relid
  JOIN pg_namespace ln ON ln.oid = lc.relnamespace
 ORDER BY t.ord, lc.relname;
