-- Owners and grants of large objects as SQL statements (role names quoted), parsed and mapped like
-- pg_dump's own. An explicit ACL is reproduced exactly, as pg_dump does: everything revoked from the
-- owner and PUBLIC, then each grant (the owner's included); a grant made by a role other than the owner
-- under SET SESSION AUTHORIZATION of that role, as pg_dump writes it (the privileges step makes it as that
-- role where it may).
SELECT sql FROM (
  SELECT m.oid, 0 AS ord, format('ALTER LARGE OBJECT %s OWNER TO %I;', m.oid, pg_get_userbyid(m.lomowner)) AS sql
    FROM pg_largeobject_metadata m
  UNION ALL
  SELECT m.oid, 1, format('REVOKE ALL ON LARGE OBJECT %s FROM PUBLIC, %I;', m.oid, pg_get_userbyid(m.lomowner))
    FROM pg_largeobject_metadata m WHERE m.lomacl IS NOT NULL
  UNION ALL
  SELECT m.oid, CASE WHEN a.grantor = m.lomowner THEN 2 ELSE 3 END,
         format('%sGRANT %s ON LARGE OBJECT %s TO %s%s;%s',
                CASE WHEN a.grantor <> m.lomowner THEN format('SET SESSION AUTHORIZATION %I; ', pg_get_userbyid(a.grantor)) ELSE '' END,
                a.privilege_type, m.oid,
                CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END,
                CASE WHEN a.grantor <> m.lomowner THEN ' RESET SESSION AUTHORIZATION;' ELSE '' END)
    FROM pg_largeobject_metadata m, aclexplode(m.lomacl) a
) s
ORDER BY oid, ord, sql;
