-- The applier's bookkeeping on the target, in a private schema. Progress (the last applied tick) is
-- written in the same transaction as each batch: a killed applier resumes exactly once.
CREATE SCHEMA IF NOT EXISTS _cutover;
REVOKE ALL ON SCHEMA _cutover FROM PUBLIC;
CREATE TABLE IF NOT EXISTS _cutover.apply_state (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  -- The source snapshot of the last applied batch, and when it was taken (source clock).
  tick pg_snapshot NOT NULL,
  tick_at timestamptz NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  batches bigint NOT NULL DEFAULT 0,
  events bigint NOT NULL DEFAULT 0,
  rows_upserted bigint NOT NULL DEFAULT 0,
  rows_deleted bigint NOT NULL DEFAULT 0,
  -- Table shapes when replication started, per side: a difference later means DDL.
  fingerprints jsonb NOT NULL DEFAULT '{}',
  halted text
);
-- ddl: follow (--follow-ddl): additive DDL on the source is applied to the target (ddl-follow.ts).
ALTER TABLE _cutover.apply_state ADD COLUMN IF NOT EXISTS follow_ddl boolean NOT NULL DEFAULT false;
-- The tableids of tables ddl: follow created and copied (in the batch that copied them).
ALTER TABLE _cutover.apply_state ADD COLUMN IF NOT EXISTS copied_tables int[] NOT NULL DEFAULT '{}';
-- ddl: follow: the source's indexes on replicated tables that follow has seen (qualified names): one the
-- target still has after the source lost it was dropped or renamed there; a target-only index the source
-- never had is the target's own. NULL: not looked yet (and again after --accept-ddl).
ALTER TABLE _cutover.apply_state ADD COLUMN IF NOT EXISTS source_indexes text[];
-- ddl: follow: tableids whose rows the next batch reads again in full (a column added with a default:
-- the values the source's ALTER gave existing rows are not what the target's would). Recorded in the
-- transaction of the followed DDL, cleared in the batch that read them.
ALTER TABLE _cutover.apply_state ADD COLUMN IF NOT EXISTS refresh_tables int[] NOT NULL DEFAULT '{}';
-- Each replicated table's storage on the source as the applied rows reflect it (sql/storage.sql: its
-- relfilenodes and columns' attnums, by tableid): a rewrite no trigger saw shows as a difference, and the
-- table is read again in full in the batch that records the new one.
ALTER TABLE _cutover.apply_state ADD COLUMN IF NOT EXISTS storage jsonb;
-- User triggers on the target are disabled while changes are applied (they already ran on the source)
-- and restored, with their original enabled state, at cutover or teardown.
CREATE TABLE IF NOT EXISTS _cutover.disabled_triggers (
  table_name text NOT NULL,
  trigger_name name NOT NULL,
  enabled "char" NOT NULL,
  PRIMARY KEY (table_name, trigger_name)
);

-- The given tables and all their partitions.
CREATE OR REPLACE FUNCTION _cutover.with_partitions(p_rels regclass[]) RETURNS SETOF regclass
LANGUAGE sql STABLE AS $$
  SELECT u.rel FROM unnest(p_rels) AS u(rel)
  UNION
  SELECT p.relid FROM unnest(p_rels) AS u(rel), pg_partition_tree(u.rel) AS p
$$;

-- Disables the user triggers (not the internal ones behind foreign keys, not cutover's own) of the given tables and their
-- partitions, remembering each one's enabled state. Idempotent.
CREATE OR REPLACE FUNCTION _cutover.disable_user_triggers(p_rels regclass[]) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  n int := 0;
BEGIN
  FOR t IN
    SELECT tg.tgrelid::regclass::text AS rel, tg.tgname, tg.tgenabled
      FROM pg_trigger tg
     WHERE tg.tgrelid IN (SELECT _cutover.with_partitions(p_rels))
       AND NOT tg.tgisinternal AND tg.tgenabled <> 'D'
       AND tg.tgname NOT IN ('cutover_capture', 'cutover_capture_i', 'cutover_capture_u', 'cutover_capture_d', 'cutover_capture_t', 'cutover_fence', 'cutover_fence_watch', 'cutover_guard')  -- cutover's own (incremental verify's guard stays on)
     ORDER BY tg.tgparentid <> 0, 1, 2
  LOOP
    INSERT INTO _cutover.disabled_triggers VALUES (t.rel, t.tgname, t.tgenabled) ON CONFLICT DO NOTHING;
    EXECUTE format('ALTER TABLE %s DISABLE TRIGGER %I', t.rel, t.tgname);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;

-- Gives every trigger disabled above its original state back (ENABLE, ENABLE ALWAYS, ENABLE REPLICA).
CREATE OR REPLACE FUNCTION _cutover.restore_user_triggers() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  t record;
  n int := 0;
BEGIN
  FOR t IN SELECT * FROM _cutover.disabled_triggers ORDER BY 1, 2 LOOP
    IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = to_regclass(t.table_name) AND tgname = t.trigger_name) THEN
      EXECUTE format('ALTER TABLE %s ENABLE %s TRIGGER %I', t.table_name,
        CASE t.enabled WHEN 'A' THEN 'ALWAYS' WHEN 'R' THEN 'REPLICA' ELSE '' END, t.trigger_name);
      n := n + 1;
    END IF;
  END LOOP;
  DELETE FROM _cutover.disabled_triggers;
  RETURN n;
END
$$;
