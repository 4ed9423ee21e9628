-- The schema as comparable lines: (kind, object name, definition). Two databases with the same schema
-- produce the same set, whatever the major version (definitions are normalised by the caller:
-- whitespace collapsed). cutover's own schema and triggers are left out.
WITH rels AS (
  SELECT c.oid, c.relkind, n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity, c.relpersistence, c.relreplident, c.reloptions
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
)
SELECT 'table' AS kind, quote_ident(nspname) || '.' || quote_ident(relname) AS name,
       CASE relkind WHEN 'p' THEN 'partitioned table' ELSE 'table' END
       || CASE WHEN relrowsecurity THEN ' ROW LEVEL SECURITY' ELSE '' END
       || CASE WHEN relforcerowsecurity THEN ' FORCE ROW LEVEL SECURITY' ELSE '' END
       || CASE WHEN relpersistence = 'u' THEN ' UNLOGGED' ELSE '' END
       || CASE relreplident WHEN 'd' THEN '' WHEN 'f' THEN ' REPLICA IDENTITY FULL' WHEN 'n' THEN ' REPLICA IDENTITY NOTHING'
               ELSE ' REPLICA IDENTITY USING INDEX ' || coalesce((SELECT quote_ident(ic.relname) FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
                                                                  WHERE x.indrelid = rels.oid AND x.indisreplident), '?') END
       || coalesce(' WITH (' || (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(reloptions) o) || ')', '') AS def
  FROM rels WHERE relkind IN ('r', 'p')
UNION ALL
SELECT 'column', quote_ident(r.nspname) || '.' || quote_ident(r.relname) || '.' || quote_ident(a.attname),
       format_type(a.atttypid, a.atttypmod)
       || coalesce(' COLLATE ' || (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                                    WHERE co.oid = a.attcollation AND a.attcollation <> (SELECT ty.typcollation FROM pg_type ty WHERE ty.oid = a.atttypid)), '')
       || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
       || CASE WHEN a.attidentity::text <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END
       || CASE WHEN a.attgenerated::text <> '' THEN ' GENERATED ' || coalesce(pg_get_expr(ad.adbin, ad.adrelid), '')
               WHEN ad.adbin IS NOT NULL THEN ' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid) ELSE '' END
  FROM rels r
  JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
 WHERE r.relkind IN ('r', 'p', 'v', 'm')
UNION ALL
SELECT 'index', quote_ident(r.nspname) || '.' || quote_ident(i.relname), pg_get_indexdef(x.indexrelid)
  FROM rels r JOIN pg_index x ON x.indrelid = r.oid JOIN pg_class i ON i.oid = x.indexrelid
UNION ALL
SELECT 'constraint', quote_ident(r.nspname) || '.' || quote_ident(r.relname) || '.' || quote_ident(con.conname),
       pg_get_constraintdef(con.oid)
  FROM rels r JOIN pg_constraint con ON con.conrelid = r.oid
UNION ALL
SELECT 'trigger', quote_ident(r.nspname) || '.' || quote_ident(r.relname) || '.' || quote_ident(t.tgname),
       pg_get_triggerdef(t.oid) || CASE t.tgenabled WHEN 'D' THEN ' DISABLED' WHEN 'R' THEN ' ENABLE REPLICA' WHEN 'A' THEN ' ENABLE ALWAYS' ELSE '' END
  FROM rels r JOIN pg_trigger t ON t.tgrelid = r.oid
 WHERE NOT t.tgisinternal AND t.tgname NOT IN ('cutover_capture', 'cutover_capture_i', 'cutover_capture_u', 'cutover_capture_d', 'cutover_capture_t', 'cutover_fence', 'cutover_fence_watch', 'cutover_guard')
UNION ALL
SELECT CASE relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END, quote_ident(nspname) || '.' || quote_ident(relname), pg_get_viewdef(oid)
  FROM rels WHERE relkind IN ('v', 'm')
UNION ALL
SELECT 'rule', quote_ident(r.nspname) || '.' || quote_ident(r.relname) || '.' || quote_ident(rw.rulename),
       pg_get_ruledef(rw.oid)
  FROM rels r JOIN pg_rewrite rw ON rw.ev_class = r.oid
 WHERE rw.rulename <> '_RETURN'
UNION ALL
SELECT 'policy', quote_ident(r.nspname) || '.' || quote_ident(r.relname) || '.' || quote_ident(pol.polname),
       CASE WHEN pol.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END || ' FOR ' || pol.polcmd::text
       || ' TO ' || (SELECT string_agg(CASE WHEN x = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(x)::text) END, ',' ORDER BY 1) FROM unnest(pol.polroles) x)
       || coalesce(' USING (' || pg_get_expr(pol.polqual, pol.polrelid) || ')', '')
       || coalesce(' WITH CHECK (' || pg_get_expr(pol.polwithcheck, pol.polrelid) || ')', '')
  FROM rels r JOIN pg_policy pol ON pol.polrelid = r.oid
UNION ALL
SELECT 'sequence', quote_ident(r.nspname) || '.' || quote_ident(r.relname),
       'sequence ' || format_type(sq.seqtypid, NULL) || ' INCREMENT ' || sq.seqincrement || ' MINVALUE ' || sq.seqmin || ' MAXVALUE ' || sq.seqmax
       || ' START ' || sq.seqstart || ' CACHE ' || sq.seqcache || CASE WHEN sq.seqcycle THEN ' CYCLE' ELSE '' END
  FROM rels r JOIN pg_sequence sq ON sq.seqrelid = r.oid WHERE r.relkind = 'S'
UNION ALL
-- Comments on tables, views, sequences, indexes and their columns.
SELECT 'comment', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description
  FROM rels r JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = r.oid
UNION ALL
SELECT 'function', quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       md5(regexp_replace(pg_get_functiondef(p.oid), '\s+', ' ', 'g'))
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'
   AND p.prokind IN ('f', 'p')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'extension', quote_ident(extname), extname
  FROM pg_extension
UNION ALL
SELECT 'type', quote_ident(n.nspname) || '.' || quote_ident(t.typname),
       CASE t.typtype WHEN 'e' THEN 'enum ' || (SELECT string_agg(quote_literal(e.enumlabel), ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
                      WHEN 'd' THEN 'domain ' || format_type(t.typbasetype, t.typtypmod)
                      WHEN 'c' THEN 'composite'
                      ELSE t.typtype::text END
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'
   AND t.typtype IN ('e', 'd', 'c')
   AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
ORDER BY 1, 2;
