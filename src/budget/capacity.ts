/**
 * How many connections cutover may hold on one server, from its limits and what others use now:
 *   min( max_connections - reserved slots we cannot use - others' connections,
 *        role CONNECTION LIMIT - others' connections as our role,
 *        database CONNECTION LIMIT - others' connections to the database ) - application headroom
 * Everything connected now counts as in use, cutover's own long-lived sessions too (the run lock, the
 * sampler): only the probing connection itself, released right after, is left out.
 */
import { CutoverError } from '../errors.js';
import type { SlotFacts } from '../pg/facts.js';


/** Connections kept free for the application: a count, or a share of max_connections ("25%"). */
export type Headroom = number | `${number}%`;

export function parseHeadroom(v: string | number | undefined): Headroom {
  if (v === undefined || v === '') return 0;
  if (typeof v === 'number') return checkCount(v);
  const s = v.trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(s);
  if (pct) {
    const n = Number(pct[1]);
    if (n > 100) throw new CutoverError('E_USAGE', `headroom "${v}" is more than 100%`);
    return `${n}%`;
  }
  if (/^\d+$/.test(s)) return checkCount(Number(s));
  throw new CutoverError('E_USAGE', `headroom "${v}" must be a number of connections or a percentage like "20%"`);
}

function checkCount(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new CutoverError('E_USAGE', `headroom ${n} must be a whole number >= 0`);
  return n;
}

export function headroomCount(h: Headroom, maxConnections: number): number {
  return typeof h === 'number' ? h : Math.ceil((Number(h.slice(0, -1)) / 100) * maxConnections);
}

export interface Capacity {
  maxConnections: number;
  /** Slots we cannot use: superuser_reserved_connections (+ reserved_connections) unless we are superuser. */
  reservedSlots: number;
  /** Client sessions now, the probing one excluded. */
  inUse: number;
  /** Of which cutover's own (application_name cutover/*). */
  ours: number;
  headroom: number;
  /** Connections cutover may open now, beyond what it holds (>= 0). */
  available: number;
  /** All connections cutover may hold at once, counting those it holds now (what the governor enforces). */
  mayHold: number;
  /** Which limit binds: 'server', 'role' or 'database'. */
  limitedBy: 'server' | 'role' | 'database';
  roleLimit: number | null;
  databaseLimit: number | null;
}

/**
 * `probeStaysOpen`: the facts were read over a connection that stays open (the run's sampler), so it is
 * counted as in use; otherwise over a probe that closes right after, which is left out.
 */
export function capacity(f: SlotFacts, headroom: Headroom = 0, probeStaysOpen = false): Capacity {
  const su = f.role.isSuperuser;
  const reservedSlots = su ? 0 : f.superuserReservedConnections + f.reservedConnections;
  const probe = probeStaysOpen ? 0 : 1;
  const others = Math.max(0, f.connections.total - probe);
  const room = headroomCount(headroom, f.maxConnections);
  const limits: { by: Capacity['limitedBy']; free: number }[] = [
    { by: 'server', free: f.maxConnections - reservedSlots - others },
  ];
  // Superusers are exempt from role and database connection limits.
  if (!su && f.role.connLimit >= 0) limits.push({ by: 'role', free: f.role.connLimit - Math.max(0, f.connections.role - probe) });
  if (!su && f.database.connLimit >= 0) limits.push({ by: 'database', free: f.database.connLimit - Math.max(0, f.connections.database - probe) });
  const binding = limits.reduce((a, b) => (b.free < a.free ? b : a));
  return {
    maxConnections: f.maxConnections,
    reservedSlots,
    inUse: others,
    ours: Math.max(0, f.connections.ours - probe),
    headroom: room,
    available: Math.max(0, binding.free - room),
    mayHold: Math.max(0, binding.free - room + Math.max(0, f.connections.ours - probe)),
    limitedBy: binding.by,
    roleLimit: !su && f.role.connLimit >= 0 ? f.role.connLimit : null,
    databaseLimit: !su && f.database.connLimit >= 0 ? f.database.connLimit : null,
  };
}

/** One line for people: "5 available (max_connections 20, 3 reserved, 12 in use, 0 headroom)". */
export function describeCapacity(c: Capacity): string {
  return `${c.available} available (max_connections ${c.maxConnections}, ${c.reservedSlots} reserved, ${c.inUse} in use` +
    `${c.ours ? ` of which ${c.ours} cutover's` : ''}${c.headroom ? `, ${c.headroom} kept for the application` : ''}` +
    `${c.limitedBy !== 'server' ? `, bound by the ${c.limitedBy} connection limit` : ''})`;
}
