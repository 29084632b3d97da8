/**
 * JUnit XML (junit-report-builder): one <testsuite> per target with its properties (kind,
 * firmware SHA-256 per suite, tool versions), <error> for infrastructure failures and
 * <failure> for the others with the failure class as `type`, console + trace in system-out.
 * The file is rewritten after every test, so an interrupted run leaves what finished.
 */
import type { Reporter, TestCase, TestResult } from '@playwright/test/reporter';
import junitModule, { type Builder } from 'junit-report-builder';
import { createRequire } from 'node:module';
import { RecordBook, toRecord, type TestRecord } from './test-record.js';
import { writeFileAtomic } from './write-atomic.js';

export interface JunitReporterOptions {
  readonly outputFile: string;
}

// The package is CommonJS: at run time its default import is the builder itself, which its
// typings (written for a default export) do not express under NodeNext.
const junit = junitModule as unknown as Builder;

const require = createRequire(import.meta.url);
function playwrightVersion(): string {
  try {
    return (require('@playwright/test/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function systemOut(record: TestRecord): string {
  const sections = [
    ['console', record.console],
    ['trace buffer', record.trace],
    ['target log', record.targetLog],
  ] as const;
  const notes = record.annotations
    .filter((annotation) => annotation.type !== 'skip')
    .map((annotation) => `${annotation.type}: ${annotation.description ?? ''}`)
    .join('\n');
  return [
    ...(notes ? [`--- annotations ---\n${notes}`] : []),
    ...(record.flaky ? [`--- passed on attempt ${record.attempt + 1} (flaky) ---`] : []),
    ...sections.map(([name, body]) => `--- ${name} ---\n${body || '(empty)'}`),
  ].join('\n');
}

export function buildJunitXml(records: readonly TestRecord[], repeat: number): string {
  const builder = junit.newBuilder();
  const byTarget = new Map<string, TestRecord[]>();
  for (const record of records) {
    const list = byTarget.get(record.target) ?? [];
    list.push(record);
    byTarget.set(record.target, list);
  }
  for (const [target, list] of byTarget) {
    const suite = builder.testSuite().name(target);
    const properties = new Map<string, string>([
      ['node.version', process.version],
      ['playwright.version', playwrightVersion()],
    ]);
    for (const record of list) {
      if (record.kind) properties.set('target.kind', record.kind);
      if (record.meta) {
        properties.set(`firmware.${record.meta.suite}.label`, record.meta.firmware.label);
        properties.set(`firmware.${record.meta.suite}.sha256`, record.meta.firmware.sha256);
        for (const [key, value] of Object.entries(record.meta.properties)) properties.set(key, value);
      }
    }
    for (const [key, value] of [...properties].sort(([a], [b]) => a.localeCompare(b))) suite.property(key, value);
    suite.time(list.reduce((sum, record) => sum + record.durationMs, 0) / 1000);
    for (const record of list) {
      const name = repeat > 1 ? `${record.title} [repeat ${record.repeatIndex + 1}]` : record.title;
      const testCase = suite
        .testCase()
        .className(`${target}.${record.suite}`)
        .name(name)
        .time(record.durationMs / 1000)
        .standardOutput(systemOut(record));
      if (record.outcome === 'skipped') testCase.skipped();
      else if (record.outcome === 'error') testCase.error(record.message ?? 'error', record.failureClass, record.details);
      else if (record.outcome === 'failed') {
        testCase.failure(record.message ?? 'failed', record.failureClass);
        if (record.details) testCase.stacktrace(record.details);
      }
    }
  }
  return builder.build();
}

export default class JunitReporter implements Reporter {
  private readonly book = new RecordBook();
  private repeat = 1;

  constructor(private readonly options: JunitReporterOptions) {}

  onBegin(config: { projects: { repeatEach: number }[] }): void {
    this.repeat = Math.max(1, ...config.projects.map((project) => project.repeatEach));
    this.write();
  }

  onTestEnd(test: TestCase, result: TestResult): void {
    this.book.add(toRecord(test, result));
    this.write();
  }

  onEnd(): void {
    this.write();
  }

  printsToStdio(): boolean {
    return false;
  }

  private write(): void {
    writeFileAtomic(this.options.outputFile, buildJunitXml(this.book.finished(), this.repeat));
  }
}
