/** pg_snapshot values as text ("xmin:xmax:xip,..."), for the fence arithmetic and for COPY statements. */
export interface SnapshotParts { xmin: bigint; xmax: bigint; xip: bigint[] }

export function parseSnapshot(s: string): SnapshotParts {
  const m = /^(\d+):(\d+):([\d,]*)$/.exec(s.trim());
  if (!m) throw new Error(`not a pg_snapshot: ${s}`);
  return { xmin: BigInt(m[1]!), xmax: BigInt(m[2]!), xip: m[3] ? m[3].split(',').map((x) => BigInt(x)) : [] };
}

/**
 * >= 0 when snapshot `a` shows every transaction that was running or not yet started when `b` was taken
 * ended, i.e. every transaction id below b's xmax is finished in a (a.xmin >= b.xmax).
 */
export function compareSnapshots(a: string, b: string): number {
  const d = parseSnapshot(a).xmin - parseSnapshot(b).xmax;
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}

/** A SQL string literal (COPY takes no parameters). */
export function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
