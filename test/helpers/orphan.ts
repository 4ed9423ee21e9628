// Starts a cluster and waits forever; the harness test SIGKILLs this process and checks the cleanup.
import { startCluster } from '../../src/testing/index.js';
const c = await startCluster();
const r = await c.query<{ d: string; pid: number }>(`SELECT current_setting('data_directory') d, (SELECT pid FROM pg_stat_activity WHERE backend_type = 'checkpointer') pid`);
const { readFileSync } = await import('node:fs');
const postmaster = Number(readFileSync(`${r.rows[0]!.d}/postmaster.pid`, 'utf8').split('\n')[0]);
process.stdout.write(`READY ${r.rows[0]!.d.replace(/\/data$/, '')} ${postmaster}\n`);
setInterval(() => undefined, 1 << 30);
