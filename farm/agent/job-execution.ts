/**
 * One farm job on this agent: the job's suite on one of the agent's targets, through the same
 * runner as a local `farm run` (Playwright, fixtures, reporters), into a scratch out dir; then
 * the verdict for the coordinator, read from the JUnit file the run wrote:
 *  - passed: every test passed (or was skipped for a capability the target lacks);
 *  - failed: a test failed or errored for a reason of the firmware, protocol or assertion;
 *  - infra-error: the target or the runner failed (an <error type="infrastructure">, no report,
 *    or a runner that died): retried elsewhere and counted against the place's health;
 *  - cancelled: the job was stopped (its run was cancelled, or the agent is stopping).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJunit } from '../../reports/junit-reader.js';
import { reportPaths } from '../../reports/paths.js';
import type { FarmConfig, TargetConfig } from '../config.js';
import type { RunPlan } from '../run-plan.js';
import { runPlan, type RunHistoryOptions } from '../run-command.js';
import { selectRun } from '../selection.js';
import type { Job, JobReport } from '../coordinator/coordinator.js';

// A Playwright HTML report larger than this is not uploaded (its path is said instead).
const MAX_HTML_BYTES = 32 * 1024 * 1024;

export interface JobExecutionOptions {
  readonly signal: AbortSignal;
  readonly onOutput: (text: string) => void;
  /** The farm database: the job's results go into its run history (null: none kept). */
  readonly historyUrl: string | null;
}

/** How the job's run keeps its history: in the farm database, as the job it is. */
export function jobHistory(job: Job, config: FarmConfig, historyUrl: string | null): RunHistoryOptions {
  return {
    location: historyUrl,
    firmwareRev: job.options.firmwareRev ?? null,
    failOnRegression: job.options.failOnRegression === true || config.history.failOnRegression,
    perf: { baselineRuns: config.history.baselineRuns, minRuns: config.history.minRuns, mads: config.history.mads, minBand: config.history.minBand },
    farmJob: job.id,
  };
}

/** The plan of a local run of the job: the same selection `farm run --target PLACE --suite SUITE` makes. */
export function jobPlan(job: Job, target: TargetConfig, config: FarmConfig, outDir: string): RunPlan {
  return selectRun(config, {
    targets: [target.name],
    suites: [job.suite],
    repeat: job.options.repeat === undefined ? undefined : String(job.options.repeat),
    retries: job.options.retries === undefined ? undefined : String(job.options.retries),
    workers: '1',
    out: outDir,
  }).plan;
}

export function classify(junitXml: string | undefined, exitCode: number, cancelled: boolean): Pick<JobReport, 'outcome' | 'summary' | 'error'> {
  if (cancelled) return { outcome: 'cancelled', summary: 'stopped before it ended', error: 'cancelled' };
  if (junitXml === undefined) return { outcome: 'infra-error', summary: 'no report', error: `the runner wrote no JUnit report (exit code ${exitCode})` };
  const cases = readJunit(junitXml).suites.flatMap((suite) => suite.cases);
  const passed = cases.filter((entry) => !entry.failure && !entry.error && !entry.skipped).length;
  const failed = cases.filter((entry) => entry.failure).length;
  const errors = cases.filter((entry) => entry.error);
  const skipped = cases.filter((entry) => entry.skipped).length;
  const summary = `${passed} passed, ${failed} failed, ${errors.length} error, ${skipped} skipped`;
  const infra = errors.find((entry) => entry.error?.attributes.type === 'infrastructure' || entry.error?.attributes.type === 'interrupted');
  if (infra) return { outcome: 'infra-error', summary, error: `${infra.attributes.name}: ${infra.error?.attributes.message ?? 'infrastructure error'}` };
  if (cases.length === 0) return { outcome: 'infra-error', summary, error: `the report lists no test (exit code ${exitCode})` };
  const first = cases.find((entry) => entry.failure ?? entry.error);
  if (first) return { outcome: 'failed', summary, error: `${first.attributes.name}: ${(first.failure ?? first.error)?.attributes.message ?? 'failed'}` };
  if (exitCode !== 0) return { outcome: 'infra-error', summary, error: `every test passed but the runner exited with ${exitCode}` };
  return { outcome: 'passed', summary, error: null };
}

export async function executeJob(job: Job, target: TargetConfig, config: FarmConfig, outDir: string, options: JobExecutionOptions): Promise<JobReport> {
  const plan = jobPlan(job, target, config, outDir);
  const result = await runPlan(plan, jobHistory(job, config, options.historyUrl), { signal: options.signal, onOutput: options.onOutput, handleSignals: false });
  const paths = reportPaths(outDir);
  const junit = existsSync(paths.junit) ? readFileSync(paths.junit, 'utf8') : undefined;
  let metrics: unknown = null;
  try {
    metrics = existsSync(paths.metrics) ? JSON.parse(readFileSync(paths.metrics, 'utf8')) : null;
  } catch {
    metrics = null;
  }
  const htmlFile = join(paths.html, 'index.html');
  let html: string | null = null;
  if (existsSync(htmlFile)) {
    const text = readFileSync(htmlFile, 'utf8');
    html = text.length <= MAX_HTML_BYTES ? text : null;
  }
  return { ...classify(junit, result.exitCode, options.signal.aborted), exitCode: result.exitCode, junit: junit ?? null, metrics, html };
}
