/**
 * How many connections cutover may hold on one server, from its limits and what others use now:
 *   min( max_connections - reserved slots we cannot use - others' connections,
 *        role CONNECTION LIMIT - others' connections as our role,
 *        database CONNECTION LIMIT - others' connections to the database ) - application headroom
 * "Others" excludes cutover's own sessions (application_name cutover/*), which are ours to reuse.
 */
import { CutoverError } from '../errors.js';
import type { ServerFacts } from '../pg/facts.js';

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
  inUse: number;
  ours: number;
  headroom: number;
  /** Connections cutover may hold at once (>= 0). */
  available: number;
  /** Which limit binds: 'server', 'role' or 'database'. */
  limitedBy: 'server' | 'role' | 'database';
  roleLimit: number | null;
  databaseLimit: number | null;
}

export function capacity(f: ServerFacts, headroom: Headroom = 0): Capacity {
  const su = f.role.isSuperuser;
  const reservedSlots = su ? 0 : f.superuserReservedConnections + f.reservedConnections;
  const others = Math.max(0, f.connections.total - f.connections.ours);
  const room = headroomCount(headroom, f.maxConnections);
  const limits: { by: Capacity['limitedBy']; free: number }[] = [
    { by: 'server', free: f.maxConnections - reservedSlots - others },
  ];
  // Superusers are exempt from role and database connection limits.
  if (!su && f.role.connLimit >= 0) limits.push({ by: 'role', free: f.role.connLimit - Math.max(0, f.connections.role - f.connections.ours) });
  if (!su && f.database.connLimit >= 0) limits.push({ by: 'database', free: f.database.connLimit - Math.max(0, f.connections.database - f.connections.ours) });
  const binding = limits.reduce((a, b) => (b.free < a.free ? b : a));
  return {
    maxConnections: f.maxConnections,
    reservedSlots,
    inUse: f.connections.total,
    ours: f.connections.ours,
    headroom: room,
    available: Math.max(0, binding.free - room),
    limitedBy: binding.by,
    roleLimit: !su && f.role.connLimit >= 0 ? f.role.connLimit : null,
    databaseLimit: !su && f.database.connLimit >= 0 ? f.database.connLimit : null,
  };
}
