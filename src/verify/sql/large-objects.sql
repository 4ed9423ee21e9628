-- Every large object: owner, ACL entries (grantee privilege, and "by GRANTOR" for a grant made by a role
-- other than the owner, as in privileges.sql; role names mapped by the caller), comment,
-- and, when $1, the md5 of its content (lo_get reads it whole; reading needs SELECT on it, or
-- lo_compat_privileges). A NULL ACL is the default (acldefault), as in privileges.sql.
SELECT m.oid::text AS oid,
       pg_get_userbyid(m.lomowner)::text AS owner,
       coalesce((SELECT array_agg(CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee)::text END
                                  || E'\t' || x.privilege_type || CASE WHEN x.is_grantable THEN E'\t*' ELSE '' END
                                  || CASE WHEN x.grantor <> m.lomowner THEN E'\tby ' || pg_get_userbyid(x.grantor)::text ELSE '' END ORDER BY 1)
                   FROM aclexplode(coalesce(m.lomacl, acldefault('L', m.lomowner))) x), '{}') AS acl,
       obj_description(m.oid, 'pg_largeobject') AS comment,
       CASE WHEN $1::bool THEN md5(lo_get(m.oid)) END AS hash
  FROM pg_largeobject_metadata m
 ORDER BY m.oid;
