-- Attributes and memberships of the named roles ($1 text[]), for creating missing ones on the target.
-- pg_roles, not pg_authid: readable without superuser (and never a password).
SELECT r.rolname::text AS name, r.rolsuper AS super, r.rolcreaterole AS createrole, r.rolcreatedb AS createdb,
       r.rolreplication AS replication, r.rolbypassrls AS bypassrls, r.rolcanlogin AS login, r.rolinherit AS inherit,
       r.rolconnlimit AS connlimit,
       coalesce((SELECT array_agg(g.rolname::text ORDER BY g.rolname)
                   FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE m.member = r.oid), '{}') AS member_of
  FROM pg_roles r
 WHERE r.rolname = ANY($1::text[]);
