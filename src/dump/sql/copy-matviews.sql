-- Materialized views with whether they are populated, and the materialized views each one reads
-- (through its rewrite rule), so that they are refreshed after what they read.
SELECT n.nspname::text AS schema,
       c.relname::text AS name,
       c.relispopulated AS populated,
       coalesce((SELECT array_agg(DISTINCT format('%I.%I', dn.nspname, dc.relname))
                   FROM pg_rewrite rw
                   JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid AND d.refclassid = 'pg_class'::regclass
                   JOIN pg_class dc ON dc.oid = d.refobjid AND dc.relkind = 'm' AND dc.oid <> c.oid
                   JOIN pg_namespace dn ON dn.oid = dc.relnamespace
                  WHERE rw.ev_class = c.oid), '{}') AS reads
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'm'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover')
   AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
 ORDER BY 1, 2;
