-- Every user table (leaf, plain, partitioned) and materialized view when incremental verify plans: a table that is not among them in the
-- fence was created since (ddl: follow), and is compared in full under that reason.
SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%' AND n.nspname NOT LIKE '\_cutover%';
