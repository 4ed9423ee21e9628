-- cutover's change capture on the source: a private schema, owned by the role cutover connects as, that
-- no other role can read or write. Idempotent: running it again changes nothing that exists.
-- Runs as an ordinary role with CREATE on the database; no superuser, no extension.
CREATE SCHEMA IF NOT EXISTS _cutover;
REVOKE ALL ON SCHEMA _cutover FROM PUBLIC;

-- One row: what was installed, and the snapshot the initial copy read. Changes that snapshot shows are
-- in the copy; the applier applies those it does not show.
CREATE TABLE IF NOT EXISTS _cutover.state (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  version int NOT NULL,
  installed_at timestamptz NOT NULL DEFAULT now(),
  -- Transaction ids are grouped in ranges of 2^range_bits; range r logs into log_(r % 3).
  range_bits int NOT NULL,
  capture_mode text NOT NULL,
  start_snapshot pg_snapshot,
  start_snapshot_at timestamptz
);
-- reverse: capture on the new server, opened in the fence of a cutover with a rollback window; its
-- applier writes to the old source (docs/replicate.md, "The rollback window").
ALTER TABLE _cutover.state ADD COLUMN IF NOT EXISTS direction text NOT NULL DEFAULT 'forward' CHECK (direction IN ('forward', 'reverse'));
-- When a rollback through the window verified the old source equal (set before it unfences it).
ALTER TABLE _cutover.state ADD COLUMN IF NOT EXISTS rolled_back_at timestamptz;
-- The table selection capture was installed with (schemas, excludeSchemas, tables, excludeTables): with
-- ddl: follow, a table created later that matches it is captured and copied by the applier.
ALTER TABLE _cutover.state ADD COLUMN IF NOT EXISTS selection jsonb;
-- The captured tables' storage (sql/storage.sql, by tableid) in the snapshot of the copy that recorded
-- start_snapshot: the applier's first baseline for rewrites no trigger sees.
ALTER TABLE _cutover.state ADD COLUMN IF NOT EXISTS storage jsonb;

-- The captured tables. tableid names the capture function (capture_<tableid>) and tags log rows.
CREATE TABLE IF NOT EXISTS _cutover.tables (
  tableid int PRIMARY KEY,
  relid oid NOT NULL UNIQUE,
  schema_name name NOT NULL,
  table_name name NOT NULL,
  key_columns name[] NOT NULL,
  -- format_type() of each key column: the log keeps keys as jsonb arrays, cast back with these.
  key_types text[] NOT NULL,
  -- Partitioned tables: the leaf partitions that carry statement/TRUNCATE triggers for the root.
  partitions oid[] NOT NULL DEFAULT '{}',
  -- fingerprint.sql's shape and triggers when capture was installed: a difference later means DDL.
  shape text,
  triggers text
);
-- A table without a key is replicated with the whole row as its identity (key_columns is empty): the
-- columns whose equality matches the target's rows to the source's (rows_identity.ts).
ALTER TABLE _cutover.tables ADD COLUMN IF NOT EXISTS match_columns name[];
-- Captured by the applier under ddl: follow (a table created after replicate start): the applier creates
-- and copies it on the target (the target records which it has copied: apply_state.copied_tables).
ALTER TABLE _cutover.tables ADD COLUMN IF NOT EXISTS followed boolean NOT NULL DEFAULT false;

