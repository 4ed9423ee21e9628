-- Incremental verify's guard on the target (whose _cutover schema the applier created): a statement
-- trigger on every pre-verified table notes any write that does not come from cutover's applier (whose
-- sessions set cutover.applier = on). The fence then compares those tables in full instead of trusting
-- their unchanged chunks. SECURITY DEFINER: the writer needs no access to _cutover; its write is noted,
-- never refused.
CREATE TABLE IF NOT EXISTS _cutover.foreign_writes (
  schema_name name NOT NULL,
  table_name name NOT NULL,
  role_name name NOT NULL,
  statements bigint NOT NULL DEFAULT 1,
  first_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (schema_name, table_name, role_name)
);

CREATE OR REPLACE FUNCTION _cutover.note_foreign_write() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  IF current_setting('cutover.applier', true) IS DISTINCT FROM 'on' THEN
    INSERT INTO _cutover.foreign_writes AS f (schema_name, table_name, role_name)
    VALUES (TG_TABLE_SCHEMA, TG_TABLE_NAME, session_user)
    ON CONFLICT (schema_name, table_name, role_name) DO UPDATE SET statements = f.statements + 1;
  END IF;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION _cutover.note_foreign_write() FROM PUBLIC;

-- Puts the guard on the given tables and their partitions (a statement on a partition fires only the
-- partition's statement triggers). Starts a new record. Returns the tables guarded.
CREATE OR REPLACE FUNCTION _cutover.guard_tables(p_rels regclass[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  r regclass;
  n int := 0;
BEGIN
  DELETE FROM _cutover.foreign_writes;
  FOR r IN SELECT DISTINCT pt.relid FROM unnest(p_rels) AS u(rel)
             CROSS JOIN LATERAL (SELECT u.rel AS relid UNION SELECT p.relid FROM pg_partition_tree(u.rel) p) pt LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS cutover_guard ON %s', r);
    EXECUTE format('CREATE TRIGGER cutover_guard AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION _cutover.note_foreign_write()', r);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;

-- Removes every guard trigger. Returns how many.
CREATE OR REPLACE FUNCTION _cutover.unguard_tables() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  r regclass;
  n int := 0;
BEGIN
  FOR r IN SELECT tgrelid::regclass FROM pg_trigger WHERE tgname = 'cutover_guard' LOOP
    EXECUTE format('DROP TRIGGER cutover_guard ON %s', r);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;
