-- The shape of each replicated table, to notice DDL: name, columns with types, primary key, partitions;
-- and cutover's capture triggers with their enabled state (a disabled or dropped trigger loses changes).
-- $1: oid[]. A table that no longer exists has no row. Names are spelled out (not regclass text, which
-- depends on the session's search_path).
SELECT c.oid::int8 AS relid,
       format('%I.%I', n.nspname, c.relname) AS name,
       md5(concat_ws('|',
         n.nspname, c.relname,
         (SELECT string_agg(format('%I %s %s', a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated), ',' ORDER BY a.attnum)
            FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
         (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord)
            FROM pg_constraint con CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
           WHERE con.conrelid = c.oid AND con.contype = 'p'),
         (SELECT string_agg(format('%I.%I', pn.nspname, pc.relname), ',' ORDER BY pn.nspname, pc.relname)
            FROM pg_partition_tree(c.oid) p JOIN pg_class pc ON pc.oid = p.relid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
           WHERE p.relid <> c.oid))) AS shape,
       (SELECT coalesce(string_agg(format('%I.%I:%s:%s', tn.nspname, tc.relname, tg.tgname, tg.tgenabled), ',' ORDER BY tn.nspname, tc.relname, tg.tgname), '')
          FROM pg_trigger tg JOIN pg_class tc ON tc.oid = tg.tgrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
         WHERE tg.tgrelid IN (SELECT c.oid UNION SELECT relid FROM pg_partition_tree(c.oid))
           AND tg.tgname LIKE 'cutover\_capture%' AND tg.tgparentid = 0) AS triggers
  FROM unnest($1::oid[]) AS r(oid)
  JOIN pg_class c ON c.oid = r.oid
  JOIN pg_namespace n ON n.oid = c.relnamespace;
