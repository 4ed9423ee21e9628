-- Foreign keys on the target that could refuse or act on the applier's delete-then-insert of a changed
-- key: every one that touches a replicated table (as referencing or referenced side) unless it is
-- DEFERRABLE with ON DELETE NO ACTION (deferred in each batch, checked at its commit). $1: oid[] of the
-- replicated tables on the target (roots). Run with search_path = pg_catalog (catalog.ts
-- withPinnedSettings), so that names and definitions come out schema-qualified.
--   nondeferrable: NO ACTION, not deferrable, plain tables on both sides: made DEFERRABLE while applying,
--                  NOT DEFERRABLE again at cutover (catalog only, nothing is read);
--   readd:         CASCADE / SET NULL / SET DEFAULT / RESTRICT (they act at once, deferred or not), or a
--                  partitioned side: dropped while applying, added back NOT VALID then validated;
--   add:           the same on a partitioned referencing table, which cannot take NOT VALID before 18.
SELECT con.conrelid::regclass::text AS table_name,
       con.conname::text            AS constraint_name,
       regexp_replace(pg_get_constraintdef(con.oid), ' NOT VALID$', '') AS definition,
       CASE WHEN con.confdeltype = 'a' AND con.convalidated AND cr.relkind = 'r' AND NOT cr.relispartition AND pr.relkind = 'r' AND NOT pr.relispartition THEN 'nondeferrable'
            WHEN cr.relkind = 'p' THEN 'add'
            ELSE 'readd' END         AS action
  FROM pg_constraint con
  JOIN pg_class cr ON cr.oid = con.conrelid
  JOIN pg_class pr ON pr.oid = con.confrelid
 WHERE con.contype = 'f' AND con.conparentid = 0
   AND NOT (con.condeferrable AND con.confdeltype = 'a')
   AND (coalesce(pg_partition_root(con.conrelid), con.conrelid) = ANY ($1::oid[])
        OR coalesce(pg_partition_root(con.confrelid), con.confrelid) = ANY ($1::oid[]))
 ORDER BY 1, 2;
