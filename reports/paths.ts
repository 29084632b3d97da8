import { join } from 'node:path';

/** Where a run writes its reports, under its out dir. */
export function reportPaths(outDir: string) {
  return {
    junit: join(outDir, 'junit.xml'),
    html: join(outDir, 'html'),
    /** The farm's own report; Playwright's (with its trace viewer) is in html/playwright/. */
    htmlReport: join(outDir, 'html', 'index.html'),
    playwrightHtml: join(outDir, 'html', 'playwright'),
    metrics: join(outDir, 'metrics.json'),
    testResults: join(outDir, 'test-results'),
    plan: join(outDir, 'run-plan.json'),
    history: join(outDir, 'history.json'),
    liveEvents: join(outDir, 'live-events.jsonl'),
  };
}
