/** `cutover/testing`: throwaway PostgreSQL clusters and a sample database, for tests and users' CI. */
export * from './cluster.js';
export { availableMajors, findServerBinaries } from './binaries.js';
export * from './sample.js';
export * from './workload.js';
export * from './app-workload.js';
