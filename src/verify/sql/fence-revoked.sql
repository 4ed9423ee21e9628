-- The table privileges a write fence (replicate cutover, fence: revoke) has taken away on the source for
-- the fence's duration (_cutover_fence.revoked, kept until `replicate unfence` gives them back): the
-- source's privileges are compared as they are outside the fence.
SELECT CASE c.relkind WHEN 'S' THEN 'sequence ' ELSE 'table ' END || quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS object,
       'grant' AS kind, f.role_name::text AS role, f.privilege AS privilege, false AS grantable
  FROM _cutover_fence.revoked f
  JOIN pg_class c ON c.oid = f.relid
  JOIN pg_namespace n ON n.oid = c.relnamespace;
