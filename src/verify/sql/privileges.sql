-- Owners and privileges as comparable lines: (object, entry). An entry is "owner ROLE" or
-- "ROLE PRIVILEGE" (with " WITH GRANT OPTION"). Grantee names are mapped by the caller (role map).
-- grantor is set only for a grant made by a role other than the object's owner (one holding the privilege
-- WITH GRANT OPTION granted it onward; a REVOKE ... CASCADE of that option takes it away): the caller
-- compares it, mapped. A grant by the owner (a superuser's or an owner member's grant is recorded as the
-- owner's, and so are the defaults) has none, so who ran the restore makes no difference.
-- A NULL ACL is the object type's default (acldefault), so NULL and its explicit spelling compare equal.
-- initdb is true on the public schema's lines while its ownership and ACL are initdb's (they differ by
-- version: PostgreSQL 15 made pg_database_owner its owner and took CREATE from PUBLIC): the caller leaves
-- them out when both sides are at their own version's default, and compares them otherwise (a copy from 14
-- keeps 14's public schema, as pg_dump does, and that equals the source's).
-- cutover's own schemas (_cutover, and _cutover_fence where a fence makes one), system schemas and extension
-- members are left out, as in schema-objects.sql.
WITH objs AS (
  SELECT c.relowner AS owner, c.relowner AS by_owner,
         coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)) AS acl,
         CASE c.relkind WHEN 'S' THEN 'sequence ' WHEN 'v' THEN 'view ' WHEN 'm' THEN 'materialized view ' WHEN 'f' THEN 'foreign table ' ELSE 'table ' END
           || quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS label,
         false AS initdb
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  UNION ALL
  SELECT NULL::oid, c.relowner, a.attacl,
         'column ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '.' || quote_ident(a.attname), false
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
  UNION ALL
  SELECT n.nspowner, n.nspowner, coalesce(n.nspacl, acldefault('n', n.nspowner)), 'schema ' || quote_ident(n.nspname),
         (n.nspname = 'public'
          AND n.nspowner IN (10, coalesce(to_regrole('pg_database_owner')::oid, 0))
          AND n.nspacl IS NOT DISTINCT FROM (SELECT ip.initprivs FROM pg_init_privs ip
                                              WHERE ip.classoid = 'pg_namespace'::regclass AND ip.objoid = n.oid))
    FROM pg_namespace n
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
  UNION ALL
  SELECT p.proowner, p.proowner, coalesce(p.proacl, acldefault('f', p.proowner)),
         CASE p.prokind WHEN 'p' THEN 'procedure ' ELSE 'function ' END
           || quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')', false
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
  UNION ALL
  SELECT t.typowner, t.typowner, coalesce(t.typacl, acldefault('T', t.typowner)), 'type ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname), false
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
   WHERE t.typtype IN ('e', 'd', 'r') 
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')
  UNION ALL
  SELECT NULL::oid, da.defaclrole, da.defaclacl,
         'default privileges of ' || quote_ident(pg_get_userbyid(da.defaclrole))
           || coalesce(' in schema ' || quote_ident(n.nspname), '') || ' on '
           || CASE da.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
                                    WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE da.defaclobjtype::text END,
         false
    FROM pg_default_acl da LEFT JOIN pg_namespace n ON n.oid = da.defaclnamespace
)
SELECT o.label AS object, 'owner' AS kind, pg_get_userbyid(o.owner)::text AS role, '' AS privilege, false AS grantable, o.initdb,
       NULL::text AS grantor
  FROM objs o WHERE o.owner IS NOT NULL
UNION ALL
SELECT o.label, 'grant', CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END,
       x.privilege_type, x.is_grantable, o.initdb,
       CASE WHEN x.grantor <> o.by_owner THEN pg_get_userbyid(x.grantor)::text END
  FROM objs o CROSS JOIN LATERAL aclexplode(o.acl) x
ORDER BY 1, 2, 3, 4;
