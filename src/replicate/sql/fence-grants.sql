-- The statements that lift a write fence still in force (what teardown leaves in place and prints):
-- one GRANT per role and set of privileges, listing its tables, so a DBA can paste a few lines.
WITH f AS (
  SELECT role_name, relid, privilege FROM _cutover.fence
   WHERE relid = 0 OR EXISTS (SELECT 1 FROM pg_class WHERE oid = relid)),
per_table AS (
  SELECT role_name, relid, string_agg(privilege, ', ' ORDER BY privilege) AS privs
    FROM f WHERE privilege <> 'read only' GROUP BY role_name, relid)
SELECT format('GRANT %s ON %s TO %I', privs, string_agg(relid::regclass::text, ', ' ORDER BY relid::regclass::text), role_name) AS s
  FROM per_table GROUP BY role_name, privs
UNION ALL
SELECT format('ALTER ROLE %I RESET default_transaction_read_only', role_name) FROM f WHERE privilege = 'read only'
ORDER BY 1;
