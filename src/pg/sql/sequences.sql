-- Every sequence (identity and serial ones included) with its owner column, if any (verify, copy).
-- The values are read per sequence (SELECT last_value, is_called FROM seq): see facts.ts.
SELECT n.nspname::text AS schema, c.relname::text AS name,
       coalesce(tn.nspname || '.' || tc.relname || '.' || a.attname, '') AS owned_by,
       sq.seqincrement::text AS increment
  FROM pg_class c
  JOIN pg_sequence sq ON sq.seqrelid = c.oid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
                       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
  LEFT JOIN pg_class tc ON tc.oid = d.refobjid
  LEFT JOIN pg_namespace tn ON tn.oid = tc.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE c.relkind = 'S'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence')
   AND n.nspname !~ '^pg_'
 ORDER BY 1, 2;
