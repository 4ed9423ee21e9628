/** Example documents for docs/json.md, from real runs, shortened (typed by their schemas; the tests parse them too). */
import type { ErrorDoc } from '../../json/base.js';
import type { JsonCommandName, JsonDocument } from './index.js';

export const ERROR_EXAMPLE: ErrorDoc = {
  ok: false, code: "E_AUTH",
  message: "postgres://postgres:****@db1.internal:5432/live: authentication failed (password authentication failed for user \"postgres\")",
  hint: "check the password (taken from the connection string), that role \"postgres\" exists and pg_hba.conf admits it"
};

export const EXAMPLES: { [C in JsonCommandName]: JsonDocument<C>[] } = {
  doctor: [
    {
      ok: true,
      checks: [
        {
          id: "connect", side: "source", status: "ok",
          message: "connected to postgres://postgres:****@db1.internal:5432/shop as postgres"
        },
        {
          id: "connect", side: "target", status: "ok",
          message: "connected to postgres://postgres:****@db1.internal:5432/doc as postgres"
        },
        {
          id: "versions", side: "target", status: "ok",
          message: "source PostgreSQL 15.18 (Debian 15.18-0+deb12u1), target 15.18 (Debian 15.18-0+deb12u1)"
        }
      ],
      source: {
        connection: "postgres://postgres:****@db1.internal:5432/shop", version: "15.18 (Debian 15.18-0+deb12u1)",
        major: 15, role: "postgres", superuser: true,
        capacity: {
          maxConnections: 100, reservedSlots: 0, inUse: 0, ours: 0, headroom: 0, available: 100, mayHold: 100,
          limitedBy: "server", roleLimit: null, databaseLimit: null
        },
        tables: 19, bytes: 9346407
      },
      target: {
        connection: "postgres://postgres:****@db1.internal:5432/doc", version: "15.18 (Debian 15.18-0+deb12u1)",
        major: 15, role: "postgres", superuser: true,
        capacity: {
          maxConnections: 100, reservedSlots: 0, inUse: 0, ours: 0, headroom: 0, available: 100, mayHold: 100,
          limitedBy: "server", roleLimit: null, databaseLimit: null
        },
        tables: 0, bytes: 7634279
      }
    },
    {
      ok: false, code: "E_PREFLIGHT", message: "1 check(s) failed: source fence",
      hint: "each failing check says what to fix; nothing was changed",
      checks: [
        {
          id: "fence", side: "source", status: "fail",
          message: "the write fence (revoke) would not hold: no role \"no_such_role\" exists on the source. Roles that can write: no login role other than superusers can write any table",
          hint: "correct the roles, or use fence: triggers (stops every writer whatever its role); run the cutover as the tables' owner"
        }
      ],
      source: {
        connection: "postgres://postgres:****@db1.internal:5432/shop", version: "15.18 (Debian 15.18-0+deb12u1)",
        major: 15, role: "postgres", superuser: true,
        capacity: {
          maxConnections: 100, reservedSlots: 0, inUse: 0, ours: 0, headroom: 0, available: 100, mayHold: 100,
          limitedBy: "server", roleLimit: null, databaseLimit: null
        },
        tables: 19, bytes: 9346407
      },
      target: {
        connection: "postgres://postgres:****@db1.internal:5432/doc", version: "15.18 (Debian 15.18-0+deb12u1)",
        major: 15, role: "postgres", superuser: true,
        capacity: {
          maxConnections: 100, reservedSlots: 0, inUse: 0, ours: 0, headroom: 0, available: 100, mayHold: 100,
          limitedBy: "server", roleLimit: null, databaseLimit: null
        },
        tables: 0, bytes: 7634279
      }
    },
  ],
  check: [
    {
      ok: true, runbook: "runbooks/ci-smoke.md", name: "ci smoke - copy and verify against throwaway servers",
      phases: ["Checks", "Copy and verify", "Smoke test on the target"],
      connections: {
        source: { env: "SOURCE_URL" }, target: { env: "TARGET_URL" },
        rehearsal: { source: { env: "SOURCE_URL" }, target: { env: "TARGET_URL" } }
      },
      steps: [
        {
          id: "doctor", line: 27, phase: "Checks", rollback: false, kind: "action", action: "doctor",
          title: "cutover doctor"
        },
        {
          id: "copy", line: 35, phase: "Copy and verify", rollback: false, kind: "action", action: "copy",
          title: "cutover copy"
        },
        {
          id: "verify", line: 39, phase: "Copy and verify", rollback: false, kind: "action", action: "verify",
          title: "cutover verify"
        }
      ],
      markers: [
        { kind: "writes-stopped", line: 33, phase: "Copy and verify" },
        { kind: "writes-resumed", line: 44, phase: "Copy and verify" }
      ],
      outage: { projectedMs: 0, budgetMs: 300000, withinBudget: true, criticalPath: ["copy", "verify"] }
    },
    {
      ok: false, code: "E_RUNBOOK",
      message: "3 problem(s) in runbook.md:\nrunbook.md:16: cutover verify: level: Invalid option: expected one of \"counts\"|\"checksums\"|\"full\"\nrunbook.md:19: duplicate id \"v\" (also at line 15)\nrunbook.md:19: sql block without {on=source} or {on=target}",
      hint: "fix them and run `cutover check` again; nothing was run",
      problems: [
        {
          file: "runbook.md", line: 16,
          message: "cutover verify: level: Invalid option: expected one of \"counts\"|\"checksums\"|\"full\""
        },
        { file: "runbook.md", line: 19, message: "duplicate id \"v\" (also at line 15)" },
        { file: "runbook.md", line: 19, message: "sql block without {on=source} or {on=target}" }
      ]
    },
  ],
  render: [
    {
      ok: true, format: "md", timings: null,
      text: "# ci smoke - copy and verify against throwaway servers\n\nSource: `$SOURCE_URL` · Target: `$TARGET_URL` · Downtime budget:..."
    },
    { ok: true, format: "html", timings: null, output: "checklist.html" },
  ],
  run: [
    {
      ok: true, mode: "run", runbook: "night.md", name: "night move", outcome: "ok", rolledBack: false,
      stateDir: ".cutover/night", summary: ".cutover/night/summary.json", startedAt: "2026-12-03T13:37:56.363Z",
      endedAt: "2026-12-03T13:37:56.378Z", durationMs: 15,
      outage: { projectedMs: 0, budgetMs: 60000, withinBudget: true, criticalPath: [] },
      steps: [
        {
          id: "count", title: "Count the tables.", phase: "Go", kind: "sql", side: "target", startMs: 0, durationMs: 15,
          outcome: "ok", simulated: false, rows: 1, summary: "count=496"
        }
      ]
    },
    {
      ok: false, code: "E_SQL", message: "sql on target failed (SQLSTATE 22012): division by zero", mode: "run",
      runbook: "night.md", name: "night move", outcome: "failed", rolledBack: false,
      stateDir: ".cutover/night", summary: ".cutover/night/summary.json", startedAt: "2026-12-03T13:37:56.969Z",
      endedAt: "2026-12-03T13:37:56.983Z", durationMs: 14,
      outage: { projectedMs: 0, budgetMs: 60000, withinBudget: true, criticalPath: [] },
      steps: [
        {
          id: "divide", title: "SQL on target", phase: "Go", kind: "sql", side: "target", startMs: 0, durationMs: 14,
          outcome: "failed"
        }
      ]
    },
  ],
  rehearse: [
    {
      ok: true, mode: "rehearse", runbook: "runbooks/ci-smoke.md",
      name: "ci smoke - copy and verify against throwaway servers", outcome: "ok", rolledBack: false,
      stateDir: ".cutover/ci-smoke", summary: ".cutover/ci-smoke/summary.json",
      reports: [".cutover/ci-smoke/report.md", ".cutover/ci-smoke/report.html", ".cutover/ci-smoke/timeline.svg"],
      startedAt: "2026-12-03T13:37:52.573Z", endedAt: "2026-12-03T13:37:55.135Z", durationMs: 2562,
      outage: { projectedMs: 2193, budgetMs: 300000, withinBudget: true, criticalPath: ["copy", "verify"], measuredMs: 2194 },
      steps: [
        {
          id: "copy", title: "cutover copy", phase: "Copy and verify", kind: "action", action: "copy", side: "both",
          startMs: 281, durationMs: 1860, outcome: "ok", simulated: false, rows: 1680, bytes: 144492,
          summary: "16 tables, 15 indexes, 5 sequences, 1 matviews refreshed, 35 owners and 49 grants applied"
        },
        {
          id: "verify", title: "cutover verify", phase: "Copy and verify", kind: "action", action: "verify",
          side: "both", startMs: 2142, durationMs: 333, outcome: "ok", simulated: false, rows: 1910,
          summary: "identical: 16 tables, 1910 rows, 2 materialized views, 2 large objects, 5 sequences, 204 schema objects, 293 privileges compared"
        }
      ]
    },
  ],
  copy: [
    {
      ok: true, resumed: false, snapshot: "00000003-00000067-1", newSnapshotOnResume: false, durationMs: 1330,
      phases: [
        { phase: "pre-data", side: "both", durationMs: 544, concurrency: 1 },
        { phase: "data", side: "both", durationMs: 67, concurrency: 2 },
        { phase: "indexes + analyze + matviews (after last table)", side: "target", durationMs: 14, concurrency: 2 }
      ],
      tables: [
        { table: "app.orders", rows: 400, bytes: 71765, durationMs: 8, parts: 1, skipped: false },
        { table: "app.customers", rows: 200, bytes: 26096, durationMs: 6, parts: 1, skipped: false }
      ],
      indexes: 15, largeObjects: 2, sequences: 5, matviews: { refreshed: 1, unpopulated: 1 },
      privileges: {
        owners: 35, grants: 49, defaultPrivileges: 2, policies: 2, rolesCreated: [], skipped: 0, notes: [],
        grantors: { kept: 0, asOwner: 0 }
      },
      settings: { found: 0, applied: false }, connections: { source: 4, target: 4 }
    },
  ],
  dump: [
    {
      ok: true, dir: "/var/tmp/dump", skipped: false, durationMs: 151, tables: 16, bytesOnDisk: 90932,
      pgDumpVersion: "15.18", jobs: 2, finishedAt: "2026-12-03T13:37:02.410Z"
    },
  ],
  restore: [
    {
      ok: true,
      sections: [
        { section: "pre-data", durationMs: 92, skipped: false, items: 51 },
        { section: "data", durationMs: 76, skipped: false, items: 25 },
        { section: "post-data", durationMs: 86, skipped: false, items: 81 }
      ],
      tables: 16, durationMs: 546, jobs: 2, dropped: [],
      privileges: {
        owners: 35, grants: 43, defaultPrivileges: 2, policies: 2, rolesCreated: [], skipped: 0, notes: [],
        grantors: { kept: 0, asOwner: 0 }
      }
    },
  ],
  'wait-for': [
    { ok: true, on: "target", checks: 3, durationMs: 4012 }
  ],
  'sql-file': [
    { ok: true, file: "migrations/add_audit.sql", on: "target", statements: 3, durationMs: 41 }
  ],
  budget: [
    {
      ok: true,
      source: {
        cap: {
          maxConnections: 100, reservedSlots: 0, inUse: 0, ours: 0, headroom: 0, available: 100, mayHold: 100,
          limitedBy: "server", roleLimit: null, databaseLimit: null
        },
        apps: []
      },
      target: {
        cap: {
          maxConnections: 100, reservedSlots: 0, inUse: 0, ours: 0, headroom: 0, available: 100, mayHold: 100,
          limitedBy: "server", roleLimit: null, databaseLimit: null
        },
        apps: []
      },
      plan: [
        { action: "dump", jobs: 8, source: 9, target: 0 }, { action: "restore", jobs: 8, source: 0, target: 8 },
        { action: "copy", jobs: 8, source: 10, target: 16 }
      ]
    },
  ],
  verify: [
    {
      ok: true, level: "checksums", jobs: 2, durationMs: 136,
      tables: [
        {
          schema: "app", name: "customers", sourceRows: 200, targetRows: 200, status: "same", chunks: 1,
          differenceCount: 0, differences: [], durationMs: 3
        }
      ],
      missingTables: [],
      matviews: [{ schema: "app", name: "big_spenders", source: false, target: false, status: "same" }],
      largeObjects: { sourceCount: 2, targetCount: 2, contentCompared: true, differences: [] }, notes: [],
      summary: {
        tables: 16, rows: 1710, tablesDiffering: 0, rowDifferences: 0, matviews: 2, matviewDifferences: 0,
        largeObjects: 2, largeObjectDifferences: 0, sequences: 0, sequencesBehind: 0, schemaObjects: 0,
        schemaDifferences: 0, privileges: 0, privilegeDifferences: 0
      }
    },
    {
      ok: false, code: "E_DIFFERENCE",
      message: "verify (checksums): DIFFERENCES: 1 table(s), 1 row(s), 0 materialized view(s), 0 large object(s) (compared: 16 tables, 1710 rows, 2 materialized views, 2 large objects; 169 ms)",
      level: "checksums", jobs: 2, durationMs: 169,
      tables: [
        {
          schema: "app", name: "customers", sourceRows: 200, targetRows: 200, status: "differs", chunks: 1,
          differenceCount: 1, differences: [{ kind: "changed", key: { id: "7" }, columns: ["email"] }], durationMs: 26
        }
      ],
      missingTables: [],
      matviews: [{ schema: "app", name: "big_spenders", source: false, target: false, status: "same" }],
      largeObjects: { sourceCount: 2, targetCount: 2, contentCompared: true, differences: [] }, notes: [],
      summary: {
        tables: 16, rows: 1710, tablesDiffering: 1, rowDifferences: 1, matviews: 2, matviewDifferences: 0,
        largeObjects: 2, largeObjectDifferences: 0, sequences: 0, sequencesBehind: 0, schemaObjects: 0,
        schemaDifferences: 0, privileges: 0, privilegeDifferences: 0
      }
    },
  ],
  demo: [
    {
      ok: true, outDir: "/var/tmp/demo", sourceVersion: 14, targetVersion: 17, rows: 200, writers: 1, outcome: "ok",
      durationMs: 4275, writeOutageMs: 418, applicationCommits: 635,
      verify: "verify incremental: identical (16 tables, 2051 rows, 170 of them verified before the fence and unchanged since)",
      rollback: { outageMs: 240, drainedEvents: 32, verify: "verify incremental: identical" },
      files: {
        summary: "/var/tmp/demo/summary.json", markdown: "/var/tmp/demo/report.md", report: "/var/tmp/demo/report.html",
        timeline: "/var/tmp/demo/timeline.svg", checklist: "/var/tmp/demo/checklist.html"
      }
    },
  ],
  'replicate start': [
    {
      ok: true,
      tables: [
        { schema: "app", name: "Table With Spaces & \"Quotes\"", key: ["Id"], keySource: "primary key" },
        { schema: "app", name: "customers", key: ["id"], keySource: "primary key" }
      ],
      mode: "row", durationMs: 207, lockRetries: 0, removed: []
    },
  ],
  'replicate apply': [
    { ok: true, direction: "forward", batches: 1, events: 5, upserted: 5, deleted: 0, lagMs: 0 },
    {
      ok: false, code: "E_INTERRUPTED", message: "stopped by SIGTERM", direction: "forward", batches: 0, events: 0,
      upserted: 0, deleted: 0, lagMs: 0, stoppedBy: "SIGTERM"
    },
  ],
  'replicate status': [
    {
      ok: true, installed: true, direction: "forward", mode: "row", tables: 12, startSnapshot: "758:758:", fenced: 0,
      applied: {
        tick: "764:764:", tickAt: "2026-12-03T13:38:12.119Z", appliedAt: "2026-12-03T13:38:12.123Z", batches: 1,
        events: 5, upserted: 5, deleted: 0, halted: null
      },
      pendingEvents: 0, loggedEvents: 5, logBytes: 180224, lagMs: 0
    },
    {
      ok: false, code: "E_HALTED",
      message: "replication halted: DDL on the source: public.t changed (columns, key or partitions)", installed: true,
      direction: "forward", mode: "row", tables: 1, startSnapshot: "836:836:", fenced: 0,
      applied: {
        tick: "836:836:", tickAt: "2026-12-03T13:38:27.293Z", appliedAt: "2026-12-03T13:38:30.123Z", batches: 0,
        events: 0, upserted: 0, deleted: 0, halted: "DDL on the source: public.t changed (columns, key or partitions)"
      },
      pendingEvents: 1, loggedEvents: 1, logBytes: 180224, lagMs: 3532
    },
  ],
  'replicate cutover': [
    {
      ok: true, fence: "triggers", fencedAt: "2026-12-03T13:38:14.142Z", outageMs: 780,
      phases: [
        { phase: "catch up", durationMs: 24, outage: false }, { phase: "fence", durationMs: 26, outage: true }, { phase: "drain", durationMs: 9, outage: true },
        { phase: "large objects", durationMs: 2, outage: true }, { phase: "sequences", durationMs: 9, outage: true },
        { phase: "restore target triggers", durationMs: 1, outage: true }, { phase: "deferred foreign keys", durationMs: 10, outage: true },
        { phase: "verify (checksums)", durationMs: 167, outage: true }, { phase: "open rollback window", durationMs: 552, outage: true },
        { phase: "forward capture off the source", durationMs: 59, outage: false }
      ],
      revoked: 0, fencedTables: 19, drainedEvents: 0, sequences: 5, triggersRestored: 1,
      verify: { level: "checksums", ok: true, tables: 16, rows: 1710 },
      window: { tables: 12, leftOut: [], startSnapshot: "1324:1324:", durationMs: 552, already: false }
    },
  ],
  'replicate rollback': [
    {
      ok: true, fence: "triggers", fencedAt: "2026-12-03T13:38:18.868Z", outageMs: 304,
      phases: [
        { phase: "catch up", durationMs: 15, outage: false }, { phase: "fence", durationMs: 27, outage: true }, { phase: "drain", durationMs: 9, outage: true },
        { phase: "large objects", durationMs: 2, outage: true }, { phase: "sequences", durationMs: 6, outage: true },
        { phase: "restore target triggers", durationMs: 0, outage: true }, { phase: "deferred foreign keys", durationMs: 9, outage: true },
        { phase: "verify (checksums)", durationMs: 204, outage: true }, { phase: "unfence old source", durationMs: 45, outage: true }
      ],
      revoked: 0, fencedTables: 19, drainedEvents: 0, sequences: 5, triggersRestored: 1,
      verify: { level: "checksums", ok: true, tables: 16, rows: 1710 },
      unfenced: {
        tables: 19, privileges: 0, roles: 0,
        statements: [
          "DROP TRIGGER IF EXISTS cutover_fence ON \"Ünïcode \"\"Schema\"\"\".\"order\"",
          "DROP TRIGGER IF EXISTS cutover_fence_watch ON \"Ünïcode \"\"Schema\"\"\".\"order\""
        ]
      },
      already: false
    },
  ],
  'replicate finish': [
    {
      ok: true,
      target: {
        triggersDropped: 30, sourceSchema: true, targetSchema: true, targetTriggersRestored: 0,
        fenceStatements: [
          "DROP TRIGGER IF EXISTS cutover_fence ON \"Ünïcode \"\"Schema\"\"\".\"order\"",
          "DROP TRIGGER IF EXISTS cutover_fence_watch ON \"Ünïcode \"\"Schema\"\"\".\"order\""
        ]
      },
      constraints: 0, oldSourceFenced: false, fenceStatements: []
    },
  ],
  'replicate unfence': [
    {
      ok: true, tables: 19, privileges: 0, roles: 0,
      statements: [
        "DROP TRIGGER IF EXISTS cutover_fence ON \"Ünïcode \"\"Schema\"\"\".\"order\"",
        "DROP TRIGGER IF EXISTS cutover_fence_watch ON \"Ünïcode \"\"Schema\"\"\".\"order\""
      ]
    },
  ],
  'replicate teardown': [
    {
      ok: true, triggersDropped: 24, sourceSchema: true, targetSchema: true, targetTriggersRestored: 0,
      fenceStatements: []
    },
  ],
};
