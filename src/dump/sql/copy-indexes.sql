-- Indexes the copy engine builds itself as soon as a table's data has landed: those of plain (not
-- partitioned, not partition) tables, and those of materialized views (after the view's refresh, or at
-- once for one left unpopulated: a REFRESH into an indexed matview rebuilds every index anyway). Primary
-- keys and unique constraints are built as unique indexes and attached with ADD CONSTRAINT ... USING INDEX.
-- Exclusion constraints and partition indexes are left to pg_restore's post-data. The OIDs let post-data
-- skip exactly these entries.
SELECT n.nspname::text                        AS schema,
       t.relname::text                        AS table_name,
       i.relname::text                        AS index_name,
       i.oid::int8                            AS index_oid,
       pg_get_indexdef(x.indexrelid)          AS indexdef,
       con.oid::int8                          AS constraint_oid,
       con.conname::text                      AS constraint_name,
       con.contype::text                      AS constraint_type,
       coalesce(con.condeferrable, false)     AS deferrable,
       coalesce(con.condeferred, false)       AS deferred,
       t.relkind = 'm'                        AS on_matview
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = t.oid AND con.contype IN ('p', 'u', 'x')
 WHERE t.relkind IN ('r', 'm') AND NOT t.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence')
   AND n.nspname !~ '^pg_'
   AND coalesce(con.contype, 'i') <> 'x'
 ORDER BY pg_relation_size(t.oid) DESC, n.nspname, t.relname, i.relname;
