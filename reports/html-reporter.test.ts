import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { RecordBook, type TestRecord } from './test-record.js';
import { buildHtmlReport, escapeHtml, readablePath, tail, TAIL_LINES } from './html-reporter.js';
import { formatDuration } from './summary.js';

function record(overrides: Partial<TestRecord>): TestRecord {
  return {
    id: 'x',
    target: 'lp',
    kind: 'linux-process',
    suite: 'echo',
    title: 'echoes 480 payloads',
    repeatIndex: 0,
    attempt: 0,
    outcome: 'passed',
    flaky: false,
    durationMs: 3600,
    timing: { startMs: 0, workerIndex: 0, setupMs: 2400, teardownMs: 100, bodyMs: 1100 },
    failureClass: undefined,
    message: undefined,
    details: undefined,
    skipReason: undefined,
    meta: { target: 'lp', kind: 'linux-process', suite: 'echo', firmware: { label: 'echo', sha256: 'cd'.repeat(32), path: '/fw/echo' }, properties: {} },
    console: '',
    trace: '',
    targetLog: '',
    echo: undefined,
    flood: undefined,
    annotations: [],
    ...overrides,
  };
}

test('HTML report: failures first with class, firmware and the tails of console, trace and target log before the stack; readable titles, paths and the CLI\'s durations', () => {
  const longConsole = Array.from({ length: 45 }, (_, index) => `uart line ${index + 1}`).join('\n') + '\n';
  const book = new RecordBook();
  book.add(record({ id: 'ok', title: 'passes' }));
  book.add(
    record({
      id: 'bad',
      suite: 'lifecycle',
      title: 'a crashed remote is detected',
      outcome: 'failed',
      failureClass: 'protocol',
      message: 'RemoteCrashedError[protocol]: core faulted <script>alert(1)</script>',
      details: 'RemoteCrashedError[protocol]: core faulted\n    at farm/fixtures.ts:10',
      console: longConsole,
      trace: 'trace: vring 0 kick\npassword=hunter22\n',
      targetLog: 'setting up lp\n',
    }),
  );
  const files = new Map([['ok', 'suites/echo.spec.ts'], ['bad', 'suites/lifecycle.spec.ts']]);
  const html = buildHtmlReport({ status: 'failed', startedAt: '2026-12-03T10:00:00.000Z', durationMs: 7200, entries: book.entries(), files, targetOrder: ['lp'], history: null });

  const at = (text: string) => {
    const index = html.indexOf(text);
    assert.ok(index >= 0, `report has ${text}`);
    return index;
  };
  // The failure view comes before the summary and the list, and inside it the logs before the stack.
  assert.ok(at('Failures (1)') < at('<h2>Summary</h2>'));
  assert.ok(at('lp › lifecycle › a crashed remote is detected') < at('<h2>Summary</h2>'));
  assert.ok(at('failed: protocol') < at('<h4>console'));
  assert.ok(at(`sha256 ${'cd'.repeat(32)}`) < at('<h4>console'));
  assert.ok(at('<h4>console') < at('<h4>trace buffer') && at('<h4>trace buffer') < at('<h4>target log'));
  assert.ok(at('<h4>target log') < at('<summary>error and stack</summary>'));
  // The console tail: its last TAIL_LINES lines first, the full console further down.
  assert.ok(at(`(last ${TAIL_LINES} lines; 15 earlier below)`) < at('uart line 45'));
  assert.ok(html.indexOf('uart line 1\n') > at('<summary>full console</summary>'));
  // Readable: "target › suite › test", the spec relative to the checkout, the CLI's durations.
  assert.match(html, /<code>suites\/lifecycle\.spec\.ts<\/code>/);
  assert.doesNotMatch(html, /\.\.\/\.\.\/suites/);
  assert.match(html, /lp › echo › passes/);
  assert.ok(html.includes(`${formatDuration(3600)} <span class="muted">(set-up ${formatDuration(2400)}, body ${formatDuration(1100)}, teardown ${formatDuration(100)})`));
  assert.match(html, /started 2026-12-03 10:00:00 UTC, 7\.2s/);
  // Remote text is text, and secrets are masked.
  assert.doesNotMatch(html, /<script>alert/);
  assert.match(html, /&#60;script&#62;alert\(1\)&#60;\/script&#62;/);
  assert.doesNotMatch(html, /hunter22/);
});

test('HTML report helpers: escaping, tails, spec paths relative to the checkout', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
  assert.deepEqual(tail('a\nb\nc\n', 2), { text: 'b\nc', cut: 1 });
  assert.deepEqual(tail('a\nb\n', 5), { text: 'a\nb', cut: 0 });
  const checkout = fileURLToPath(new URL('../../', import.meta.url));
  assert.equal(readablePath(`${checkout}suites/echo.spec.ts`, '/elsewhere'), 'suites/echo.spec.ts');
  assert.equal(readablePath('/lab/suites/mine.spec.ts', '/lab'), 'suites/mine.spec.ts');
  assert.equal(readablePath('/other/x.spec.ts', '/lab'), '/other/x.spec.ts');
});
