/**
 * The Playwright Test configuration `farm run` launches: one project per selected target,
 * whose spec files are the suites that target runs. Everything comes from the run plan the
 * CLI wrote (FARM_RUN_PLAN).
 */
import { defineConfig } from '@playwright/test';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRunPlan } from './run-plan.js';
import { reportPaths } from '../reports/paths.js';

const plan = readRunPlan();
const paths = reportPaths(plan.outDir);
const here = (relativePath: string) => fileURLToPath(new URL(relativePath, import.meta.url));
const escape = (value: string) => value.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');

export default defineConfig({
  // One entry file per spec file, built-in or user suite, in <suite>/ folders (suite-entries.ts).
  testDir: plan.suitesDir,
  ...(plan.grep !== null ? { grep: new RegExp(plan.grep) } : {}),
  ...(plan.grepInvert !== null ? { grepInvert: new RegExp(plan.grepInvert) } : {}),
  outputDir: paths.testResults,
  timeout: plan.timeoutMs,
  retries: plan.retries,
  repeatEach: plan.repeat,
  workers: plan.workers,
  ...(plan.shard ? { shard: plan.shard } : {}),
  fullyParallel: false,
  forbidOnly: true,
  reporter: [
    [here('../reports/progress-reporter.js'), { outDir: plan.outDir, history: plan.history ?? null }],
    [here('../reports/junit-reporter.js'), { outputFile: paths.junit, history: plan.history ?? null }],
    [here('../reports/history-reporter.js'), { outputFile: paths.history, outDir: plan.outDir, history: plan.history ?? null }],
    [here('../reports/metrics-reporter.js'), { outputFile: paths.metrics }],
    [here('../reports/html-reporter.js'), { outputFile: paths.htmlReport, history: plan.history ?? null }],
    ['html', { open: 'never', outputFolder: paths.html }],
    // A shard also keeps everything it saw, for `farm report merge` to make one report of all shards.
    ...(plan.shard ? [['blob', { outputDir: paths.blob }] as ['blob', { outputDir: string }]] : []),
  ],
  projects: plan.targets.map((target) => ({
    name: target.name,
    testMatch: target.suites.map((suite) => new RegExp(`^${escape(join(plan.suitesDir, suite, sep))}[^\\\\/]+\\.js$`)),
    // A target is one machine: its tests run one at a time, in one worker.
    workers: 1,
    metadata: { kind: target.kind },
  })),
});
