-- Foreign-key edges between tables (partitions folded into their roots): child -> parent. The applier
-- upserts parents before children and deletes children before parents.
SELECT DISTINCT coalesce(pg_partition_root(con.conrelid), con.conrelid)::int8   AS child,
                coalesce(pg_partition_root(con.confrelid), con.confrelid)::int8 AS parent
  FROM pg_constraint con
 WHERE con.contype = 'f';