-- The change log: three tables used in turn by transaction-id range, emptied with TRUNCATE once every
-- event in one has been applied (never per-row DELETE). txid is the writing transaction's top-level id
-- (pg_current_xact_id) as bigint, so that a BRIN index can bound each batch's scan.
CREATE TABLE IF NOT EXISTS _cutover.log_0 (txid bigint NOT NULL, tableid int NOT NULL, op "char" NOT NULL, k jsonb);
CREATE TABLE IF NOT EXISTS _cutover.log_1 (LIKE _cutover.log_0);
CREATE TABLE IF NOT EXISTS _cutover.log_2 (LIKE _cutover.log_0);
CREATE INDEX IF NOT EXISTS log_0_txid ON _cutover.log_0 USING brin (txid) WITH (pages_per_range = 8);
CREATE INDEX IF NOT EXISTS log_1_txid ON _cutover.log_1 USING brin (txid) WITH (pages_per_range = 8);
CREATE INDEX IF NOT EXISTS log_2_txid ON _cutover.log_2 USING brin (txid) WITH (pages_per_range = 8);
CREATE OR REPLACE VIEW _cutover.log AS
  SELECT 0 AS part, * FROM _cutover.log_0
  UNION ALL SELECT 1, * FROM _cutover.log_1
  UNION ALL SELECT 2, * FROM _cutover.log_2;


