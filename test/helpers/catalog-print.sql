-- Privileges are listed as sorted grantee:privilege:grantable:grantor (NULL = the default's).
-- A description of a database's schema from the catalogs, one line per fact, written for the tests and
-- independent of cutover's code: owners, privileges (explicit or default, as granted triples), column
-- properties, policies, row-level security, persistence, replica identity, populated matviews,
-- triggers' enabled state, rules, statistics objects, partitions and inheritance, constraints,
-- indexes, default privileges, comments, extensions. Roles appear by name (tests rewrite them).
WITH nsp AS (
  SELECT oid, nspname FROM pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema', '_cutover') AND nspname !~ '^pg_(toast|temp_)'
), ext_member AS (
  SELECT objid, classid FROM pg_depend WHERE deptype = 'e'
)
SELECT line FROM (
  SELECT format('schema %I owner=%s acl=%s', n.nspname, pg_get_userbyid(s.nspowner),
                (SELECT string_agg(format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)), ',' ORDER BY format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)))
                   FROM aclexplode(coalesce(s.nspacl, acldefault('n'::"char", s.nspowner))) a)) AS line
    FROM nsp n JOIN pg_namespace s ON s.oid = n.oid
   WHERE n.nspname <> 'public'
  UNION ALL
  SELECT format('rel %I.%I kind=%s owner=%s persistence=%s rls=%s force=%s replident=%s populated=%s options=%s bound=%s acl=%s',
                n.nspname, c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
                c.relreplident, c.relispopulated, c.reloptions, pg_get_expr(c.relpartbound, c.oid),
                (SELECT string_agg(format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)), ',' ORDER BY format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)))
                   FROM aclexplode(coalesce(c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))) a))
    FROM pg_class c JOIN nsp n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'i', 'I') AND c.oid NOT IN (SELECT objid FROM ext_member)
  UNION ALL
  SELECT format('col %I.%I.%I type=%s notnull=%s identity=%s generated=%s default=%s acl=%s', n.nspname, c.relname, a.attname,
                format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity, a.attgenerated, pg_get_expr(d.adbin, d.adrelid),
                (SELECT string_agg(format('%s:%s:%s:%s', CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END, x.privilege_type, x.is_grantable, pg_get_userbyid(x.grantor)), ',' ORDER BY format('%s:%s:%s:%s', CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END, x.privilege_type, x.is_grantable, pg_get_userbyid(x.grantor)))
                   FROM aclexplode(a.attacl) x))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN nsp n ON n.oid = c.relnamespace
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.oid NOT IN (SELECT objid FROM ext_member)
  UNION ALL
  SELECT format('function %s owner=%s secdef=%s acl=%s', p.oid::regprocedure, pg_get_userbyid(p.proowner), p.prosecdef,
                (SELECT string_agg(format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)), ',' ORDER BY format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)))
                   FROM aclexplode(coalesce(p.proacl, acldefault('f'::"char", p.proowner))) a))
    FROM pg_proc p JOIN nsp n ON n.oid = p.pronamespace WHERE p.oid NOT IN (SELECT objid FROM ext_member)
  UNION ALL
  SELECT format('type %s kind=%s owner=%s acl=%s', t.oid::regtype, t.typtype, pg_get_userbyid(t.typowner),
                (SELECT string_agg(format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)), ',' ORDER BY format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)))
                   FROM aclexplode(coalesce(t.typacl, acldefault('T'::"char", t.typowner))) a))
    FROM pg_type t JOIN nsp n ON n.oid = t.typnamespace
   WHERE t.typtype IN ('e', 'd', 'r', 'c', 'b') AND t.typelem = 0 AND t.oid NOT IN (SELECT objid FROM ext_member)
     AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
     AND NOT EXISTS (SELECT 1 FROM pg_range r WHERE r.rngmultitypid = t.oid)
  UNION ALL
  SELECT format('policy %I.%I %s cmd=%s permissive=%s roles=%s using=%s check=%s', schemaname, tablename, policyname, cmd, permissive, roles, qual, with_check)
    FROM pg_policies WHERE schemaname NOT IN ('pg_catalog', '_cutover')
  UNION ALL
  SELECT format('trigger %s on %s enabled=%s def=%s', t.tgname, t.tgrelid::regclass, t.tgenabled, pg_get_triggerdef(t.oid))
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN nsp n ON n.oid = c.relnamespace
   WHERE NOT t.tgisinternal AND t.tgname !~ '^cutover_'
  UNION ALL
  SELECT format('rule %I.%I %s %s', schemaname, tablename, rulename, definition) FROM pg_rules WHERE schemaname NOT IN ('pg_catalog', '_cutover')
  UNION ALL
  SELECT format('statistics %I.%I owner=%s kinds=%s def=%s', n.nspname, s.stxname, pg_get_userbyid(s.stxowner), s.stxkind, pg_get_statisticsobjdef(s.oid))
    FROM pg_statistic_ext s JOIN nsp n ON n.oid = s.stxnamespace
  UNION ALL
  SELECT format('inherits %s <- %s seq=%s', i.inhparent::regclass, i.inhrelid::regclass, i.inhseqno)
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN nsp n ON n.oid = c.relnamespace
  UNION ALL
  SELECT format('constraint %s %s %s deferrable=%s validated=%s', co.conrelid::regclass, co.conname, pg_get_constraintdef(co.oid), co.condeferrable, co.convalidated)
    FROM pg_constraint co JOIN nsp n ON n.oid = co.connamespace WHERE co.conrelid <> 0
  UNION ALL
  SELECT format('index %s', pg_get_indexdef(i.indexrelid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN nsp n ON n.oid = c.relnamespace
  UNION ALL
  SELECT format('default-acl role=%s schema=%s type=%s acl=%s', pg_get_userbyid(d.defaclrole), d.defaclnamespace::regnamespace, d.defaclobjtype,
                (SELECT string_agg(format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)), ',' ORDER BY format('%s:%s:%s:%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, a.privilege_type, a.is_grantable, pg_get_userbyid(a.grantor)))
                   FROM aclexplode(d.defaclacl) a))
    FROM pg_default_acl d
  UNION ALL
  SELECT format('comment %s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
    FROM pg_description d
   WHERE d.objoid >= 16384 AND d.classoid <> 'pg_extension'::regclass
     AND coalesce((pg_identify_object(d.classoid, d.objoid, d.objsubid)).schema, '') NOT IN ('pg_catalog', 'information_schema', '_cutover')
     AND d.objoid NOT IN (SELECT objid FROM ext_member)
  UNION ALL
  SELECT format('extension %s %s schema=%s', extname, extversion, extnamespace::regnamespace) FROM pg_extension
) x
ORDER BY line;
