-- Owners and grants of large objects as SQL statements (role names quoted), parsed and mapped like
-- pg_dump's own. Grants whose grantee is the owner are implied by ownership.
SELECT format('ALTER LARGE OBJECT %s OWNER TO %I;', m.oid, pg_get_userbyid(m.lomowner)) AS sql
  FROM pg_largeobject_metadata m
UNION ALL
SELECT format('GRANT %s ON LARGE OBJECT %s TO %s%s;', a.privilege_type, m.oid,
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
              CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
  FROM pg_largeobject_metadata m, aclexplode(m.lomacl) a
 WHERE a.grantee <> m.lomowner;
