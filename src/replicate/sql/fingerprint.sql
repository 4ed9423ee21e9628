-- The shape of each replicated table, to notice DDL: name, columns with their types, primary key,
-- partitions, and every user type the columns are built from (array elements, domain bases, composite
-- attributes, range subtypes, recursively): enum labels in order, domain base/NOT NULL/default/constraints,
-- composite attributes. Also cutover's capture triggers with their enabled state (a disabled or dropped
-- trigger loses changes). $1: oid[]. A table that no longer exists has no row.
--
-- Independent of the session: names are spelled from the catalogs (not format_type() or regclass text,
-- which follow search_path), and the caller (catalog.ts readShapes) runs it with search_path = pg_catalog
-- and quote_all_identifiers = off, so that pg_get_constraintdef() deparses the same way every time.
-- shape is jsonb text: {"table": md5 of the table's own parts, "types": {"schema.type": md5, ...}}, so that
-- a difference can name the type that changed.
WITH RECURSIVE
rels AS (
  SELECT c.oid, n.nspname, c.relname
    FROM unnest($1::oid[]) AS r(oid)
    JOIN pg_class c ON c.oid = r.oid
    JOIN pg_namespace n ON n.oid = c.relnamespace
),
types(relid, typid) AS (
  SELECT DISTINCT a.attrelid, a.atttypid
    FROM pg_attribute a JOIN rels ON rels.oid = a.attrelid
   WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION
  SELECT t0.relid, x.typid
    FROM types t0
    JOIN pg_type t ON t.oid = t0.typid
    JOIN pg_namespace tn ON tn.oid = t.typnamespace
    CROSS JOIN LATERAL (
      SELECT t.typelem WHERE t.typelem <> 0
      UNION ALL SELECT t.typbasetype WHERE t.typtype = 'd'
      UNION ALL SELECT a.atttypid FROM pg_attribute a WHERE t.typtype = 'c' AND a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped
      UNION ALL SELECT rg.rngsubtype FROM pg_range rg WHERE rg.rngtypid = t.oid
    ) AS x(typid)
   WHERE tn.nspname <> 'pg_catalog'   -- built-in types cannot change; their parts are built-in too
),
typename AS (
  SELECT t.oid, n.nspname, t.typname, format('%I.%I', n.nspname, t.typname) AS display
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
),
typedesc AS (
  SELECT t.oid, tn.display, jsonb_build_array(tn.nspname, tn.typname, t.typtype::text,
    CASE t.typtype
      WHEN 'e' THEN (SELECT jsonb_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
      WHEN 'd' THEN jsonb_build_array(
        (SELECT jsonb_build_array(b.nspname, b.typname) FROM typename b WHERE b.oid = t.typbasetype),
        t.typtypmod, t.typndims, t.typnotnull, t.typdefault,
        (SELECT jsonb_agg(jsonb_build_array(con.conname, pg_get_constraintdef(con.oid), con.convalidated) ORDER BY con.conname)
           FROM pg_constraint con WHERE con.contypid = t.oid))
      WHEN 'c' THEN (SELECT jsonb_agg(jsonb_build_array(a.attname, at.nspname, at.typname, a.atttypmod) ORDER BY a.attnum)
                       FROM pg_attribute a JOIN typename at ON at.oid = a.atttypid
                      WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
      WHEN 'r' THEN (SELECT jsonb_build_array(s.nspname, s.typname) FROM pg_range rg JOIN typename s ON s.oid = rg.rngsubtype WHERE rg.rngtypid = t.oid)
    END) AS d
    FROM pg_type t JOIN typename tn ON tn.oid = t.oid
   WHERE t.oid IN (SELECT typid FROM types) AND tn.nspname <> 'pg_catalog'
)
SELECT c.oid::int8 AS relid,
       format('%I.%I', c.nspname, c.relname) AS name,
       jsonb_build_object(
         'table', md5(jsonb_build_array(
           c.nspname, c.relname,
           (SELECT jsonb_agg(jsonb_build_array(a.attname, tn.nspname, tn.typname, a.atttypmod, a.attgenerated::text) ORDER BY a.attnum)
              FROM pg_attribute a JOIN typename tn ON tn.oid = a.atttypid
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
           (SELECT jsonb_agg(a.attname ORDER BY k.ord)
              FROM pg_constraint con CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
              JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             WHERE con.conrelid = c.oid AND con.contype = 'p'),
           (SELECT jsonb_agg(jsonb_build_array(pn.nspname, pc.relname) ORDER BY pn.nspname, pc.relname)
              FROM pg_partition_tree(c.oid) p JOIN pg_class pc ON pc.oid = p.relid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
             WHERE p.relid <> c.oid))::text),
         'types', coalesce((SELECT jsonb_object_agg(td.display, md5(td.d::text))
                              FROM typedesc td WHERE td.oid IN (SELECT typid FROM types WHERE relid = c.oid)), '{}'::jsonb)
       )::text AS shape,
       (SELECT coalesce(string_agg(format('%I.%I:%s:%s', tn.nspname, tc.relname, tg.tgname, tg.tgenabled), ',' ORDER BY tn.nspname, tc.relname, tg.tgname), '')
          FROM pg_trigger tg JOIN pg_class tc ON tc.oid = tg.tgrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
         WHERE tg.tgrelid IN (SELECT c.oid UNION SELECT relid FROM pg_partition_tree(c.oid))
           AND tg.tgname LIKE 'cutover\_capture%' AND tg.tgparentid = 0) AS triggers
  FROM rels c;
