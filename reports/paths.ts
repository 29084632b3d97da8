import { basename, dirname, join } from 'node:path';

/** The folder of the out dir holding the entry file of every spec file a run runs (farm/suite-entries.ts). */
export const RUN_SUITES_DIR = 'run-suites';

/** Where a run writes its reports, under its out dir. */
export function reportPaths(outDir: string) {
  return {
    junit: join(outDir, 'junit.xml'),
    /** Playwright's HTML report (with its trace viewer). */
    html: join(outDir, 'html'),
    /** The farm's own HTML report: failures first, the CLI's durations. */
    htmlReport: join(outDir, 'report.html'),
    metrics: join(outDir, 'metrics.json'),
    testResults: join(outDir, 'test-results'),
    plan: join(outDir, 'run-plan.json'),
    history: join(outDir, 'history.json'),
    liveEvents: join(outDir, 'live-events.jsonl'),
    suites: join(outDir, RUN_SUITES_DIR),
    /** Playwright's blob report of a sharded run, what `farm report merge` merges. */
    blob: join(outDir, 'blob'),
  };
}

/** The suite of a run's entry file (`<out>/run-suites/<suite>/<file>.js`), or undefined for any other file. */
export function suiteOfEntry(file: string): string | undefined {
  const dir = dirname(file);
  return basename(dirname(dir)) === RUN_SUITES_DIR ? basename(dir) : undefined;
}
