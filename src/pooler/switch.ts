/**
 * The switch through PgBouncer (`fence: pooler`): PAUSE the application's database entry (in-flight
 * transactions finish, new ones queue in the pooler), let the cutover fence, drain and verify, then point
 * the entry at the new server and RESUME: clients waited a moment and go on against the target. Before
 * the repoint, any failure or signal RESUMEs on the old server (the caller unfences it): the application
 * is never left paused, and never resumes on a server that was not verified.
 */
import { CutoverError } from '../errors.js';
import type { ConnParams } from '../pg/conninfo.js';
import { PgBouncerAdmin, type PoolerEntry } from './admin.js';
import { checkIni, type Endpoint, type Repoint, repointIni, restoreIni, runRepointCommand } from './repoint.js';

export interface PoolerSwitchOptions {
  /** The admin console: database `pgbouncer`, a user in admin_users. */
  admin: ConnParams;
  /** The [databases] entry the application connects to. */
  database: string;
  repoint: Repoint;
  /** How long PAUSE may wait for in-flight transactions before giving up and resuming (ms). Default 10 s. */
  pauseTimeoutMs?: number;
  /**
   * The caller's interruption (a runbook run's AbortSignal): while paused, its abort resumes the old server
   * first. Without it the switch watches the process's SIGINT/SIGTERM/SIGHUP itself (a bare library call).
   */
  signal?: AbortSignal;
}

export interface PauseReport {
  /** PAUSE issued to RESUME answered: the longest any client could have waited. */
  pausedMs: number;
  /** The longest a client had been waiting when RESUME was sent, and how many were. */
  maxClientWaitMs: number;
  waitingClients: number;
  /** The entry after the switch. */
  entry: string;
  repointed: string;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', '']);

/**
 * Whether a pooler entry names this server's database: port and database name, and with `sameHost` the
 * host too (loopback spellings and a socket count as one). The host is not required by default: the
 * pooler may name the server by an address the operator's URL spells as a name.
 */
export function pointsAt(e: PoolerEntry, ep: Endpoint, sameHost = false): boolean {
  const h = (x: string | null) => (x === null || x.startsWith('/') || LOOPBACK.has(x.toLowerCase()) ? 'loopback' : x.toLowerCase());
  return e.database === ep.dbname && e.port === ep.port && (!sameHost || h(e.host) === h(ep.host));
}

export class PoolerSwitch {
  private pausedAt = 0;
  private paused = false;
  private previousIni?: string;
  private guard?: () => void;
  /** A signal resumed on the source: the switch must never happen after that. */
  private interrupted?: string;
  entry!: PoolerEntry;

  private constructor(private readonly o: PoolerSwitchOptions, private readonly admin: PgBouncerAdmin) {}

  /** Connects and checks everything a switch needs before anything changes. */
  static async prepare(o: PoolerSwitchOptions, source: Endpoint, target?: Endpoint): Promise<{ sw: PoolerSwitch; notes: string[]; switched: boolean }> {
    const admin = await PgBouncerAdmin.open(o.admin);
    const sw = new PoolerSwitch(o, admin);
    const notes: string[] = [];
    try {
      sw.entry = await admin.entry(o.database);
      if ('ini' in o.repoint) await checkIni(o.repoint.ini, o.database);
      // Already at the target (a cutover that finished, run again): the caller decides whether that is done.
      if (target && pointsAt(sw.entry, target, true) && !pointsAt(sw.entry, source, true)) return { sw, notes, switched: true };
      if (!pointsAt(sw.entry, source)) {
        throw new CutoverError('E_USAGE', `pooler entry "${o.database}" points at ${sw.entry.host ?? '(socket)'}:${sw.entry.port}/${sw.entry.database}, not at the source (${source.host}:${source.port}/${source.dbname})`, {
          hint: 'name the entry the application uses for the source database; nothing was changed',
        });
      }
      if (sw.entry.paused) notes.push(`pooler entry "${o.database}" was already paused`);
      const mode = sw.entry.poolMode ?? (await admin.config()).get('pool_mode') ?? 'session';
      if (mode === 'session') notes.push(`pooler entry "${o.database}" uses session pooling: PAUSE waits until every client disconnects, which a long-lived application never does; the pause will time out and resume unless clients reconnect per request`);
    } catch (e) {
      await admin.close();
      throw e;
    }
    return { sw, notes, switched: false };
  }

