-- Server, role and database facts (used by `cutover doctor`), besides the connection slots (slots.sql).
-- Runs as any role on PostgreSQL 10+; nothing here needs superuser.
SELECT
  current_setting('server_version_num')::int                            AS version_num,
  current_setting('server_version')                                     AS version,
  current_setting('wal_level')                                          AS wal_level,
  current_user                                                          AS role,
  r.rolcreatedb                                                         AS can_create_db,
  r.rolcreaterole                                                       AS can_create_role,
  r.rolreplication                                                      AS can_replicate,
  r.rolbypassrls                                                        AS bypass_rls,
  current_database()                                                    AS database,
  has_database_privilege(current_database(), 'CREATE')                  AS can_create_schema,
  (SELECT count(*) FROM pg_largeobject_metadata)::bigint                AS large_objects,
  (SELECT count(*) FROM pg_event_trigger)::int                          AS event_triggers,
  (SELECT coalesce(json_agg(json_build_object('name', pubname, 'all_tables', puballtables) ORDER BY pubname), '[]')
     FROM pg_publication)                                               AS publications,
  (SELECT coalesce(json_agg(json_build_object('name', extname, 'version', extversion) ORDER BY extname), '[]')
     FROM pg_extension)                                                 AS extensions,
  (SELECT coalesce(json_agg(name ORDER BY name), '[]') FROM pg_available_extensions) AS available_extensions,
  (SELECT coalesce(json_agg(DISTINCT t.spcname), '[]')
     FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace
     JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.reltablespace <> 0 AND t.spcname NOT IN ('pg_default', 'pg_global')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')) AS custom_tablespaces,
  (SELECT t.spcname FROM pg_tablespace t WHERE t.oid = d.dattablespace) AS database_tablespace,
  pg_database_size(current_database())::bigint                          AS database_bytes
FROM pg_roles r, pg_database d
WHERE r.rolname = current_user AND d.datname = current_database();
