/**
 * The Playwright configuration `farm report merge` hands to `playwright merge-reports`: the
 * farm's own reporters, so the merged out dir has the same JUnit, metrics, HTML report and
 * summary a single run writes. The out dir comes from FARM_MERGE_OUT.
 */
import { defineConfig } from '@playwright/test';
import { fileURLToPath } from 'node:url';
import { InfrastructureError } from '../base/errors.js';
import { reportPaths } from '../reports/paths.js';
import { MERGE_OUT_ENV } from './report-command.js';

const outDir = process.env[MERGE_OUT_ENV];
if (!outDir) throw new InfrastructureError(`${MERGE_OUT_ENV} is not set: merge reports with \`farm report merge\``);
const paths = reportPaths(outDir);
const here = (relativePath: string) => fileURLToPath(new URL(relativePath, import.meta.url));

export default defineConfig({
  reporter: [
    [here('../reports/progress-reporter.js'), { outDir }],
    [here('../reports/junit-reporter.js'), { outputFile: paths.junit }],
    [here('../reports/metrics-reporter.js'), { outputFile: paths.metrics }],
    [here('../reports/html-reporter.js'), { outputFile: paths.htmlReport }],
    ['html', { open: 'never', outputFolder: paths.html }],
  ],
});
