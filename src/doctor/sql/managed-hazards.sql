-- Objects an ordinary role cannot create on a managed target: functions in C (or internal) that no
-- extension provides; event triggers, publications and subscriptions (left out of the copy's schema, see
-- src/dump/toc.ts); and objects owned by a superuser (their owner must exist on the target and the
-- target role must be a member of it to hand them over). Functions the server made itself (a range
-- type's constructors: internal dependency) are not counted.
SELECT 'c-function' AS kind, p.oid::regprocedure::text AS object, pg_get_userbyid(p.proowner)::text AS owner
  FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang
  JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE l.lanname IN ('c', 'internal')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover') AND n.nspname !~ '^pg_'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
UNION ALL
SELECT 'superuser-owned', format('%s %I.%I', CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence' ELSE 'table' END, n.nspname, c.relname), r.rolname::text
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_roles r ON r.oid = c.relowner AND r.rolsuper
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover') AND n.nspname !~ '^pg_'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
UNION ALL
SELECT 'superuser-owned', format('function %s', p.oid::regprocedure), r.rolname::text
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_roles r ON r.oid = p.proowner AND r.rolsuper
 WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover') AND n.nspname !~ '^pg_'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype IN ('e', 'i'))
UNION ALL
SELECT 'left-out', format('event trigger %I', e.evtname), pg_get_userbyid(e.evtowner)::text
  FROM pg_event_trigger e
 WHERE NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_event_trigger'::regclass AND d.objid = e.oid AND d.deptype = 'e')
UNION ALL
SELECT 'left-out', format('publication %I', p.pubname), pg_get_userbyid(p.pubowner)::text
  FROM pg_publication p
 ORDER BY 1, 2;
