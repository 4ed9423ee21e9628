-- Settings of this database (ALTER DATABASE ... SET) and of roles in it (ALTER ROLE ... IN DATABASE ...
-- SET), one row per setting; role is NULL for the database's own.
SELECT r.rolname::text AS role,
       split_part(c, '=', 1) AS name,
       substr(c, length(split_part(c, '=', 1)) + 2) AS value
  FROM pg_db_role_setting s
  LEFT JOIN pg_roles r ON r.oid = s.setrole
  CROSS JOIN LATERAL unnest(s.setconfig) AS c
 WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY 1 NULLS FIRST, 2;
