-- The roles this database's objects need: owners, grantees (privileges, default privileges) and roles
-- named in policies, with the object. pg_shdepend has no rows for the bootstrap superuser, so what it
-- owns in user schemas is added. Extension ownership and cutover's own schema are left out.
WITH deps AS (
  SELECT d.refobjid AS role, CASE d.deptype WHEN 'o' THEN 'owns' WHEN 'a' THEN 'is granted on' ELSE 'is named in' END AS how,
         d.classid, d.objid, d.objsubid
    FROM pg_shdepend d
   WHERE d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND d.refclassid = 'pg_authid'::regclass AND d.deptype IN ('o', 'a', 'r')
     AND d.classid <> 'pg_extension'::regclass
  UNION ALL
  SELECT 10, 'owns', 'pg_class'::regclass, c.oid, 0 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relowner = 10 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'
     AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e')
  UNION ALL
  SELECT 10, 'owns', 'pg_proc'::regclass, p.oid, 0 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.proowner = 10 AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'
     AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
)
SELECT r.rolname::text AS role, d.how, pg_describe_object(d.classid, d.objid, d.objsubid) AS object
  FROM deps d
  JOIN pg_roles r ON r.oid = d.role
 WHERE coalesce((pg_identify_object(d.classid, d.objid, d.objsubid)).schema, '') <> '_cutover'
   AND NOT (d.classid = 'pg_namespace'::regclass AND d.objid = (SELECT oid FROM pg_namespace WHERE nspname = '_cutover'))
 ORDER BY 1, 3;
