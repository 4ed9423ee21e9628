/**
 * Bad input, as it meets a real migration: each case must fail with a message that says what is wrong
 * and what to do, print no password, and leave both databases exactly as they were (fingerprinted
 * before and after: objects, privileges, settings, every row).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { availableMajors, startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { cutover } from './helpers/cli.js';
import { shippedRunbook, tempRunbook } from './helpers/runbook.js';
import { sampleSource } from './helpers/source.js';
import { fingerprint } from './helpers/evidence.js';

let src: Cluster, tgt: Cluster, newest: Cluster;
const ONLINE = shippedRunbook('online-cutover.md');
const WINDOW = shippedRunbook('dump-restore-window.md');

beforeAll(async () => {
  const majors = await availableMajors();
  [src, tgt, newest] = (await startClusters([{ version: 15 }, { version: 15 }, { version: majors.at(-1) }])) as [Cluster, Cluster, Cluster];
  for (const c of [src, newest]) await sampleSource(c, 'shop', 500, 'app-pw');
}, 90_000);
afterAll(() => stopAllClusters());

interface Case {
  name: string;
  source: () => Cluster;
  /** Prepares the case; returns the environment and the CLI arguments. */
  setup: (db: string) => Promise<{ env: Record<string, string>; args: string[] }>;
  exit: number;
  /** What the message must say: what is wrong, and what to do. */
  says: RegExp[];
  /** The user's own change made during the case (e.g. the DDL), applied before the "after" fingerprint's baseline. */
  userChange?: (db: string) => Promise<void>;
}

const run = async (text: string, extra: string[] = []) => {
  const rb = await tempRunbook(text);
  return ['run', rb.file, '--state-dir', rb.stateDir, '--yes', ...extra];
};

const CASES: Case[] = [
  {
    name: 'a runbook with errors', source: () => src, exit: 2,
    setup: async (db) => ({
      env: { SOURCE_URL: src.url(db), TARGET_URL: tgt.url(db) },
      args: await run(ONLINE.replace('mode: row', 'mode: rows').replace('```cutover copy {id=copy}', '```cutover copy {id=capture}')),
    }),
    says: [/runbook\.md:\d+: .*mode/, /runbook\.md:\d+: .*duplicate.*capture/i],
  },
  {
    // The runbook's first step, doctor, checks every connection and reports them all at once (exit 4).
    name: 'a wrong password', source: () => src, exit: 4,
    setup: async (db) => ({
      env: { SOURCE_URL: src.url(db).replace(encodeURIComponent(src.password), 'not-the-password'), TARGET_URL: tgt.url(db) },
      args: await run(ONLINE),
    }),
    says: [/password authentication failed for user "postgres"/, /check the password/, /rollback not needed: only read-only checks ran/],
  },
  {
    name: 'an unreachable server', source: () => src, exit: 3,
    setup: async (db) => ({
      env: { SOURCE_URL: src.url(db), TARGET_URL: `postgres://postgres:${encodeURIComponent(tgt.password)}@127.0.0.1:1/${db}?sslmode=disable&connect_timeout=3` },
      args: await run(ONLINE),
    }),
    says: [/nothing is listening at 127\.0\.0\.1:1/, /check the host and port/],
  },
  {
    name: 'a pg_dump older than the source server', source: () => newest, exit: 4,
    setup: async (db) => ({ env: { REHEARSAL_SOURCE_URL: newest.url(db), REHEARSAL_TARGET_URL: tgt.url(db) }, args: ['rehearse', ...(await run(WINDOW)).slice(1)] }),
    says: [/pg_dump 1\d\.\d+ .*older than the PostgreSQL \d+ server/, /postgresql-client-\d+/],
  },
  {
    name: 'a table without a key whose columns cannot be compared', source: () => src, exit: 4,
    setup: async (db) => {
      await src.query('CREATE TABLE app."no key here" (a point, b json); INSERT INTO app."no key here" VALUES (point(1, 2), \'{}\')', [], db);
      return { env: { SOURCE_URL: src.url(db), TARGET_URL: tgt.url(db) }, args: await run(ONLINE) };
    },
    says: [/cannot match the rows of 1 table\(s\) without a key, whose columns have no equality operator: "app"\."no key here"/, /add a primary key .*declare a unique key .*or exclude the table/],
  },
  {
    name: 'DDL on the source during replication', source: () => src, exit: 7,
    setup: async (db) => {
      const env = { SOURCE_URL: src.url(db), TARGET_URL: tgt.url(db) };
      for (const args of [['replicate', 'start', '--source', 'env:SOURCE_URL', '--exclude-table', 'billing.audit_log'],
        ['copy', '--source', 'env:SOURCE_URL', '--target', 'env:TARGET_URL', '--dir', join(await mkdtemp(join(tmpdir(), 'cutover-bad-')), 'copy')],
        ['replicate', 'apply', '--source', 'env:SOURCE_URL', '--target', 'env:TARGET_URL', '--until-caught-up']]) {
        const r = await cutover(args, env);
        if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
      }
      return { env, args: ['replicate', 'apply', '--source', 'env:SOURCE_URL', '--target', 'env:TARGET_URL', '--until-caught-up'] };
    },
    userChange: async (db) => {
      await src.query(`ALTER TABLE app.products ADD COLUMN colour text; UPDATE app.products SET colour = 'red' WHERE id = 1`, [], db);
    },
    says: [/replication halted: DDL on the source: app\.products changed/, /apply the same change on the target, then run `cutover replicate apply --accept-ddl`/],
  },
];

describe('bad input: a clear message, and both databases as they were', () => {
  for (const [i, c] of CASES.entries()) {
    it(c.name, async () => {
      const db = `bad_${i}`;
      const s = c.source();
      await s.query(`CREATE DATABASE ${db} TEMPLATE shop`);
      await tgt.createDatabase(db);
      const { env, args } = await c.setup(db);
      await c.userChange?.(db);
      const before = [await fingerprint(s, db), await fingerprint(tgt, db)];
      const r = await cutover(args, env);
      const out = r.stdout + r.stderr;
      expect(r.code, out).toBe(c.exit);
      for (const re of c.says) expect(out).toMatch(re);
      expect(out).not.toMatch(/\n\s+at .*\.js:\d+/); // no stack trace
      for (const pw of [s.password, tgt.password, 'app-pw']) expect(out).not.toContain(pw);
      expect(await fingerprint(s, db), 'source changed').toBe(before[0]);
      expect(await fingerprint(tgt, db), 'target changed').toBe(before[1]);
    }, 120_000);
  }
});
