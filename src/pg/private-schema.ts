/**
 * cutover's private schemas, the one place their names are spelled. `.sql` files are written with these
 * names (so they run in psql as they are); loadSql() puts in whatever is set here.
 */
/** Change capture's bookkeeping on the source, the applier's on the target (removed by teardown). */
export const CUTOVER_SCHEMA = '_cutover';
/** The write fence and its witness (outlives teardown: lifted only by `replicate unfence`). */
export const FENCE_SCHEMA = '_cutover_fence';

/** The names as written in `.sql` files, replaced by the ones above (a no-op while they are the same). */
export function withPrivateSchemas(sql: string): string {
  return sql.replace(/\b_cutover_fence\b/g, FENCE_SCHEMA).replace(/\b_cutover\b/g, CUTOVER_SCHEMA);
}
