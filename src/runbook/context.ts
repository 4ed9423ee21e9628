/**
 * What a run shares with every step it runs: the endpoints, the connection governor that admits their
 * connections, the journal, the state directory, the abort signal and the event stream. Passed down
 * explicitly (actions get it as part of their ActionContext), never read from a global.
 */
import type { Governor } from '../budget/governor.js';
import type { Endpoint } from '../pg/endpoint.js';
import type { RunEmitter } from './events.js';
import type { RunJournal } from './journal.js';

export interface RunContext {
  source: Endpoint;
  target: Endpoint;
  /** The PgBouncer admin console (connections.pooler), if the runbook names one. */
  pooler?: Endpoint;
  /**
   * Every endpoint by name: source, target, pooler (if any) and the ones the front matter names
   * (connections: { reporting: env:REPORTING_URL }), for steps that name theirs (`sql {on=reporting}`).
   */
  endpoints: Readonly<Record<string, Endpoint>>;
  /** The run's connection governor (also in force for every connection opened in the run's async context). */
  governor: Governor;
  journal: RunJournal;
  /** Where the run keeps its files (journal, logs, dumps, copy work dirs). */
  stateDir: string;
  /** Fires when the run is interrupted: steps cancel what they do. */
  signal: AbortSignal;
  events: RunEmitter;
}
