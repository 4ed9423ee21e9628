import { describe, expect, it } from 'vitest';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withPgpass } from '../src/pg/pgpass.js';
import { parseConnString, parseKeywordValue, redact, scrub, urlWithoutPassword } from '../src/pg/conninfo.js';
import { CutoverError } from '../src/errors.js';
import { classifySqlState, isRetryable } from '../src/pg/sqlstate.js';
import { parseHeadroom, headroomCount } from '../src/budget/capacity.js';

describe('connection strings', () => {
  it('parses URLs with encoded passwords, query parameters and defaults', () => {
    const p = parseConnString('postgresql://alice:p%40ss%3Aword@db.example.com:6543/app%20db?sslmode=require&connect_timeout=5', { env: {} });
    expect(p).toMatchObject({ host: 'db.example.com', port: 6543, user: 'alice', password: 'p@ss:word', dbname: 'app db', sslmode: 'require', connectTimeoutSec: 5, passwordSource: 'conninfo' });
  });

  it('parses libpq key=value strings with quoting and escapes', () => {
    expect(parseKeywordValue(`host=h port = 5433 password='it\\'s a " secret' dbname='a b'`)).toEqual({ host: 'h', port: '5433', password: `it's a " secret`, dbname: 'a b' });
    const p = parseConnString(`host=h user=bob dbname=x`, { env: {} });
    expect(p).toMatchObject({ host: 'h', port: 5432, user: 'bob', dbname: 'x', sslmode: 'prefer' });
  });

  it('fills gaps from PG* variables, explicit values winning', () => {
    const env = { PGHOST: 'envhost', PGPORT: '7000', PGUSER: 'envuser', PGPASSWORD: 'envpw', PGDATABASE: 'envdb', PGSSLMODE: 'verify-full' };
    expect(parseConnString('', { env })).toMatchObject({ host: 'envhost', port: 7000, user: 'envuser', dbname: 'envdb', password: 'envpw', passwordSource: 'PGPASSWORD', sslmode: 'verify-full' });
    expect(parseConnString('postgres://u@h/d', { env })).toMatchObject({ host: 'h', port: 7000, user: 'u', dbname: 'd' });
    // dbname defaults to the user name, as in libpq
    expect(parseConnString('host=h user=carol', { env: {} }).dbname).toBe('carol');
  });

  it('rejects bad input with a clear CutoverError', () => {
    expect(() => parseConnString('postgres://h:99999/d', { env: {} })).toThrow(CutoverError);
    expect(() => parseConnString('host=h colour=blue', { env: {} })).toThrow(/unknown parameter.*colour/);
    expect(() => parseConnString('host=h sslmode=sometimes', { env: {} })).toThrow(/sslmode "sometimes"/);
    expect(() => parseConnString("host='unterminated", { env: {} })).toThrow(/unterminated/);
    expect(() => parseConnString('host', { env: {} })).toThrow(/missing "="/);
    // Refused by name, saying why: cutover's own session names are how it finds and cancels its sessions.
    expect(() => parseConnString('postgres://h/d?application_name=myapp', { env: {} })).toThrow(/application_name is not accepted: cutover names its own sessions/);
  });

  it('honours passfile (and PGPASSFILE) for the password, and ignores a file others can read, as libpq does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cutover-passfile-'));
    const file = join(dir, 'my pgpass');
    await writeFile(file, 'db.example.com:5432:app:alice:from-passfile\n', { mode: 0o600 });
    const p = parseConnString(`host=db.example.com user=alice dbname=app passfile='${file}'`, { env: {} });
    expect(p.passfile).toBe(file);
    expect(await withPgpass(p)).toMatchObject({ password: 'from-passfile', passwordSource: 'pgpass' });
    expect((await withPgpass(parseConnString('postgres://alice@db.example.com/app', { env: { PGPASSFILE: file } }))).password).toBe('from-passfile');
    // Another user's or database's line does not match.
    expect((await withPgpass(parseConnString(`host=db.example.com user=bob dbname=app passfile='${file}'`, { env: {} }))).password).toBeUndefined();
    await chmod(file, 0o644);
    expect((await withPgpass(p)).password).toBeUndefined();
  });

  it('never shows the password in the redacted forms', () => {
    const p = parseConnString('postgres://alice:hunter2@h:5432/db', { env: {} });
    expect(redact(p)).toBe('postgres://alice:****@h:5432/db');
    expect(redact(p)).not.toContain('hunter2');
    expect(urlWithoutPassword(p)).toBe('postgres://alice@h:5432/db');
    // The form handed to `sh` steps keeps what changes how a client connects (certificates, timeout).
    const tls = parseConnString('postgres://alice:hunter2@h:5432/db?sslmode=verify-full&sslrootcert=/etc/ssl/root.crt&sslcert=/c.crt&sslkey=/c.key&connect_timeout=4', { env: {} });
    const u = new URL(urlWithoutPassword(tls));
    expect(u.password).toBe('');
    expect(Object.fromEntries(u.searchParams)).toEqual({ sslmode: 'verify-full', sslrootcert: '/etc/ssl/root.crt', sslcert: '/c.crt', sslkey: '/c.key', connect_timeout: '4' });
    expect(parseConnString(urlWithoutPassword(tls), { env: {} })).toMatchObject({ ...tls, password: undefined, passwordSource: 'none' });
  });

  it('scrubs secrets and credential-shaped text from foreign messages', () => {
    expect(scrub('failed for postgres://bob:s3cret@host/db and password=abc123 x', [])).toBe('failed for postgres://bob:****@host/db and password=**** x');
    expect(scrub('the word hunter2 appears', ['hunter2'])).toBe('the word **** appears');
  });
});

describe('SQLSTATE classification', () => {
  it('classifies by code, not message', () => {
    expect(classifySqlState('28P01')).toBe('auth');
    expect(classifySqlState('53300')).toBe('no_slots');
    expect(classifySqlState('08006')).toBe('connection');
    expect(classifySqlState('40001')).toBe('retryable');
    expect(classifySqlState('23505')).toBe('data');
    expect(classifySqlState('23503')).toBe('fk_violation');
    expect(classifySqlState('42703')).toBe('rule'); // undefined_column
    expect(classifySqlState('42501')).toBe('privilege');
    expect(classifySqlState('P0001')).toBe('raised'); // RAISE EXCEPTION
    // internal_error is its own class (the applier reads the catalogs again on it); other XX codes are not.
    expect(classifySqlState('XX000')).toBe('internal');
    expect(classifySqlState('XX001')).toBe('other');
    expect(isRetryable({ code: '23503' })).toBe(false);
    expect(isRetryable({ code: '40P01' })).toBe(true);
    expect(isRetryable({ code: '55P03' })).toBe(true);
    expect(isRetryable({ code: '42501' })).toBe(false);
    expect(isRetryable(new Error('deadlock detected'))).toBe(false);
  });
});

describe('headroom', () => {
  it('accepts counts and percentages', () => {
    expect(parseHeadroom('12')).toBe(12);
    expect(parseHeadroom('20%')).toBe('20%');
    expect(headroomCount('20%', 25)).toBe(5);
    expect(() => parseHeadroom('lots')).toThrow(/number of connections or a percentage/);
  });
});
