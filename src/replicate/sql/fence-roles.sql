-- The roles a revoke or read-only fence names ($1): whether each exists, and how many write privileges a
-- revoke fence would take from it (granted to it directly, its ownership default included) on the tables
-- fence-plan.sql lists.
SELECT r.name AS role_name, ro.oid IS NOT NULL AS exists, ro.rolsuper AS superuser,
       (SELECT count(*)::int
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) acl
         WHERE acl.grantee = ro.oid AND acl.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
           AND c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_(toast|temp)') AS revocable
  FROM unnest($1::text[]) AS r(name)
  LEFT JOIN pg_roles ro ON ro.rolname = r.name
 ORDER BY 1;
