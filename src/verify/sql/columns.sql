-- Columns of one table ($1 schema, $2 table) with what the checksum needs to normalise them.
SELECT a.attname::text                      AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       bt.typname::text                     AS base_type,
       bt.typcategory::text                 AS category,
       coalesce(et.typname::text, '')       AS element_type
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  -- domains are compared by their base type
  JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
  LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
 WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum;
