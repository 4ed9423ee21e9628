-- Tables whose rows row-level security would hide from the current role: RLS enabled, and the role
-- neither bypasses RLS (superuser or BYPASSRLS) nor owns the table (an owner is exempt unless the table
-- has FORCE ROW LEVEL SECURITY). Reading such a table with row_security = off is an error; with it on,
-- the read silently sees only the rows the policies let through.
SELECT n.nspname::text AS schema, c.relname::text AS name, c.relforcerowsecurity AS forced,
       pg_has_role(c.relowner, 'USAGE') AS owned, pg_get_userbyid(c.relowner)::text AS owner
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm') AND c.relrowsecurity
   AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_'
   AND NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user)
   AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))
 ORDER BY 1, 2;
