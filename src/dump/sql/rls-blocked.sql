-- Tables whose rows the current role cannot all read: row-level security is enabled and applies to this
-- role (it is not the owner, or the owner with FORCE ROW LEVEL SECURITY), and the role has neither
-- SUPERUSER nor BYPASSRLS. With row_security = off (as cutover and pg_dump read), reading them fails
-- instead of silently returning only the rows the policies allow.
SELECT n.nspname::text AS schema,
       c.relname::text AS name,
       pg_get_userbyid(c.relowner)::text AS owner,
       c.relforcerowsecurity AS forced,
       pg_has_role(c.relowner, 'USAGE') AS is_owner
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND c.relrowsecurity
   AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))
   AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = current_user AND (r.rolsuper OR r.rolbypassrls))
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover')
 ORDER BY 1, 2;
