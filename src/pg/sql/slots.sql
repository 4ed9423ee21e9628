-- Connection slots: what the connection budget needs, and nothing slower (sampled every half second
-- during a run; server-facts.sql has the rest of what doctor reads). Runs as any role.
SELECT
  current_setting('max_connections')::int                               AS max_connections,
  current_setting('superuser_reserved_connections')::int                AS superuser_reserved_connections,
  coalesce(nullif(current_setting('reserved_connections', true), ''), '0')::int AS reserved_connections,
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS connections_total,
  (SELECT count(*) FROM pg_stat_activity
    WHERE backend_type = 'client backend' AND application_name LIKE 'cutover/%')::int  AS connections_ours,
  (SELECT count(*) FROM pg_stat_activity
    WHERE backend_type = 'client backend' AND usename = current_user)::int             AS connections_role,
  (SELECT count(*) FROM pg_stat_activity
    WHERE backend_type = 'client backend' AND datname = current_database())::int       AS connections_database,
  r.rolsuper                                                            AS is_superuser,
  r.rolconnlimit                                                        AS role_conn_limit,
  d.datconnlimit                                                        AS database_conn_limit
FROM pg_roles r, pg_database d
WHERE r.rolname = current_user AND d.datname = current_database();
