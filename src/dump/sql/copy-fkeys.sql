-- Foreign keys, one row per constraint a user wrote (not the clones PostgreSQL makes on partitions).
-- Between plain tables (neither partitioned nor a partition) the copy engine adds each one as soon as both
-- its tables have their data and indexes, instead of all at the end; the others are left to pg_restore's
-- post-data, unless a resumed copy must add them itself (see copy.ts). The OID lets post-data skip them.
SELECT con.oid::int8                          AS constraint_oid,
       con.conname::text                      AS name,
       n.nspname::text                        AS schema,
       c.relname::text                        AS table_name,
       rn.nspname::text                       AS ref_schema,
       r.relname::text                        AS ref_table,
       pg_get_constraintdef(con.oid)          AS definition,
       (c.relkind = 'p' OR c.relispartition OR r.relkind = 'p' OR r.relispartition) AS partitioned
  FROM pg_constraint con
  JOIN pg_class c ON c.oid = con.conrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class r ON r.oid = con.confrelid
  JOIN pg_namespace rn ON rn.oid = r.relnamespace
 WHERE con.contype = 'f' AND con.conparentid = 0
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'
 ORDER BY 3, 4, 2;
