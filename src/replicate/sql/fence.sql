-- The write fence of a cutover, in its own schema `_cutover_fence` so that it outlives teardown (which
-- drops `_cutover`): the old source must stay fenced after the switch, and `replicate unfence` must be
-- able to lift exactly what the fence set at any time. Idempotent: a second cutover after a failed one
-- finds the fence in place and only adds what is missing (a table created since).
--
-- The fence is two statement-level triggers on every table of the database (partitioned tables, their
-- leaves, inheritance children, tables left out of capture, keyless tables), whoever writes:
--   cutover_fence        BEFORE INSERT/UPDATE/DELETE/TRUNCATE: raises SQLSTATE 25006 with the fence's
--                        time (fence kinds triggers, revoke, read-only). ENABLE ALWAYS where cutover owns
--                        the table, so session_replication_role = replica does not skip it.
--   cutover_fence_watch  AFTER the same: notes the write (table, session role, backend, transaction) in
--                        _cutover_fence.breaches. With the refusing trigger nothing reaches it; it catches
--                        a write that got past (fence kind manual, or the refusing trigger disabled).
-- CREATE TRIGGER takes SHARE ROW EXCLUSIVE, which conflicts with the ROW EXCLUSIVE lock every writer holds
-- until its transaction ends: once the fence commits, no transaction that wrote before it is still open,
-- and every later write meets the triggers.
CREATE SCHEMA IF NOT EXISTS _cutover_fence;
REVOKE ALL ON SCHEMA _cutover_fence FROM PUBLIC;

CREATE TABLE IF NOT EXISTS _cutover_fence.state (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  kind text NOT NULL,
  fenced_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- The latest install (a cutover tried again after a failed one): breaches before it were reported then.
  checked_from timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- The rollback window's applier writes to the fenced old source (docs/replicate.md, "The rollback
-- window"): a session that set cutover.fence_pass to this value passes the fence and is not a breach. It
-- never leaves the server: the applier sets it with set_config() from this table, which only the fence's
-- owner can read. gen_random_uuid() is core from PostgreSQL 13 (as is the capture).
ALTER TABLE _cutover_fence.state ADD COLUMN IF NOT EXISTS pass text NOT NULL
  DEFAULT replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');

-- A rollback window is open with this server as its old source: `replicate unfence` refuses (the
-- application would write to both servers); the rollback lifts the fence itself, finish clears this.
ALTER TABLE _cutover_fence.state ADD COLUMN IF NOT EXISTS window_open boolean NOT NULL DEFAULT false;

-- True in cutover's own applier session (the rollback window), false for everyone else.
CREATE OR REPLACE FUNCTION _cutover_fence.passes() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT coalesce(current_setting('cutover.fence_pass', true) = (SELECT pass FROM _cutover_fence.state), false)
$$;
REVOKE ALL ON FUNCTION _cutover_fence.passes() FROM PUBLIC;
-- Tables carrying the fence's triggers (relid, and the name at the time, for messages after a rename).
CREATE TABLE IF NOT EXISTS _cutover_fence.tables (relid oid PRIMARY KEY, rel text NOT NULL, refuse boolean NOT NULL, always boolean NOT NULL);
-- Privileges a revoke fence took, and roles a read-only fence changed: given back exactly by unfence.
CREATE TABLE IF NOT EXISTS _cutover_fence.revoked (role_name name NOT NULL, relid oid NOT NULL, privilege text NOT NULL, PRIMARY KEY (role_name, relid, privilege));
CREATE TABLE IF NOT EXISTS _cutover_fence.read_only (role_name name PRIMARY KEY);
-- Writes that got past the fence.
CREATE TABLE IF NOT EXISTS _cutover_fence.breaches (
  at timestamptz NOT NULL DEFAULT clock_timestamp(), relid oid NOT NULL, rel text NOT NULL, op text NOT NULL,
  role_name name NOT NULL, pid int NOT NULL, txid bigint NOT NULL, application_name text
);

-- The refusal. The fence's time comes as the trigger's argument. SECURITY DEFINER: passes() is the
-- fence owner's (the writer has no access to _cutover_fence).
CREATE OR REPLACE FUNCTION _cutover_fence.refuse() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  IF current_setting('cutover.fence_pass', true) <> '' AND _cutover_fence.passes() THEN RETURN NULL; END IF;
  RAISE EXCEPTION 'cutover: writes are fenced for the cutover since %; % on %.% refused', TG_ARGV[0], TG_OP, quote_ident(TG_TABLE_SCHEMA), quote_ident(TG_TABLE_NAME)
    USING ERRCODE = 'read_only_sql_transaction',
          HINT = 'this database is being moved to a new server: point the application at the new one (`cutover replicate unfence` gives writes back here)';
END
$$;

-- The witness: runs as the fence's owner (the writer cannot read or write the fence's schema).
CREATE OR REPLACE FUNCTION _cutover_fence.watch() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  IF current_setting('cutover.fence_pass', true) <> '' AND _cutover_fence.passes() THEN RETURN NULL; END IF;
  INSERT INTO _cutover_fence.breaches (relid, rel, op, role_name, pid, txid, application_name)
  VALUES (TG_RELID, format('%I.%I', TG_TABLE_SCHEMA, TG_TABLE_NAME), TG_OP, session_user, pg_backend_pid(), txid_current(),
          current_setting('application_name', true));
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION _cutover_fence.watch() FROM PUBLIC;

