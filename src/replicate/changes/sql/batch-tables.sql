-- Tables changed by the transactions of one batch: those the previous tick ($1) does not show and the
-- current one ($2) does. Run inside the batch's REPEATABLE READ transaction, whose snapshot is $2.
-- The txid range bound lets the BRIN indexes skip what every batch before has read.
-- $3 (or NULL): a snapshot taken once a write fence held; after_fence counts the events of transactions it
-- does not show, i.e. writes that got past the fence.
SELECT tableid, count(*)::int8 AS events, bool_or(op = 'T') AS truncated,
       (count(*) FILTER (WHERE $3::pg_snapshot IS NOT NULL AND NOT pg_visible_in_snapshot(txid::text::xid8, $3::pg_snapshot)))::int AS after_fence
  FROM _cutover.log
 WHERE txid >= pg_snapshot_xmin($1::pg_snapshot)::text::bigint
   AND txid < pg_snapshot_xmax($2::pg_snapshot)::text::bigint
   AND NOT pg_visible_in_snapshot(txid::text::xid8, $1::pg_snapshot)
   AND pg_visible_in_snapshot(txid::text::xid8, $2::pg_snapshot)
 GROUP BY tableid;
