import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startClusters, stopAllClusters, type Cluster } from '../src/testing/index.js';
import { parseConnString } from '../src/pg/conninfo.js';
import { withPgpass } from '../src/pg/pgpass.js';
import { withClient } from '../src/pg/connect.js';
import { CutoverError } from '../src/errors.js';

let c: Cluster;
beforeAll(async () => { [c] = (await startClusters([{ version: 15, password: 'from:pgpass\\x' }])) as [Cluster]; });
afterAll(() => stopAllClusters());

describe('connections against a real server', () => {
  it('takes the password from a .pgpass file (PGPASSFILE), escaping included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cutover-pgpass-'));
    const file = join(dir, 'pgpass');
    await writeFile(file, `# comment\n127.0.0.1:${c.port}:*:postgres:from\\:pgpass\\\\x\n`, { mode: 0o600 });
    const old = process.env.PGPASSFILE;
    process.env.PGPASSFILE = file;
    try {
      const p = await withPgpass(parseConnString(`host=127.0.0.1 port=${c.port} user=postgres dbname=postgres sslmode=disable`, { env: {} }));
      expect(p.passwordSource).toBe('pgpass');
      const app = await withClient(p, 'pgpass-test', async (k) => (await k.query<{ a: string }>(`SELECT current_setting('application_name') a`)).rows[0]!.a);
      expect(app).toBe('cutover/pgpass-test');
    } finally {
      if (old === undefined) delete process.env.PGPASSFILE; else process.env.PGPASSFILE = old;
    }
  });

  it('sslmode=prefer falls back to plain on a server without SSL; require fails with a clear message', async () => {
    const base = `host=127.0.0.1 port=${c.port} user=postgres dbname=postgres password='from:pgpass\\\\x'`;
    const ok = await withClient(parseConnString(`${base} sslmode=prefer`, { env: {} }), 'ssl-prefer', async (k) =>
      (await k.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]!.ssl);
    expect(ok).toBe(false);
    const err = await withClient(parseConnString(`${base} sslmode=require`, { env: {} }), 'ssl-require', async () => 1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CutoverError);
    expect((err as CutoverError).code).toBe('E_SSL');
    expect((err as CutoverError).hint).toContain('sslmode=require needs a server with SSL enabled');
    expect((err as CutoverError).message).not.toContain('from:pgpass');
  });

  it('a missing database and no password: clear errors', async () => {
    const missing = await withClient(parseConnString(`postgres://postgres:x@127.0.0.1:${c.port}/nope?sslmode=disable`, { env: {} }), 't', async () => 1).catch((e: unknown) => e);
    // A wrong password is reported before the database is looked at.
    expect((missing as CutoverError).code).toBe('E_AUTH');
    const nopw = await withClient(parseConnString(`host=127.0.0.1 port=${c.port} user=postgres dbname=postgres sslmode=disable`, { env: {} }), 't', async () => 1).catch((e: unknown) => e);
    expect((nopw as CutoverError).code).toBe('E_AUTH');
    expect((nopw as CutoverError).message).toContain('the server asks for a password and none was given');
  });
});