-- fence_install(kind, refuse): the triggers on every table of fence_targets.sql that lacks them, and the
-- state row. Returns the tables newly fenced. Call in one transaction with a lock_timeout (see lock.ts).
CREATE OR REPLACE FUNCTION _cutover_fence.install(p_kind text, p_refuse boolean) RETURNS TABLE (rel text, always boolean)
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  r record;
  at text;
BEGIN
  -- A second install after a failed cutover starts checking from now: the breaches before it were reported
  -- then. Without breaches to leave behind it changes nothing (a rerun after success leaves the state as it was).
  INSERT INTO _cutover_fence.state AS s (kind) VALUES (p_kind)
    ON CONFLICT (id) DO UPDATE SET checked_from = clock_timestamp()
    WHERE EXISTS (SELECT 1 FROM _cutover_fence.breaches b WHERE b.at >= s.checked_from);
  SELECT to_char(s.fenced_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') INTO at FROM _cutover_fence.state s;
  FOR r IN
    SELECT c.oid AS relid, format('%I.%I', n.nspname, c.relname) AS name, pg_has_role(c.relowner, 'USAGE') AS owned
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema', '_cutover', '_cutover_fence') AND n.nspname !~ '^pg_(toast|temp)'
       AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'cutover_fence_watch')
     ORDER BY c.oid
  LOOP
    IF p_refuse THEN
      EXECUTE format('CREATE TRIGGER cutover_fence BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION _cutover_fence.refuse(%L)', r.name, at);
    END IF;
    EXECUTE format('CREATE TRIGGER cutover_fence_watch AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION _cutover_fence.watch()', r.name);
    IF r.owned THEN
      IF p_refuse THEN EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER cutover_fence', r.name); END IF;
      EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER cutover_fence_watch', r.name);
    END IF;
    INSERT INTO _cutover_fence.tables VALUES (r.relid, r.name, p_refuse, r.owned) ON CONFLICT (relid) DO NOTHING;
    rel := r.name; always := r.owned;
    RETURN NEXT;
  END LOOP;
END
$$;

-- revoke(roles): also revokes INSERT, UPDATE, DELETE, TRUNCATE on every fenced table from each role (what
-- it holds directly, its ownership default included), recording exactly what it took.
CREATE OR REPLACE FUNCTION _cutover_fence.revoke(p_roles name[]) RETURNS int
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  r record;
  n int := 0;
BEGIN
  FOR r IN
    SELECT ro.rolname, c.oid AS relid, acl.privilege_type
      FROM _cutover_fence.tables ft
      JOIN pg_class c ON c.oid = ft.relid
      CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) acl
      JOIN pg_roles ro ON ro.oid = acl.grantee
     WHERE ro.rolname = ANY (p_roles) AND acl.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
     ORDER BY 1, 2, 3
  LOOP
    EXECUTE format('REVOKE %s ON %s FROM %I', r.privilege_type, r.relid::regclass, r.rolname);
    INSERT INTO _cutover_fence.revoked VALUES (r.rolname, r.relid, r.privilege_type) ON CONFLICT DO NOTHING;
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;

-- read_only(roles): new transactions of these roles default to read only, and their sessions are ended
-- (except cutover's own) so that reconnections pick it up.
CREATE OR REPLACE FUNCTION _cutover_fence.read_only(p_roles name[]) RETURNS int
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  ro name;
  n int := 0;
BEGIN
  FOREACH ro IN ARRAY p_roles LOOP
    EXECUTE format('ALTER ROLE %I SET default_transaction_read_only = on', ro);
    INSERT INTO _cutover_fence.read_only VALUES (ro) ON CONFLICT DO NOTHING;
    n := n + (SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid))::int
                FROM pg_stat_activity a WHERE a.usename = ro AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
                 AND a.application_name NOT LIKE 'cutover/%');
  END LOOP;
  RETURN n;
END
$$;
