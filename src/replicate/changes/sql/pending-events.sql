-- Events committed but not applied yet: those the applied tick ($1) does not show. The txid bound lets
-- the log's BRIN indexes skip what was applied, so this stays cheap to repeat (replicate status --watch).
SELECT now() AS now,
       (SELECT count(*) FROM _cutover.log
         WHERE txid >= pg_snapshot_xmin($1::pg_snapshot)::text::bigint
           AND NOT pg_visible_in_snapshot(txid::text::xid8, $1::pg_snapshot))::int8 AS pending;
