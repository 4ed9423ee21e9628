/**
 * The runbook commands' documents, projected field by field from the runbook and the run's summary: a
 * field added to summary.json for the report does not change the documented shape.
 */
import { join } from 'node:path';
import type { z } from 'zod';
import { type ErrorCode, isCutoverError } from '../../errors.js';
import type { Runbook, RunbookProblem } from '../../runbook/model.js';
import type { RunResult } from '../../runbook/runner.js';
import { projectOutage } from '../../runbook/timings.js';
import { failed } from '../../json/base.js';
import type { CheckDoc, DemoDoc, RunDoc } from '../../json/shapes-runbook.js';
import type { DemoResult } from '../demo-run.js';

const ref = (r: { env?: string; url?: string }) => ({ ...(r.env ? { env: r.env } : {}), ...(r.url ? { url: r.url } : {}) });
const named = (n: Record<string, { env?: string; url?: string }>) => (Object.keys(n).length ? { named: Object.fromEntries(Object.entries(n).map(([k, r]) => [k, ref(r)])) } : {});

export function checkDoc(rb: Runbook): z.input<typeof CheckDoc> {
  const c = rb.front.connections;
  const o = projectOutage(rb, (s) => s.estimateMs);
  return {
    ok: true, runbook: rb.file, name: rb.front.name, phases: rb.phases,
    connections: {
      source: ref(c.source), target: ref(c.target), ...(c.pooler ? { pooler: ref(c.pooler) } : {}), ...named(c.named),
      ...(c.rehearsal ? { rehearsal: { source: ref(c.rehearsal.source), target: ref(c.rehearsal.target), ...(c.rehearsal.pooler ? { pooler: ref(c.rehearsal.pooler) } : {}), ...named(c.rehearsal.named) } } : {}),
    },
    steps: rb.steps.map((s) => ({
      id: s.id, line: s.line, phase: s.phase, rollback: s.rollback, kind: s.kind, action: s.action, on: s.on,
      parallel: s.parallel, estimateMs: s.estimateMs, title: s.title,
    })),
    markers: rb.markers.map((m) => ({ kind: m.kind, line: m.line, phase: m.phase })),
    outage: { projectedMs: o.projectedMs, budgetMs: o.budgetMs, withinBudget: o.withinBudget, criticalPath: o.criticalPath },
  };
}

export function problemsDoc(message: string, hint: string | undefined, problems: RunbookProblem[]): z.input<typeof CheckDoc> {
  return { ...failed('E_RUNBOOK', message, hint), problems: problems.map((p) => ({ file: p.file, line: p.line, message: p.message })) };
}

/** The failure a run's outcome stands for: the step's error, or the signal that stopped it. */
export function runFailure(r: Pick<RunResult, 'outcome' | 'error' | 'signal'>) {
  if (r.outcome === 'interrupted') return failed('E_INTERRUPTED', `interrupted${r.signal ? ` by ${r.signal}` : ''}`, '--resume goes on where it stopped');
  const code: ErrorCode = isCutoverError(r.error) ? r.error.code : 'E_INTERNAL';
  return failed(code, r.error instanceof Error ? r.error.message : String(r.error), isCutoverError(r.error) ? r.error.hint : undefined);
}

export function runDoc(r: RunResult, stateDir: string, reports: string[] | undefined): z.input<typeof RunDoc> {
  const s = r.summary;
  const fields = {
    mode: s.mode, runbook: s.runbook, name: s.name, outcome: s.outcome, rolledBack: r.rolledBack, ...(r.signal ? { signal: r.signal } : {}),
    stateDir, summary: join(stateDir, 'summary.json'), ...(reports ? { reports } : {}),
    startedAt: s.startedAt, endedAt: s.endedAt, durationMs: s.durationMs,
    outage: { projectedMs: s.outage.projectedMs, budgetMs: s.outage.budgetMs, withinBudget: s.outage.withinBudget, measuredMs: s.outage.measuredMs, criticalPath: s.outage.criticalPath },
    steps: s.steps.map((t) => ({
      id: t.id, title: t.title, phase: t.phase, kind: t.kind, action: t.action, side: t.side, startMs: t.startMs, durationMs: t.durationMs,
      outcome: t.outcome, simulated: t.simulated, rows: t.rows, bytes: t.bytes, summary: t.summary, writeOutageMs: t.writeOutageMs,
    })),
  };
  return r.outcome === 'ok' ? { ...fields, ok: true } : { ...fields, ...runFailure(r) };
}

export function demoDoc(d: DemoResult): z.input<typeof DemoDoc> {
  const fields = {
    outDir: d.outDir, sourceVersion: d.sourceVersion, targetVersion: d.targetVersion, rows: d.rows, writers: d.writers, outcome: d.outcome,
    durationMs: d.durationMs, writeOutageMs: d.writeOutageMs ?? null, applicationCommits: d.applicationCommits, verify: d.verify ?? null,
    rollback: d.rollback ? { outageMs: d.rollback.outageMs, drainedEvents: d.rollback.drainedEvents, verify: d.rollback.verify ?? null } : null,
    files: d.files,
  };
  return d.outcome === 'ok' ? { ...fields, ok: true } : { ...fields, ...runFailure(d) };
}