-- The key of a row as a jsonb array expression over a record variable (NEW, OLD) or a transition table (n, o).
CREATE OR REPLACE FUNCTION _cutover.key_array(p_record text, p_keys name[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT 'pg_catalog.jsonb_build_array(' || string_agg(format('%s.%I', p_record, k), ', ' ORDER BY o) || ')'
    FROM unnest(p_keys) WITH ORDINALITY u(k, o)
$$;

-- The statement that logs one event (or a set of them) into the log table of transaction x's range.
-- A generated helper: each capture function inlines the three branches (no per-row dynamic SQL).
CREATE OR REPLACE FUNCTION _cutover.log_into(p_insert text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT format('IF p OPERATOR(pg_catalog.=) 0 THEN INSERT INTO _cutover.log_0 %1$s; ELSIF p OPERATOR(pg_catalog.=) 1 THEN INSERT INTO _cutover.log_1 %1$s; ELSE INSERT INTO _cutover.log_2 %1$s; END IF;', p_insert)
$$;

-- Creates (or replaces) the capture function and triggers of one table. Called by cutover with a short
-- lock_timeout: CREATE TRIGGER takes SHARE ROW EXCLUSIVE on the table, and waiting behind a long
-- transaction would block the application's writes queued behind it.
--   mode 'row':       FOR EACH ROW triggers (cloned to the partitions of a partitioned table).
--   mode 'statement': FOR EACH STATEMENT triggers with transition tables, on the table and, for a
--                     partitioned table, on each leaf partition too (statements may target a leaf).
-- Both log the key (old and new when it changes). TRUNCATE: a statement trigger on the table and on every
-- leaf partition.
CREATE OR REPLACE FUNCTION _cutover.install_table(p_tableid int, p_rel regclass, p_keys name[], p_mode text, p_bits int)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  fn text := format('_cutover.%I', 'capture_' || p_tableid);
  key_new text := _cutover.key_array('NEW', p_keys);
  key_old text := _cutover.key_array('OLD', p_keys);
  set_n text := _cutover.key_array('n', p_keys);
  set_o text := _cutover.key_array('o', p_keys);
  head text := format($h$
DECLARE
  x pg_catalog.int8 := pg_catalog.txid_current();
  p pg_catalog.int4 := (x OPERATOR(pg_catalog.>>) %s) OPERATOR(pg_catalog.%%) 3;
BEGIN
$h$, p_bits);
  body text;
  on_insert text;
  on_delete text;
  on_update text;
  leaf regclass;
  leaves regclass[] := ARRAY(SELECT relid FROM pg_partition_tree(p_rel) WHERE isleaf AND relid <> p_rel);
BEGIN
  -- What each operation logs; then one dispatch on TG_OP around them.
  IF pg_catalog.cardinality(p_keys) = 0 THEN
    -- No key: the whole row is the identity. An insert logs the new row ('I'), a delete the old one
    -- ('D'), an update both; the applier applies each row value's net count.
    IF p_mode = 'row' THEN
      on_insert := _cutover.log_into(format('VALUES (x, %s, %L, pg_catalog.to_jsonb(NEW))', p_tableid, 'I'));
      on_delete := _cutover.log_into(format('VALUES (x, %s, %L, pg_catalog.to_jsonb(OLD))', p_tableid, 'D'));
    ELSIF p_mode = 'statement' THEN
      on_insert := _cutover.log_into(format('SELECT x, %s, %L, pg_catalog.to_jsonb(n) FROM n', p_tableid, 'I'));
      on_delete := _cutover.log_into(format('SELECT x, %s, %L, pg_catalog.to_jsonb(o) FROM o', p_tableid, 'D'));
    ELSE
      RAISE EXCEPTION 'capture mode must be row or statement, not %', p_mode;
    END IF;
    on_update := on_delete || ' ' || on_insert;
  ELSIF p_mode = 'row' THEN
    on_insert := _cutover.log_into(format('VALUES (x, %s, %L, %s)', p_tableid, 'I', key_new));
    on_delete := _cutover.log_into(format('VALUES (x, %s, %L, %s)', p_tableid, 'D', key_old));
    -- A changed key also logs the old one (as a delete).
    on_update := _cutover.log_into(format('VALUES (x, %s, %L, %s)', p_tableid, 'U', key_new))
      || format(' IF %s OPERATOR(pg_catalog.<>) %s THEN %s END IF;', key_old, key_new, on_delete);
  ELSIF p_mode = 'statement' THEN
    on_insert := _cutover.log_into(format('SELECT x, %s, %L, %s FROM n', p_tableid, 'I', set_n));
    on_delete := _cutover.log_into(format('SELECT x, %s, %L, %s FROM o', p_tableid, 'D', set_o));
    -- Old and new keys of every updated row; the same key once (most updates keep their key).
    on_update := _cutover.log_into(format('SELECT x, %s, %L, k FROM (SELECT %s AS k FROM n UNION SELECT %s FROM o) s', p_tableid, 'U', set_n, set_o));
  ELSE
    RAISE EXCEPTION 'capture mode must be row or statement, not %', p_mode;
  END IF;
  body := head || format($b$
  IF TG_OP OPERATOR(pg_catalog.=) 'TRUNCATE' THEN
    %1$s
  ELSIF TG_OP OPERATOR(pg_catalog.=) 'INSERT' THEN
    %2$s
  ELSIF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
    %3$s
  ELSE
    %4$s
  END IF;
  RETURN NULL;
END$b$, _cutover.log_into(format('VALUES (x, %s, %L, NULL)', p_tableid, 'T')), on_insert, on_delete, on_update);

  -- SECURITY DEFINER: the application's roles write the log without any privilege on it. Every function,
  -- operator, type and table in the body is schema-qualified, so nothing on the caller's search_path can
  -- stand in for them; that spares a SET search_path clause, which costs a GUC save/restore per row
  -- (measured in bench/replicate.ts).
  -- Whole rows go through float output: extra_float_digits is pinned so that an application session
  -- that lowered it cannot log a rounded value (measured in bench/replicate.ts, part keyless).
  EXECUTE format('CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER %s AS %L', fn,
    CASE WHEN pg_catalog.cardinality(p_keys) = 0 THEN 'SET extra_float_digits = 3' ELSE '' END, body);
  EXECUTE format('REVOKE ALL ON FUNCTION %s() FROM PUBLIC', fn);

  PERFORM _cutover.drop_triggers(p_rel);
  IF p_mode = 'row' THEN
    EXECUTE format('CREATE TRIGGER cutover_capture AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s()', p_rel, fn);
  END IF;
  FOREACH leaf IN ARRAY ARRAY[p_rel] || leaves LOOP
    PERFORM _cutover.add_leaf_triggers(leaf, fn, p_mode = 'statement');
  END LOOP;
  UPDATE _cutover.tables SET partitions = leaves::oid[] WHERE tableid = p_tableid;
END
$$;

-- add_leaf_triggers(rel, fn, statement): the capture triggers a table or leaf partition carries itself
-- (not cloned from a partitioned root): TRUNCATE always, INSERT/UPDATE/DELETE with transition tables in
-- statement mode; the ones it has already are kept. They fire ALWAYS where cutover owns the table: a
-- session with session_replication_role = replica (a role granted SET on it, a restore with
-- --disable-triggers) writes the source too, and its changes must be captured like any other. A table
-- cutover does not own keeps the default (replicate start names those).
CREATE OR REPLACE FUNCTION _cutover.add_leaf_triggers(p_rel regclass, p_fn text, p_statement boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  have name[] := ARRAY(SELECT tgname FROM pg_trigger WHERE tgrelid = p_rel AND tgname LIKE 'cutover\_capture%');
BEGIN
  IF p_statement AND NOT 'cutover_capture_i' = ANY (have) THEN
    EXECUTE format('CREATE TRIGGER cutover_capture_i AFTER INSERT ON %s REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION %s()', p_rel, p_fn);
    EXECUTE format('CREATE TRIGGER cutover_capture_u AFTER UPDATE ON %s REFERENCING OLD TABLE AS o NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION %s()', p_rel, p_fn);
    EXECUTE format('CREATE TRIGGER cutover_capture_d AFTER DELETE ON %s REFERENCING OLD TABLE AS o FOR EACH STATEMENT EXECUTE FUNCTION %s()', p_rel, p_fn);
  END IF;
  IF NOT 'cutover_capture_t' = ANY (have) THEN
    EXECUTE format('CREATE TRIGGER cutover_capture_t AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s()', p_rel, p_fn);
  END IF;
  FOR t IN
    SELECT tg.tgname FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid
     WHERE tg.tgrelid = p_rel AND tg.tgname LIKE 'cutover\_capture%' AND tg.tgenabled <> 'A' AND pg_has_role(c.relowner, 'USAGE')
     ORDER BY 1
  LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', p_rel, t.tgname);
  END LOOP;
END
$$;

-- cover_new_leaves(): a partition attached or created since capture was installed gets the leaf triggers
-- (add_leaf_triggers; its row trigger is cloned from the root). Called when DDL is accepted. Returns the
-- captured root and the leaf.
CREATE OR REPLACE FUNCTION _cutover.cover_new_leaves() RETURNS TABLE (relid oid, leaf text)
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  l regclass;
BEGIN
  FOR t IN SELECT ct.tableid AS id, ct.relid::regclass AS rel, ct.partitions FROM _cutover.tables ct
            JOIN pg_class c ON c.oid = ct.relid WHERE c.relkind = 'p' ORDER BY 1
  LOOP
    FOR l IN SELECT p.relid FROM pg_partition_tree(t.rel) p WHERE p.isleaf AND p.relid <> t.rel AND NOT p.relid::oid = ANY (t.partitions) LOOP
      PERFORM _cutover.add_leaf_triggers(l, format('_cutover.%I', 'capture_' || t.id),
                                         NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = t.rel AND g.tgname = 'cutover_capture'));
      relid := t.rel; leaf := l::text;
      RETURN NEXT;
    END LOOP;
    UPDATE _cutover.tables ct SET partitions = ARRAY(SELECT p.relid FROM pg_partition_tree(t.rel) p WHERE p.isleaf AND p.relid <> t.rel)::oid[]
     WHERE ct.tableid = t.id;
  END LOOP;
END
$$;

-- Drops cutover's capture triggers from a table and its partitions (used by install and teardown).
-- (pg_partition_tree() returns nothing for a table that is not partitioned: the table is added.)
CREATE OR REPLACE FUNCTION _cutover.drop_triggers(p_rel regclass) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  n int := 0;
BEGIN
  FOR t IN
    SELECT tg.tgname, tg.tgrelid::regclass AS rel
      FROM pg_trigger tg
     WHERE tg.tgrelid IN (SELECT p_rel UNION SELECT relid FROM pg_partition_tree(p_rel))
       AND tg.tgname IN ('cutover_capture', 'cutover_capture_i', 'cutover_capture_u', 'cutover_capture_d', 'cutover_capture_t')
       AND NOT tg.tgisinternal
       AND (tg.tgparentid = 0)
  LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', t.tgname, t.rel);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;
