-- The write fence for a cutover, as functions in the capture schema (installed with it).
--
-- fence_revoke(roles): revokes INSERT, UPDATE, DELETE, TRUNCATE on every captured table and its
-- partitions from each role (what the role holds directly, its ownership default included), records
-- exactly what it revoked, then checks that none of the roles can still write (a grant to PUBLIC or
-- through membership in another role): if one can, it raises and, being one transaction, changes nothing.
CREATE OR REPLACE FUNCTION _cutover.fence_revoke(p_roles name[]) RETURNS TABLE (role_name name, rel text, privilege text)
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  left_over text;
BEGIN
  FOR r IN
    SELECT ro.rolname, c.oid AS relid, c.oid::regclass::text AS relname, acl.privilege_type
      FROM _cutover.tables t
      CROSS JOIN LATERAL (SELECT t.relid UNION SELECT relid FROM pg_partition_tree(t.relid)) pt
      JOIN pg_class c ON c.oid = pt.relid
      CROSS JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) acl
      JOIN pg_roles ro ON ro.oid = acl.grantee
     WHERE ro.rolname = ANY (p_roles)
       AND acl.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
     ORDER BY 1, 3, 4
  LOOP
    EXECUTE format('REVOKE %s ON %s FROM %I', r.privilege_type, r.relname, r.rolname);
    INSERT INTO _cutover.fence (role_name, relid, privilege) VALUES (r.rolname, r.relid, r.privilege_type)
      ON CONFLICT DO NOTHING;
    role_name := r.rolname; rel := r.relname; privilege := r.privilege_type;
    RETURN NEXT;
  END LOOP;
  SELECT string_agg(format('%s can still %s %s', x.rolname, x.priv, x.relname), '; ') INTO left_over
    FROM (SELECT ro.rolname, pt.relid::regclass::text AS relname, priv
            FROM _cutover.tables t
            CROSS JOIN LATERAL (SELECT t.relid UNION SELECT relid FROM pg_partition_tree(t.relid)) pt
            CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS priv
            JOIN pg_roles ro ON ro.rolname = ANY (p_roles)
           WHERE has_table_privilege(ro.oid, pt.relid, priv)
           LIMIT 10) x;
  IF left_over IS NOT NULL THEN
    RAISE EXCEPTION 'the fence would not hold: %', left_over
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'those privileges come from PUBLIC or from a role they are members of (or they are superusers): fence that role too, or use fence: read-only or manual';
  END IF;
END
$$;

-- fence_read_only(roles): new transactions of these roles default to read only, and their sessions are
-- ended so that reconnections pick it up. A soft fence: a session can still SET it back.
CREATE OR REPLACE FUNCTION _cutover.fence_read_only(p_roles name[]) RETURNS TABLE (role_name name, terminated int)
LANGUAGE plpgsql AS $$
DECLARE
  ro name;
BEGIN
  FOREACH ro IN ARRAY p_roles LOOP
    EXECUTE format('ALTER ROLE %I SET default_transaction_read_only = on', ro);
    INSERT INTO _cutover.fence (role_name, relid, privilege) VALUES (ro, 0, 'read only') ON CONFLICT DO NOTHING;
    role_name := ro;
    SELECT count(*) FILTER (WHERE pg_terminate_backend(a.pid))::int INTO terminated
      FROM pg_stat_activity a WHERE a.usename = ro AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend'
        AND a.application_name NOT LIKE 'cutover/%';
    RETURN NEXT;
  END LOOP;
END
$$;

-- unfence(): gives back exactly what a fence took. Idempotent.
CREATE OR REPLACE FUNCTION _cutover.unfence() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  f record;
  n int := 0;
BEGIN
  FOR f IN SELECT * FROM _cutover.fence ORDER BY role_name, relid, privilege LOOP
    IF f.privilege = 'read only' THEN
      EXECUTE format('ALTER ROLE %I RESET default_transaction_read_only', f.role_name);
    ELSIF EXISTS (SELECT 1 FROM pg_class WHERE oid = f.relid) THEN
      EXECUTE format('GRANT %s ON %s TO %I', f.privilege, f.relid::regclass, f.role_name);
    END IF;
    n := n + 1;
  END LOOP;
  DELETE FROM _cutover.fence;
  RETURN n;
END
$$;

-- fence_lock(): SHARE locks on every captured table (partitions included), in the fence's transaction
-- and before its REVOKE. SHARE conflicts with the ROW EXCLUSIVE lock every writer takes before its
-- privileges are checked, so getting it means no writer that could still pass the old privilege check is
-- running; writers that arrive meanwhile wait, then fail against the new privileges. Without it, a
-- statement checked just before the REVOKE could take its transaction id after the fence's snapshot and
-- commit after the drain. Call with a lock_timeout.
CREATE OR REPLACE FUNCTION _cutover.fence_lock() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  rels text;
  n int;
BEGIN
  SELECT string_agg(relid::regclass::text, ', ' ORDER BY tableid), count(*) INTO rels, n FROM _cutover.tables;
  IF n > 0 THEN
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', rels);
  END IF;
  RETURN n;
END
$$;
