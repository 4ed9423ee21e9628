-- The statements that lift a write fence, in the order to run them: the fence's triggers (found by name,
-- so that a table renamed since is not missed), the privileges a revoke fence took (one GRANT per role and
-- set of privileges, listing its tables), the roles a read-only fence changed, then the fence's schema.
-- `replicate unfence` runs them in one transaction; teardown journals them. No rows: nothing is fenced.
WITH trg AS (
  SELECT format('DROP TRIGGER IF EXISTS %I ON %s', t.tgname, t.tgrelid::regclass) AS s, t.tgrelid::regclass::text AS k
    FROM pg_trigger t
   WHERE t.tgname IN ('cutover_fence', 'cutover_fence_watch') AND NOT t.tgisinternal
), rev AS (
  SELECT role_name, relid, string_agg(privilege, ', ' ORDER BY privilege) AS privs
    FROM _cutover_fence.revoked r
   WHERE EXISTS (SELECT 1 FROM pg_class WHERE oid = r.relid)
     AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.role_name)
   GROUP BY role_name, relid
), grants AS (
  SELECT format('GRANT %s ON %s TO %I', privs, string_agg(relid::regclass::text, ', ' ORDER BY relid::regclass::text), role_name) AS s
    FROM rev GROUP BY role_name, privs
)
SELECT s, 'trigger' AS kind FROM (SELECT s FROM trg ORDER BY k, s) a
UNION ALL SELECT s, 'grant' FROM (SELECT s FROM grants ORDER BY s) b
UNION ALL SELECT format('ALTER ROLE %I RESET default_transaction_read_only', role_name), 'role'
  FROM (SELECT role_name FROM _cutover_fence.read_only r WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.role_name) ORDER BY 1) c
UNION ALL SELECT 'DROP SCHEMA IF EXISTS _cutover_fence CASCADE', 'schema';
