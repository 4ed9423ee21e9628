-- Incremental verify's guard on the target (whose _cutover schema target-schema.sql made): a statement
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

-- Puts the guard on exactly the given tables and their partitions (a statement on a partition fires only
-- the partition's statement triggers), removing it from any other, and starts a new record. An empty
-- array removes it everywhere.
CREATE OR REPLACE FUNCTION _cutover.set_guard(p_rels regclass[], OUT removed int, OUT guarded int)
LANGUAGE plpgsql AS $$
DECLARE
  r regclass;
BEGIN
  removed := 0;
  guarded := 0;
  FOR r IN SELECT tgrelid::regclass FROM pg_trigger WHERE tgname = 'cutover_guard' LOOP
    EXECUTE format('DROP TRIGGER cutover_guard ON %s', r);
    removed := removed + 1;
  END LOOP;
  DELETE FROM _cutover.foreign_writes;
  FOR r IN SELECT _cutover.with_partitions(p_rels) LOOP
    EXECUTE format('CREATE TRIGGER cutover_guard AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION _cutover.note_foreign_write()', r);
    guarded := guarded + 1;
  END LOOP;
END
$$;
