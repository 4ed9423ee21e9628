-- Materialized views with whether they are populated and what their REFRESH reads, so that each one is
-- refreshed as soon as that has its data. Followed through the rewrite rules (pg_depend of pg_rewrite) of
-- the matview and of every plain view it reads:
--   reads:       the relations with data it reads, each "schema"."name" (always quoted, as the copy's
--                keys): tables (a partitioned or inheritance parent expands to all its descendants, whose
--                rows a query on the parent sees) and other materialized views;
--   reads_all:   it calls a function whose body may read any table (a language other than internal and C,
--                not an extension's): its reads cannot be known, so it waits for every table.
WITH RECURSIVE mv AS (
  SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name, c.relispopulated AS populated
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind = 'm'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover')
     AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
),
-- (matview, object its query or a view under it refers to), through plain views.
dep(mv, classid, objid) AS (
  SELECT mv.oid, d.refclassid, d.refobjid
    FROM mv
    JOIN pg_rewrite rw ON rw.ev_class = mv.oid
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
   WHERE NOT (d.refclassid = 'pg_class'::regclass AND d.refobjid = mv.oid)
  UNION
  SELECT dep.mv, d.refclassid, d.refobjid
    FROM dep
    JOIN pg_class v ON dep.classid = 'pg_class'::regclass AND v.oid = dep.objid AND v.relkind = 'v'
    JOIN pg_rewrite rw ON rw.ev_class = v.oid
    JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
   WHERE NOT (d.refclassid = 'pg_class'::regclass AND d.refobjid = v.oid)
),
-- Tables read, with the descendants of each (partitions, sub-partitions, inheritance children).
rel(mv, relid) AS (
  SELECT dep.mv, dep.objid
    FROM dep
    JOIN pg_class r ON dep.classid = 'pg_class'::regclass AND r.oid = dep.objid AND r.relkind IN ('r', 'p', 'm')
  UNION
  SELECT rel.mv, i.inhrelid
    FROM rel
    JOIN pg_inherits i ON i.inhparent = rel.relid
)
SELECT mv.schema,
       mv.name,
       mv.populated,
       coalesce((SELECT array_agg(DISTINCT format('"%s"."%s"', replace(rn.nspname, '"', '""'), replace(rc.relname, '"', '""')))
                   FROM rel
                   JOIN pg_class rc ON rc.oid = rel.relid AND rc.relkind IN ('r', 'm') AND rc.oid <> mv.oid
                   JOIN pg_namespace rn ON rn.oid = rc.relnamespace
                  WHERE rel.mv = mv.oid), '{}') AS reads,
       EXISTS (SELECT 1
                 FROM dep
                 JOIN pg_proc p ON dep.classid = 'pg_proc'::regclass AND p.oid = dep.objid
                 JOIN pg_language l ON l.oid = p.prolang
                WHERE dep.mv = mv.oid
                  AND l.lanname NOT IN ('internal', 'c')
                  AND NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = 'pg_proc'::regclass AND x.objid = p.oid AND x.deptype = 'e')) AS reads_all
  FROM mv
 ORDER BY 1, 2;
