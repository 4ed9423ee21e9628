-- Every large object with what the fence compares: owner, ACL, and an md5 of the content. Triggers
-- cannot see large objects (pg_largeobject takes no user triggers), so they are compared in the fence.
-- Needs SELECT on each large object (its owner, a grant, or lo_compat_privileges).
SELECT m.oid::int8 AS oid, pg_get_userbyid(m.lomowner) AS owner, m.lomacl::text AS acl, md5(lo_get(m.oid)) AS hash
  FROM pg_largeobject_metadata m
 ORDER BY m.oid;
