-- Whether this session may read the revoke fence's record of what it took (_cutover_fence.revoked):
-- false when there is no fence schema, no such table, or no right to read it.
SELECT CASE
  WHEN to_regnamespace('_cutover_fence') IS NULL OR NOT has_schema_privilege('_cutover_fence', 'USAGE') THEN false
  WHEN to_regclass('_cutover_fence.revoked') IS NULL THEN false
  ELSE has_table_privilege('_cutover_fence.revoked', 'SELECT')
END AS ok;
