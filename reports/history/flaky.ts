/**
 * Flaky tests: a test that both passed and failed on the same firmware (SHA-256) and target,
 * across runs or across the attempts of one run, is flaky: the firmware did not change, the
 * verdict did. A failure on a firmware that never passed is a plain failure, not a flake.
 */
import type { ResultRow } from './history-store.js';

export interface FlakyTest {
  readonly target: string;
  readonly suite: string;
  readonly title: string;
  /** Passed + failed attempts on the firmware builds that were flaky. */
  readonly executions: number;
  readonly failures: number;
  /** failures / executions on those builds. */
  readonly flakeRate: number;
  /** The firmware builds (SHA-256) it flaked on. */
  readonly firmware: readonly string[];
  /** The last failure's class and message. */
  readonly lastFailure: string | null;
  readonly lastSeen: string;
}

export interface TargetFlakiness {
  readonly target: string;
  readonly tests: number;
  readonly flakyTests: number;
  readonly executions: number;
  /** Failures of flaky tests (not of plainly broken ones). */
  readonly flakyFailures: number;
  /** flakyFailures / executions: how often a run on this target fails for no firmware reason. */
  readonly flakeRate: number;
}

/** The key a known-flaky test has: target, suite and title. */
export function testKey(test: { readonly target: string; readonly suite: string; readonly title: string }): string {
  return `${test.target}\u0000${test.suite}\u0000${test.title}`;
}

const isFailure = (outcome: ResultRow['outcome']) => outcome === 'failed' || outcome === 'error';

export function findFlakyTests(results: readonly ResultRow[]): FlakyTest[] {
  const builds = new Map<string, { passed: number; failed: number; results: ResultRow[] }>();
  for (const result of results) {
    if (result.outcome === 'skipped') continue;
    const key = `${testKey(result)}\u0000${result.firmwareSha256 ?? ''}`;
    const build = builds.get(key) ?? { passed: 0, failed: 0, results: [] };
    if (isFailure(result.outcome)) build.failed++;
    else build.passed++;
    build.results.push(result);
    builds.set(key, build);
  }
  const tests = new Map<string, { executions: number; failures: number; firmware: string[]; rows: ResultRow[] }>();
  for (const build of builds.values()) {
    // Without a firmware hash (the target never got to load one) nothing says the builds match.
    if (build.passed === 0 || build.failed === 0 || !build.results[0]?.firmwareSha256) continue;
    const first = build.results[0];
    const key = testKey(first);
    const test = tests.get(key) ?? { executions: 0, failures: 0, firmware: [], rows: [] };
    test.executions += build.passed + build.failed;
    test.failures += build.failed;
    test.firmware.push(first.firmwareSha256 as string);
    test.rows.push(...build.results);
    tests.set(key, test);
  }
  return [...tests.values()]
    .map((test) => {
      const rows = [...test.rows].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
      const lastFailure = rows.filter((row) => isFailure(row.outcome)).at(-1);
      const first = rows[0] as ResultRow;
      return {
        target: first.target,
        suite: first.suite,
        title: first.title,
        executions: test.executions,
        failures: test.failures,
        flakeRate: test.failures / test.executions,
        firmware: test.firmware,
        lastFailure: lastFailure ? `${lastFailure.failureClass ?? lastFailure.outcome}: ${lastFailure.message ?? ''}`.trim() : null,
        lastSeen: (rows.at(-1) as ResultRow).startedAt,
      };
    })
    .sort((a, b) => b.flakeRate - a.flakeRate || a.target.localeCompare(b.target) || a.suite.localeCompare(b.suite) || a.title.localeCompare(b.title));
}

export function flakinessByTarget(results: readonly ResultRow[], flaky: readonly FlakyTest[] = findFlakyTests(results)): TargetFlakiness[] {
  const flakyKeys = new Set(flaky.map(testKey));
  const targets = new Map<string, { tests: Set<string>; executions: number; flakyFailures: number }>();
  for (const result of results) {
    if (result.outcome === 'skipped') continue;
    const target = targets.get(result.target) ?? { tests: new Set<string>(), executions: 0, flakyFailures: 0 };
    const key = testKey(result);
    target.tests.add(key);
    target.executions++;
    if (isFailure(result.outcome) && flakyKeys.has(key)) target.flakyFailures++;
    targets.set(result.target, target);
  }
  return [...targets.entries()]
    .map(([target, t]) => ({
      target,
      tests: t.tests.size,
      flakyTests: [...t.tests].filter((key) => flakyKeys.has(key)).length,
      executions: t.executions,
      flakyFailures: t.flakyFailures,
      flakeRate: t.executions ? t.flakyFailures / t.executions : 0,
    }))
    .sort((a, b) => a.target.localeCompare(b.target));
}
