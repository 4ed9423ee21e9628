-- Every user relation a table selection may name (tables, partitioned tables, materialized views), with
-- the leaf partitions that hold a partitioned table's rows, and the session's effective search_path (for
-- unqualified names). Same exclusions as tables.sql.
SELECT n.nspname::text AS schema,
       c.relname::text AS name,
       c.relkind::text AS kind,
       coalesce(l.schemas, '{}') AS leaf_schemas,
       coalesce(l.names, '{}')   AS leaf_names,
       current_schemas(false)::text[] AS search_path
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN LATERAL (
    SELECT array_agg(ln.nspname::text ORDER BY lc.oid) AS schemas, array_agg(lc.relname::text ORDER BY lc.oid) AS names
      FROM pg_partition_tree(c.oid) p
      JOIN pg_class lc ON lc.oid = p.relid
      JOIN pg_namespace ln ON ln.oid = lc.relnamespace
     WHERE p.isleaf AND c.relkind = 'p') l ON true
 WHERE c.relkind IN ('r', 'p', 'm')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence')
   AND n.nspname !~ '^pg_(toast|temp_)'
   AND NOT EXISTS (SELECT 1 FROM pg_depend dep
                    WHERE dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.deptype = 'e')
 ORDER BY 1, 2;
