-- On the target: the versions available of the named extensions ($1 text[]), whether creating each needs
-- a superuser or is trusted, and whether the current role is a superuser.
SELECT v.name::text AS name, v.version::text AS version, v.superuser, v.trusted,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS me_super
  FROM pg_available_extension_versions v
 WHERE v.name = ANY($1::text[]);
