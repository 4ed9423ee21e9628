-- The tables cutover captures whose leading key column is an integer, each with its leaf tables (the
-- table itself, or its partitions) and the planner's row estimate of each leaf. Run on the source.
SELECT t.schema_name::text AS schema,
       t.table_name::text  AS name,
       t.key_columns[1]::text AS key_column,
       ln.nspname::text    AS leaf_schema,
       lc.relname::text    AS leaf_name,
       greatest(lc.reltuples, 0)::float8 AS leaf_rows
  FROM _cutover.tables t
 -- pg_partition_tree() returns nothing for a table that is not partitioned: the table is its own leaf.
 CROSS JOIN LATERAL (SELECT p.relid FROM pg_partition_tree(t.relid::regclass) p WHERE p.isleaf
                     UNION SELECT t.relid::regclass WHERE NOT EXISTS (SELECT 1 FROM pg_partition_tree(t.relid::regclass))) p
  JOIN pg_class lc ON lc.oid = p.relid
  JOIN pg_namespace ln ON ln.oid = lc.relnamespace
 WHERE t.key_types[1] IN ('smallint', 'integer', 'bigint')
 ORDER BY t.tableid, lc.relname;
