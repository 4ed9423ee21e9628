-- The sessions of one cutover process tree on this server: application_name ends with '#<tag>'
-- ($1, the session tag, see src/pg/session-tag.ts), except the caller's own and those named in $2.
-- can_signal: whether this role may cancel/terminate it (same role, a role it is a member of, or
-- pg_signal_backend); superuser sessions only a superuser may signal.
SELECT a.pid, a.application_name AS app, coalesce(a.state, '') AS state,
       (pg_has_role(a.usesysid, 'MEMBER') OR pg_has_role('pg_signal_backend', 'MEMBER')) AS can_signal
  FROM pg_stat_activity a
 WHERE right(a.application_name, length($1) + 1) = '#' || $1
   AND a.pid <> pg_backend_pid()
   AND a.application_name <> ALL($2::text[])
 ORDER BY a.pid;
