-- What a rewrite of a replicated table changes and its shape does not show (the applier's storage
-- check, apply.ts): the relfilenode of each table that holds its rows (itself, or a partitioned table's
-- leaves) and each column's attnum. A rewrite that keeps the columns (ALTER COLUMN ... TYPE the same
-- type USING an expression, a column added with a volatile default, VACUUM FULL, CLUSTER) gives new
-- relfilenodes; a column dropped and added again under the same name gets a new attnum. Neither fires a
-- trigger: the applier reads such a table again in full. $1: oid[] (the source's relids).
WITH RECURSIVE tree(root, oid, kind) AS (
  SELECT c.oid, c.oid, c.relkind FROM pg_class c WHERE c.oid = ANY ($1::oid[])
  UNION ALL
  SELECT t.root, i.inhrelid, c.relkind
    FROM tree t JOIN pg_inherits i ON i.inhparent = t.oid JOIN pg_class c ON c.oid = i.inhrelid
   WHERE t.kind = 'p'   -- a partitioned table's rows live in its leaves; classic inheritance children are tables of their own
)
SELECT t.root::int8 AS relid,
       jsonb_build_object(
         'rel', jsonb_object_agg(t.oid::text, c.relfilenode::text) FILTER (WHERE t.kind <> 'p'),
         'cols', (SELECT jsonb_object_agg(a.attname, a.attnum) FROM pg_attribute a WHERE a.attrelid = t.root AND a.attnum > 0 AND NOT a.attisdropped)
       )::text AS sig
  FROM tree t JOIN pg_class c ON c.oid = t.oid
 GROUP BY t.root;
