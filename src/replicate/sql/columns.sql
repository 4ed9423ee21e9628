-- Columns of the given tables (by oid) as the applier needs them: order, type, whether generated or an
-- identity that only accepts OVERRIDING SYSTEM VALUE. $1: oid[]
SELECT a.attrelid::int8 AS relid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       a.attgenerated <> '' AS generated, a.attidentity AS identity
  FROM pg_attribute a
 WHERE a.attrelid = ANY ($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum;
