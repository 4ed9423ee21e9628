/** cutover's library API: what the CLI uses, for other code and users' CI. */
export * from './errors.js';
export * from './pg/conninfo.js';
export { connect, withClient, applicationName } from './pg/connect.js';
export { withPgpass } from './pg/pgpass.js';
export * from './pg/facts.js';
export * from './pg/sqlstate.js';
export { childCredentials } from './pg/child-env.js';
export { findClientTools, requireClientTool } from './pg/tools.js';
export * from './budget/capacity.js';
export * from './doctor/doctor.js';
export * from './verify/verify.js';
export type { TableResult, RowDifference } from './verify/compare-table.js';
export { renderVerify } from './verify/render.js';
export { copy, copyConnections, type CopyOptions, type CopySummary } from './dump/copy/copy.js';
export { dump, requireCompleteDump, type DumpOptions } from './dump/dump.js';
export { restore, type RestoreOptions } from './dump/restore.js';
