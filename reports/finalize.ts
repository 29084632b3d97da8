/**
 * After the Playwright runner exited: reports it left saying "running" (the runner was killed,
 * e.g. a second Ctrl-C, before its onEnd) are marked "interrupted", and reports it never wrote
 * (killed before onBegin) are written as an interrupted run, so no out dir passes for a run
 * that completed. `farm run` calls it in the CLI process, which outlives the runner.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './write-atomic.js';
import { buildJunitXml, RUN_STATUS_PROPERTY } from './junit-reporter.js';
import type { TestEntry } from './test-record.js';

export interface PlannedTarget {
  readonly name: string;
  readonly kind: string;
}

// The property as the builder writes it (junit-report-builder: name, then value).
const RUNNING_PROPERTY = `<property name="${RUN_STATUS_PROPERTY}" value="running"/>`;
const INTERRUPTED_PROPERTY = `<property name="${RUN_STATUS_PROPERTY}" value="interrupted"/>`;

function finalizeJunit(file: string, targets: readonly PlannedTarget[]): void {
  if (existsSync(file)) {
    const xml = readFileSync(file, 'utf8');
    // The reporter wrote every test already (running ones as interrupted errors, the rest as
    // skipped "run interrupted: not run"); only the run's status is left to say.
    if (xml.includes(RUNNING_PROPERTY)) writeFileAtomic(file, xml.split(RUNNING_PROPERTY).join(INTERRUPTED_PROPERTY));
    return;
  }
  // No test was planned: each target gets one "(run)" test, interrupted while it ran.
  const entries: TestEntry[] = targets.map((target) => ({
    test: { id: target.name, target: target.name, kind: target.kind, suite: '(run)', title: '(run) interrupted before any test was planned', repeatIndex: 0 },
    attempts: [],
    running: true,
  }));
  writeFileAtomic(file, buildJunitXml(entries, 1, 'interrupted'));
}

function finalizeMetrics(file: string): void {
  if (existsSync(file)) {
    let metrics: { status?: unknown } & Record<string, unknown>;
    try {
      metrics = JSON.parse(readFileSync(file, 'utf8')) as typeof metrics;
    } catch {
      metrics = {};
    }
    if (metrics.status !== 'running' && metrics.status !== undefined) return;
    writeFileAtomic(file, `${JSON.stringify({ ...metrics, status: 'interrupted' }, null, 2)}\n`);
    return;
  }
  const metrics = { startedAt: null, status: 'interrupted', run: null, tests: [], interrupted: [], notRun: [], echo: [] };
  writeFileAtomic(file, `${JSON.stringify(metrics, null, 2)}\n`);
}

/** Marks the reports of a run whose runner exited without ending it as interrupted. */
export function finalizeInterruptedReports(paths: { readonly junit: string; readonly metrics: string }, targets: readonly PlannedTarget[]): void {
  finalizeJunit(paths.junit, targets);
  finalizeMetrics(paths.metrics);
}
