-- ddl: follow: the statements that create one new table ($1: its oid on the source) on the target, in
-- order. Phase 'before' the rows are copied: its schema, the sequences its columns own (serial), the table
-- (columns with type, collation, default, identity or generation expression, NOT NULL; primary key, unique,
-- check and exclusion constraints). Phase 'after': its other indexes and its foreign keys (validated against
-- rows that are all there). Phase 'finish' (each statement may fail alone, e.g. a role the target lacks):
-- comments, triggers with their enabled state, row-level security and policies, the owner, then the
-- grants of the table and its columns (after the owner: the owner is their grantor, as on the source).
-- $2: the role map (jsonb, source role -> target role) for the owner, grantees and policies' roles. Run with search_path = pg_catalog (catalog.ts withPinnedSettings): every type,
-- function and table in a deparsed expression is schema-qualified; every name is quoted by %I.
WITH t AS (
  SELECT c.oid, n.nspname, c.relname, c.relpersistence
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = $1::oid
),
owned AS (
  -- Sequences the table's columns own: serial (deptype 'a') and identity ('i').
  SELECT d.deptype, d.refobjsubid AS attnum, sn.nspname, sc.relname, s.*
    FROM pg_depend d
    JOIN pg_class sc ON sc.oid = d.objid AND sc.relkind = 'S'
    JOIN pg_namespace sn ON sn.oid = sc.relnamespace
    JOIN pg_sequence s ON s.seqrelid = sc.oid
   WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::oid AND d.deptype IN ('a', 'i')
),
cols AS (
  SELECT a.attnum, format('%I %s%s%s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
           CASE WHEN a.attcollation <> 0 AND a.attcollation <> ty.typcollation
                THEN (SELECT format(' COLLATE %I.%I', cn.nspname, co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation)
                ELSE '' END,
           CASE WHEN a.attgenerated = 's' THEN format(' GENERATED ALWAYS AS (%s) STORED', pg_get_expr(ad.adbin, ad.adrelid))
                WHEN ad.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid)
                ELSE '' END,
           CASE a.attidentity
                WHEN '' THEN ''
                ELSE format(' GENERATED %s AS IDENTITY (SEQUENCE NAME %I.%I INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s)',
                            CASE a.attidentity WHEN 'a' THEN 'ALWAYS' ELSE 'BY DEFAULT' END, o.nspname, o.relname,
                            o.seqincrement, o.seqmin, o.seqmax, o.seqstart, o.seqcache, CASE WHEN o.seqcycle THEN ' CYCLE' ELSE '' END) END,
           CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END) AS def
    FROM pg_attribute a
    JOIN pg_type ty ON ty.oid = a.atttypid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    LEFT JOIN owned o ON o.deptype = 'i' AND o.attnum = a.attnum
   WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
),
cons AS (
  SELECT con.contype, con.conname, format('CONSTRAINT %I %s', con.conname, pg_get_constraintdef(con.oid)) AS def
    FROM pg_constraint con
   WHERE con.conrelid = $1::oid AND con.contype IN ('p', 'u', 'c', 'x') AND con.convalidated
)
SELECT phase, stmt, ord FROM (
  SELECT 1 AS ord, 'before' AS phase, format('CREATE SCHEMA IF NOT EXISTS %I', t.nspname) AS stmt, '' AS k FROM t
  UNION ALL
  SELECT 2, 'before', format('CREATE SEQUENCE IF NOT EXISTS %I.%I AS %s INCREMENT BY %s MINVALUE %s MAXVALUE %s START WITH %s CACHE %s%s',
           o.nspname, o.relname, format_type(o.seqtypid, NULL), o.seqincrement, o.seqmin, o.seqmax, o.seqstart, o.seqcache,
           CASE WHEN o.seqcycle THEN ' CYCLE' ELSE '' END), o.relname
    FROM owned o WHERE o.deptype = 'a'
  UNION ALL
  SELECT 3, 'before', format('CREATE %sTABLE %I.%I (%s)', CASE WHEN t.relpersistence = 'u' THEN 'UNLOGGED ' ELSE '' END, t.nspname, t.relname,
           concat_ws(', ', (SELECT string_agg(def, ', ' ORDER BY attnum) FROM cols),
                           (SELECT string_agg(def, ', ' ORDER BY contype, conname) FROM cons))), ''
    FROM t
  UNION ALL
  SELECT 4, 'before', format('ALTER SEQUENCE %I.%I OWNED BY %I.%I.%I', o.nspname, o.relname, t.nspname, t.relname, a.attname), o.relname
    FROM owned o CROSS JOIN t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = o.attnum
   WHERE o.deptype = 'a'
  UNION ALL
  SELECT 5, 'after', pg_get_indexdef(x.indexrelid), ic.relname
    FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
   WHERE x.indrelid = $1::oid AND x.indisvalid
     AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = x.indexrelid AND con.conrelid = $1::oid AND con.contype IN ('p', 'u', 'x'))
  UNION ALL
  -- Foreign keys, and CHECKs added NOT VALID on the source (old rows may violate them: added after the rows).
  SELECT 6, 'after', format('ALTER TABLE %I.%I ADD CONSTRAINT %I %s', t.nspname, t.relname, con.conname, pg_get_constraintdef(con.oid)), con.conname
    FROM pg_constraint con CROSS JOIN t
   WHERE con.conrelid = t.oid AND (con.contype = 'f' OR (con.contype = 'c' AND NOT con.convalidated))
  UNION ALL
  SELECT 7, 'finish', format('COMMENT ON TABLE %I.%I IS %L', t.nspname, t.relname, d.description), ''
    FROM t JOIN pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
  UNION ALL
  SELECT 7, 'finish', format('COMMENT ON COLUMN %I.%I.%I IS %L', t.nspname, t.relname, a.attname, d.description), a.attname
    FROM t JOIN pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid > 0
    JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.objsubid
  UNION ALL
  -- User triggers (not those behind foreign keys, not cutover's own, not partitions' clones), then their state.
  SELECT 8, 'finish', pg_get_triggerdef(tg.oid), tg.tgname
    FROM pg_trigger tg WHERE tg.tgrelid = $1::oid AND NOT tg.tgisinternal AND tg.tgparentid = 0 AND tg.tgname NOT IN ('cutover_capture', 'cutover_capture_i', 'cutover_capture_u', 'cutover_capture_d', 'cutover_capture_t', 'cutover_fence', 'cutover_fence_watch', 'cutover_guard')
  UNION ALL
  SELECT 9, 'finish', format('ALTER TABLE %I.%I %s TRIGGER %I', t.nspname, t.relname,
           CASE tg.tgenabled WHEN 'D' THEN 'DISABLE' WHEN 'A' THEN 'ENABLE ALWAYS' ELSE 'ENABLE REPLICA' END, tg.tgname), tg.tgname
    FROM pg_trigger tg CROSS JOIN t
   WHERE tg.tgrelid = t.oid AND NOT tg.tgisinternal AND tg.tgparentid = 0 AND tg.tgname NOT IN ('cutover_capture', 'cutover_capture_i', 'cutover_capture_u', 'cutover_capture_d', 'cutover_capture_t', 'cutover_fence', 'cutover_fence_watch', 'cutover_guard') AND tg.tgenabled <> 'O'
  UNION ALL
  SELECT 10, 'finish', format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY', t.nspname, t.relname), '' FROM t JOIN pg_class c ON c.oid = t.oid WHERE c.relrowsecurity
  UNION ALL
  SELECT 10, 'finish', format('ALTER TABLE %I.%I FORCE ROW LEVEL SECURITY', t.nspname, t.relname), '~' FROM t JOIN pg_class c ON c.oid = t.oid WHERE c.relforcerowsecurity
  UNION ALL
  SELECT 11, 'finish', format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s%s%s', p.polname, t.nspname, t.relname,
           CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END,
           CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,
           (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(coalesce($2::jsonb ->> pg_get_userbyid(r), pg_get_userbyid(r))) END, ', ' ORDER BY r) FROM unnest(p.polroles) r),
           CASE WHEN p.polqual IS NOT NULL THEN format(' USING (%s)', pg_get_expr(p.polqual, p.polrelid)) ELSE '' END,
           CASE WHEN p.polwithcheck IS NOT NULL THEN format(' WITH CHECK (%s)', pg_get_expr(p.polwithcheck, p.polrelid)) ELSE '' END), p.polname
    FROM pg_policy p CROSS JOIN t WHERE p.polrelid = t.oid
  UNION ALL
  SELECT 12, 'finish', format('ALTER TABLE %I.%I OWNER TO %I', t.nspname, t.relname, coalesce($2::jsonb ->> pg_get_userbyid(c.relowner), pg_get_userbyid(c.relowner))), '' FROM t JOIN pg_class c ON c.oid = t.oid
  UNION ALL
  -- Grants to others than the owner (the owner's own come with ownership); one made by another grantor
  -- (who holds it WITH GRANT OPTION, granted first: ordered by grantor = owner first) as that role.
  SELECT 13, 'finish', CASE WHEN g.grantor = c.relowner THEN '' ELSE format('SET ROLE %I; ', coalesce($2::jsonb ->> pg_get_userbyid(g.grantor), pg_get_userbyid(g.grantor))) END ||
           format('GRANT %s ON TABLE %I.%I TO %s%s', g.privilege_type, t.nspname, t.relname,
           CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(coalesce($2::jsonb ->> pg_get_userbyid(g.grantee), pg_get_userbyid(g.grantee))) END,
           CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) ||
           CASE WHEN g.grantor = c.relowner THEN '' ELSE '; RESET ROLE' END, (g.grantor <> c.relowner)::text || g.privilege_type || g.grantee
    FROM t JOIN pg_class c ON c.oid = t.oid, aclexplode(c.relacl) g
   WHERE g.grantee <> c.relowner
  UNION ALL
  SELECT 14, 'finish', format('GRANT %s (%I) ON TABLE %I.%I TO %s%s', g.privilege_type, a.attname, t.nspname, t.relname,
           CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(coalesce($2::jsonb ->> pg_get_userbyid(g.grantee), pg_get_userbyid(g.grantee))) END,
           CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), a.attname || g.privilege_type || g.grantee
    FROM t JOIN pg_class c ON c.oid = t.oid JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL,
         aclexplode(a.attacl) g
   WHERE g.grantee <> c.relowner
  UNION ALL
  -- The grants of the sequences its columns own (serial, identity): an application inserting needs USAGE.
  SELECT 15, 'finish', format('GRANT %s ON SEQUENCE %I.%I TO %s%s', g.privilege_type, o.nspname, o.relname,
           CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(coalesce($2::jsonb ->> pg_get_userbyid(g.grantee), pg_get_userbyid(g.grantee))) END,
           CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), o.relname || g.privilege_type || g.grantee
    FROM owned o JOIN pg_class sc ON sc.oid = o.seqrelid, aclexplode(sc.relacl) g
   WHERE g.grantee <> sc.relowner
) s
ORDER BY ord, k;
