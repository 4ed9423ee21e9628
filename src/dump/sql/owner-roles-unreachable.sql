-- Of the given roles ($1: text[]) that exist on the target, those the connected role cannot make an
-- object's owner: ALTER ... OWNER TO needs membership in the new owner (PostgreSQL 16+: with the SET
-- option). A superuser can always. Roles that do not exist are left to the missing-roles check.
SELECT r.rolname::text AS role
  FROM pg_roles r
 WHERE r.rolname = ANY ($1::text[])
   AND NOT pg_has_role(current_user, r.oid, CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END)
 ORDER BY 1;
