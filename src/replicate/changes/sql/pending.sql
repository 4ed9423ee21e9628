-- Events committed but not yet applied: what the applied tick ($1) does not show and the current
-- snapshot does; the log's size; and the source's clock (for the lag).
SELECT
  now() AS now,
  (SELECT count(*) FROM _cutover.log
    WHERE txid >= pg_snapshot_xmin($1::pg_snapshot)::text::bigint
      AND NOT pg_visible_in_snapshot(txid::text::xid8, $1::pg_snapshot))::int8 AS pending,
  (SELECT count(*) FROM _cutover.log)::int8 AS logged,
  (SELECT pg_total_relation_size('_cutover.log_0') + pg_total_relation_size('_cutover.log_1')
        + pg_total_relation_size('_cutover.log_2'))::int8 AS log_bytes;
