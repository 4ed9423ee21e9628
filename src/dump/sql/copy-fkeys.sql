-- Foreign keys between plain tables (neither partitioned nor a partition): the copy engine adds each one
-- as soon as both its tables have their data and indexes, instead of all at the end. Others are left to
-- pg_restore's post-data. The OID lets post-data skip exactly these entries.
SELECT con.oid::int8                          AS constraint_oid,
       con.conname::text                      AS name,
       n.nspname::text                        AS schema,
       c.relname::text                        AS table_name,
       rn.nspname::text                       AS ref_schema,
       r.relname::text                        AS ref_table,
       pg_get_constraintdef(con.oid)          AS definition
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class r ON r.oid = con.confrelid
  JOIN pg_namespace rn ON rn.oid = r.relnamespace
 WHERE con.contype = 'f'
   AND c.relkind = 'r' AND NOT c.relispartition
   AND r.relkind = 'r' AND NOT r.relispartition
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover') AND n.nspname !~ '^pg_'
 ORDER BY 3, 4, 2;
