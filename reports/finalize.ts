/**
 * After the Playwright runner exited: reports it left saying "running" (the runner was killed,
 * e.g. a second Ctrl-C, before its onEnd) are marked "interrupted", and reports it never wrote
 * (killed before onBegin) are written as an interrupted run, so no out dir passes for a run
 * that completed. `farm run` calls it in the CLI process, which outlives the runner.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './write-atomic.js';
import { xmlDocument } from './xml.js';
import { INTERRUPTED_MESSAGE, INTERRUPTED_TYPE, RUN_STATUS_PROPERTY } from './junit-reporter.js';

export interface PlannedTarget {
  readonly name: string;
  readonly kind: string;
}

const RUNNING_PROPERTY = `<property name="${RUN_STATUS_PROPERTY}" value="running"/>`;
const INTERRUPTED_PROPERTY = `<property name="${RUN_STATUS_PROPERTY}" value="interrupted"/>`;

function finalizeJunit(file: string, targets: readonly PlannedTarget[]): void {
  if (existsSync(file)) {
    const xml = readFileSync(file, 'utf8');
    // The reporter wrote every test already (running ones as interrupted errors, the rest as
    // "run interrupted: not run"); only the run's status is left to say.
    if (xml.includes(RUNNING_PROPERTY)) writeFileAtomic(file, xml.split(RUNNING_PROPERTY).join(INTERRUPTED_PROPERTY));
    return;
  }
  const suites = targets.map((target) => ({
    name: 'testsuite',
    attributes: { name: target.name, tests: 1, failures: 0, errors: 1, skipped: 0, time: 0 },
    children: [
      {
        name: 'properties',
        children: [
          { name: 'property', attributes: { name: RUN_STATUS_PROPERTY, value: 'interrupted' } },
          { name: 'property', attributes: { name: 'target.kind', value: target.kind } },
        ],
      },
      {
        name: 'testcase',
        attributes: { classname: target.name, name: '(run)', time: 0 },
        children: [{ name: 'error', attributes: { message: `${INTERRUPTED_MESSAGE} (before any test was planned)`, type: INTERRUPTED_TYPE } }],
      },
    ],
  }));
  writeFileAtomic(
    file,
    xmlDocument({
      name: 'testsuites',
      attributes: { name: 'farm', tests: targets.length, failures: 0, errors: targets.length, skipped: 0, time: 0 },
      children: suites,
    }),
  );
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
