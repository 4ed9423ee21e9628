-- What a write fence would cover, read before anything changes (doctor predicts with it too): every table
-- of the database as _cutover_fence.install() picks them, whether the connected role can put the fence's
-- triggers on it and take them off again (DROP TRIGGER needs the owner: the role or a member of it), and who can
-- write it: login roles (through grants, PUBLIC and inherited membership; superusers apart, no fence
-- stops them) and whether PUBLIC itself holds a write privilege.
WITH rels AS (
  SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS rel, pg_get_userbyid(c.relowner) AS owner,
         c.relacl, c.relowner,
         pg_has_role(c.relowner, 'USAGE') AS can_fence, pg_has_role(c.relowner, 'USAGE') AS owned,
         EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e') AS extension_member
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
     AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_(toast|temp)'
)
SELECT r.rel, r.owner, r.can_fence, r.owned, r.extension_member,
       EXISTS (SELECT 1 FROM aclexplode(coalesce(r.relacl, acldefault('r', r.relowner))) a
                WHERE a.grantee = 0 AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')) AS public_writes,
       coalesce((SELECT array_agg(ro.rolname::text ORDER BY ro.rolname)
                   FROM pg_roles ro
                  WHERE ro.rolcanlogin AND NOT ro.rolsuper
                    AND has_table_privilege(ro.oid, r.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')), '{}') AS writers
  FROM rels r
 ORDER BY r.rel;