  /**
   * PAUSE, bounded: past the timeout the pause is lifted from a second console connection and the
   * cutover fails with nothing changed. Until `switchTo` or `resumeOld`, a SIGINT/SIGTERM/SIGHUP resumes
   * the old server first (`onSignal` then unfences it).
   */
  async pause(onSignal: () => Promise<void>): Promise<void> {
    const timeout = this.o.pauseTimeoutMs ?? 10_000;
    this.pausedAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((res) => { timer = setTimeout(() => res('timeout'), timeout); });
    const done = this.admin.pause(this.o.database).then(() => 'paused' as const);
    this.paused = true;
    this.installGuard(onSignal);
    const r = await Promise.race([done, timedOut]).finally(() => clearTimeout(timer));
    if (r === 'timeout') {
      done.catch(() => undefined);
      await this.resumeOld();
      throw new CutoverError('E_FENCE', `the pooler could not pause "${this.o.database}" in ${timeout / 1000} s: transactions still running through it`, {
        hint: 'long transactions (or session pooling) keep PAUSE waiting; the pooler was resumed and nothing was changed; try again when they end, or raise pooler.pause_timeout_s',
      });
    }
  }

  /** Repoints the entry, RELOADs (ini), RESUMEs on the target. */
  async switchTo(target: Endpoint): Promise<PauseReport> {
    if (this.interrupted) {
      throw new CutoverError('E_USAGE', `interrupted (${this.interrupted}): the pooler was resumed on the source and the fence lifted; the switch did not happen`);
    }
    const waits = await this.admin.clients(this.o.database);
    let repointed: string;
    if ('ini' in this.o.repoint) {
      const r = await repointIni(this.o.repoint.ini, this.o.database, target);
      this.previousIni = r.previous;
      await this.admin.reload();
      repointed = r.line;
    } else {
      await runRepointCommand(this.o.repoint.command, target);
      repointed = `pooler.command ran for ${target.host}:${target.port}/${target.dbname}`;
    }
    const now = (await this.admin.entry(this.o.database));
    if (now.port !== target.port || now.database !== target.dbname) {
      throw new CutoverError('E_FENCE', `after the repoint the pooler entry "${this.o.database}" still points at ${now.host ?? '(socket)'}:${now.port}/${now.database}`, {
        hint: 'check the repoint (pooler.ini / pooler.command) and that it reloads the pooler; the pooler resumes on the old server',
      });
    }
    await this.admin.resume(this.o.database);
    this.paused = false;
    this.previousIni = undefined;
    this.removeGuard();
    return { pausedMs: Date.now() - this.pausedAt, maxClientWaitMs: waits.maxWaitMs, waitingClients: waits.waiting, entry: this.o.database, repointed };
  }

  get isPaused(): boolean { return this.paused; }

  /** Back to where it was: the old ini (if rewritten) reloaded, RESUME. Idempotent; never throws. */
  async resumeOld(): Promise<boolean> {
    if (!this.paused) return false;
    const a = await PgBouncerAdmin.open(this.o.admin).catch(() => this.admin);
    try {
      if (this.previousIni !== undefined && 'ini' in this.o.repoint) {
        await restoreIni(this.o.repoint.ini, this.previousIni);
        await a.reload();
        this.previousIni = undefined;
      }
      await a.resume(this.o.database);
      this.paused = false;
    } catch {
      // RESUME of an entry that is not paused fails harmlessly; anything else is reported by the caller.
      this.paused = (await a.entry(this.o.database).catch(() => undefined))?.paused ?? true;
    } finally {
      if (a !== this.admin) await a.close();
      this.removeGuard();
    }
    return !this.paused;
  }

  private installGuard(onSignal: () => Promise<void>): void {
    const signal = this.o.signal;
    if (signal) {
      const h = () => {
        const r: unknown = signal.reason;
        this.interrupted = typeof r === 'string' ? r : r instanceof Error ? r.message : 'aborted';
        void onSignal();
      };
      if (signal.aborted) h(); else signal.addEventListener('abort', h, { once: true });
      this.guard = () => signal.removeEventListener('abort', h);
      return;
    }
    const handlers: [NodeJS.Signals, () => void][] = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => {
      const others = process.listenerCount(sig) > 0;
      const h = () => {
        this.interrupted = sig;
        void onSignal().finally(() => {
          // Nobody else handles it (a library caller without handlers): after resuming, the signal does
          // what it would have done without us (raised again with our handlers gone), never process.exit.
          if (!others) { this.removeGuard(); process.kill(process.pid, sig); }
        });
      };
      process.once(sig, h);
      return [sig, h];
    });
    this.guard = () => { for (const [sig, h] of handlers) process.removeListener(sig, h); };
  }

  private removeGuard(): void {
    this.guard?.();
    this.guard = undefined;
  }

  async close(): Promise<void> {
    this.removeGuard();
    await this.admin.close();
  }
}
