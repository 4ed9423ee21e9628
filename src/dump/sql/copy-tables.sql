-- Tables whose rows the streaming copy moves (plain tables and partitions; partitioned parents hold no
-- rows), largest first, with the columns COPY must name (generated columns are computed by the target)
-- and the leading primary-key column when it is an integer (tables are split into ranges of it).
SELECT n.nspname::text                                   AS schema,
       c.relname::text                                   AS name,
       c.oid::int8                                       AS oid,
       c.relispartition                                  AS is_partition,
       pg_table_size(c.oid)::int8                        AS bytes,
       greatest(c.reltuples, 0)::int8                    AS estimated_rows,
       (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '') AS columns,
       (SELECT a.attname::text FROM pg_constraint con
          JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
          JOIN pg_type t ON t.oid = a.atttypid
         WHERE con.conrelid = c.oid AND con.contype = 'p' AND t.typname IN ('int2', 'int4', 'int8')) AS split_key,
       -- Binary COPY is safe when no copied column embeds a type OID that may differ between servers:
       -- built-in base types and arrays of them, enums (sent as labels), domains over those. Composites
       -- and arrays of user-defined types carry OIDs in their binary form; extension types may change it.
       NOT EXISTS (
         SELECT 1 FROM pg_attribute a
           JOIN pg_type t ON t.oid = a.atttypid
           JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
            AND NOT ((bt.typtype = 'b' AND bt.oid < 16384 AND (bt.typelem = 0 OR bt.typelem < 16384))
                     OR (bt.typtype = 'e'))
       )                                                 AS binary_safe
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence')
   AND n.nspname !~ '^pg_(toast|temp_)'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
 ORDER BY pg_table_size(c.oid) DESC, 1, 2;
