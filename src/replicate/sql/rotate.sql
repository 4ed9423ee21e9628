-- Empties one log table when every event in it has been applied: TRUNCATE, never per-row DELETE.
-- $1: partition 0..2; $2: the applied tick. Run in its own transaction with a short lock_timeout: the
-- ACCESS EXCLUSIVE lock waits only for writers of that log table (old transactions' ranges).
-- Returns the rows removed, 0 when empty, -1 when it still holds unapplied events or is the one in use.
CREATE OR REPLACE FUNCTION _cutover.truncate_applied(p int, applied pg_snapshot) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  bits int := (SELECT range_bits FROM _cutover.state);
  rel text := format('_cutover.%I', 'log_' || p);
  n bigint;
  unapplied boolean;
BEGIN
  IF p = (pg_snapshot_xmax(pg_current_snapshot())::text::bigint >> bits) % 3 THEN RETURN -1; END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE txid >= $1)', rel) INTO unapplied
    USING pg_snapshot_xmin(applied)::text::bigint;
  IF unapplied THEN RETURN -1; END IF;
  EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', rel);
  -- Under the lock every writer of this table has finished: look again with a fresh snapshot.
  EXECUTE format('SELECT count(*) FROM %s', rel) INTO n;
  IF n = 0 THEN RETURN 0; END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE NOT pg_visible_in_snapshot(txid::text::xid8, $1))', rel) INTO unapplied USING applied;
  IF unapplied THEN RETURN -1; END IF;
  EXECUTE format('TRUNCATE %s', rel);
  RETURN n;
END
$$;
