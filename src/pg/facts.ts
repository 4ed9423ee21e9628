/** Server facts in one call: version, limits, connections, role attributes, objects that matter. */
import type pg from 'pg';
import { loadSql, qualify } from './sql.js';

export interface ServerFacts {
  versionNum: number;
  major: number;
  version: string;
  maxConnections: number;
  superuserReservedConnections: number;
  /** PG16+ `reserved_connections`; 0 before. */
  reservedConnections: number;
  walLevel: string;
  connections: { total: number; ours: number; role: number; database: number };
  role: {
    name: string; isSuperuser: boolean; canCreateDb: boolean; canCreateRole: boolean;
    canReplicate: boolean; bypassRls: boolean; connLimit: number;
  };
  database: { name: string; connLimit: number; canCreateSchema: boolean; bytes: number; tablespace: string };
  largeObjects: number;
  eventTriggers: number;
  publications: { name: string; all_tables: boolean }[];
  extensions: { name: string; version: string }[];
  availableExtensions: string[];
  customTablespaces: string[];
}

export interface TableFacts {
  schema: string;
  name: string;
  kind: 'r' | 'p';
  isPartition: boolean;
  owned: boolean;
  canTrigger: boolean;
  canSelect: boolean;
  primaryKey: string[] | null;
  estimatedRows: number;
  bytes: number;
}

export function majorOf(versionNum: number): number {
  return versionNum >= 100000 ? Math.floor(versionNum / 10000) : Math.floor(versionNum / 100) / 100;
}

/** The part of ServerFacts the connection budget needs (slots.sql reads just that, cheaply enough to sample). */
export interface SlotFacts {
  maxConnections: number;
  superuserReservedConnections: number;
  reservedConnections: number;
  connections: ServerFacts['connections'];
  role: Pick<ServerFacts['role'], 'isSuperuser' | 'connLimit'>;
  database: Pick<ServerFacts['database'], 'connLimit'>;
}

/** A row of sql/slots.sql. */
interface SlotsRow {
  max_connections: number; superuser_reserved_connections: number; reserved_connections: number;
  connections_total: number; connections_ours: number; connections_role: number; connections_database: number;
  is_superuser: boolean; role_conn_limit: number; database_conn_limit: number;
}

/** A row of sql/server-facts.sql (bigints arrive as text). */
interface ServerFactsRow {
  version_num: number; version: string; wal_level: string; role: string; can_create_db: boolean; can_create_role: boolean;
  can_replicate: boolean; bypass_rls: boolean; database: string; can_create_schema: boolean; large_objects: string;
  event_triggers: number; publications: ServerFacts['publications']; extensions: ServerFacts['extensions'];
  available_extensions: string[]; custom_tablespaces: string[]; database_tablespace: string; database_bytes: string;
}

/** A row of sql/tables.sql (bigints arrive as text). */
interface TableFactsRow {
  schema: string; name: string; kind: 'r' | 'p'; is_partition: boolean; owned: boolean; can_trigger: boolean; can_select: boolean;
  primary_key: string[] | null; estimated_rows: string; bytes: string;
}

/** The query's one row; a query that returned none is a bug here, said as such. */
function one<T>(rows: T[], what: string): T {
  const r = rows[0];
  if (r === undefined) throw new Error(`${what} returned no row`);
  return r;
}

export async function slotFacts(c: pg.Client): Promise<SlotFacts> {
  const r = one((await c.query<SlotsRow>(loadSql(import.meta.url, 'sql/slots.sql'))).rows, 'sql/slots.sql');
  return {
    maxConnections: r.max_connections,
    superuserReservedConnections: r.superuser_reserved_connections,
    reservedConnections: r.reserved_connections,
    connections: { total: r.connections_total, ours: r.connections_ours, role: r.connections_role, database: r.connections_database },
    role: { isSuperuser: r.is_superuser, connLimit: r.role_conn_limit },
    database: { connLimit: r.database_conn_limit },
  };
}

export async function serverFacts(c: pg.Client): Promise<ServerFacts> {
  const slots = await slotFacts(c);
  const r = one((await c.query<ServerFactsRow>(loadSql(import.meta.url, 'sql/server-facts.sql'))).rows, 'sql/server-facts.sql');
  return {
    ...slots,
    versionNum: r.version_num,
    major: majorOf(r.version_num),
    version: r.version,
    walLevel: r.wal_level,
    role: {
      ...slots.role, name: r.role, canCreateDb: r.can_create_db, canCreateRole: r.can_create_role,
      canReplicate: r.can_replicate, bypassRls: r.bypass_rls,
    },
    database: {
      ...slots.database, name: r.database, canCreateSchema: r.can_create_schema,
      bytes: Number(r.database_bytes), tablespace: r.database_tablespace,
    },
    largeObjects: Number(r.large_objects),
    eventTriggers: r.event_triggers,
    publications: r.publications,
    extensions: r.extensions,
    availableExtensions: r.available_extensions,
    customTablespaces: r.custom_tablespaces,
  };
}

export async function tableFacts(c: pg.Client): Promise<TableFacts[]> {
  const { rows } = await c.query<TableFactsRow>(loadSql(import.meta.url, 'sql/tables.sql'));
  return rows.map((r) => ({
    schema: r.schema, name: r.name, kind: r.kind, isPartition: r.is_partition, owned: r.owned,
    canTrigger: r.can_trigger, canSelect: r.can_select, primaryKey: r.primary_key,
    estimatedRows: Number(r.estimated_rows), bytes: Number(r.bytes),
  }));
}

export interface SequenceValue { schema: string; name: string; ownedBy: string; lastValue: string; isCalled: boolean; increment: string }

/**
 * Every sequence (identity and serial included) with its value. Read per sequence: pg_sequences hides
 * last_value from roles without USAGE/SELECT and does not show is_called.
 */
export async function sequenceValues(c: pg.Client): Promise<SequenceValue[]> {
  const { rows } = await c.query<{ schema: string; name: string; owned_by: string; increment: string }>(loadSql(import.meta.url, 'sql/sequences.sql'));
  const out: SequenceValue[] = [];
  for (const r of rows) {
    const v = (await c.query<{ last_value: string; is_called: boolean }>(`SELECT last_value::text, is_called FROM ${qualify(r.schema, r.name)}`)).rows[0]!;
    out.push({ schema: r.schema, name: r.name, ownedBy: r.owned_by, lastValue: v.last_value, isCalled: v.is_called, increment: r.increment });
  }
  return out;
}

/**
 * Sets every sequence on `dst` that also exists there to its value on `src`; `margin` > 0 moves each one
 * that many steps further (in its direction), for writes that may still land on the old side. Returns the
 * value set on each ("schema.name" quoted as by qualify()).
 */
export async function setSequences(src: pg.Client, dst: pg.Client, margin = 0): Promise<Map<string, string>> {
  const set = new Map<string, string>();
  for (const v of await sequenceValues(src)) {
    const name = qualify(v.schema, v.name);
    // A sequence the copy did not select is not on the target.
    const exists = (await dst.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [name])).rows[0]!.r;
    if (!exists) continue;
    const r = margin > 0
      ? await dst.query<{ v: string }>('SELECT setval($1::regclass, $2::bigint + $3::bigint * sign($4::bigint), true)::text AS v', [name, v.lastValue, margin, v.increment])
      : await dst.query<{ v: string }>('SELECT setval($1::regclass, $2::bigint, $3)::text AS v', [name, v.lastValue, v.isCalled]);
    set.set(name, r.rows[0]!.v);
  }
  return set;
}
