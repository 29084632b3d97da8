import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestResult, TestStep } from '@playwright/test/reporter';
import { classifyErrors, timingOf, type TestRecord } from './test-record.js';
import { buildJunitXml } from './junit-reporter.js';
import { formatTable, summarize } from './summary.js';

test('the failure class comes from the error name, with defaults for unmarked errors', () => {
  assert.equal(classifyErrors('failed', [{ message: 'RemoteCrashedError[protocol]: core 1 faulted' }]), 'protocol');
  assert.equal(classifyErrors('failed', [{ message: 'no marker', stack: 'FirmwareError[firmware]: no announcement\n    at x' }]), 'firmware');
  assert.equal(classifyErrors('failed', [{ message: 'Error: \u001b[2mexpect(\u001b[22mreceived).toBe(expected)' }]), 'assertion');
  assert.equal(classifyErrors('timedOut', [{ message: 'Test timeout of 30000ms exceeded.' }]), 'protocol');
  assert.equal(classifyErrors('timedOut', [{ message: 'Fixture "target" timeout of 600000ms exceeded during setup.' }]), 'infrastructure');
  assert.equal(classifyErrors('failed', [{ message: 'TypeError: x is not a function' }]), 'infrastructure');
});

function record(overrides: Partial<TestRecord>): TestRecord {
  return {
    id: 'x',
    target: 'sim',
    kind: 'sim',
    suite: 'echo',
    title: 't',
    repeatIndex: 0,
    attempt: 0,
    outcome: 'passed',
    flaky: false,
    durationMs: 1500,
    timing: { startMs: 0, workerIndex: 0, setupMs: 100, teardownMs: 50, bodyMs: 1350 },
    failureClass: undefined,
    message: undefined,
    details: undefined,
    skipReason: undefined,
    meta: { target: 'sim', kind: 'sim', suite: 'echo', firmware: { label: 'echo.elf', sha256: 'ab'.repeat(32) }, properties: { 'qemu.version': '8.2' } },
    console: 'hello from uart',
    trace: 'trace line',
    targetLog: '',
    echo: undefined,
    annotations: [],
    ...overrides,
  };
}

test('JUnit: one testsuite per target with properties; <error> for infrastructure, <failure> typed by class', () => {
  const xml = buildJunitXml(
    [
      record({ id: '1', title: 'ok' }),
      record({ id: '2', title: 'bytes', outcome: 'failed', failureClass: 'assertion', message: 'AssertionFailure[assertion]: byte 3', details: 'stack' }),
      record({ id: '3', title: 'boot', outcome: 'error', failureClass: 'infrastructure', message: 'no QEMU' }),
      record({ id: '4', target: 'board', title: 'skipped one', outcome: 'skipped' }),
    ],
    1,
  );
  assert.match(xml, /<testsuite name="sim"[^>]*tests="3" failures="1" errors="1"/);
  assert.match(xml, /<testsuite name="board"[^>]*skipped="1"/);
  assert.match(xml, /<property name="target.kind" value="sim"\/>/);
  assert.match(xml, /<property name="firmware.echo.sha256" value="(ab){32}"\/>/);
  assert.match(xml, /<property name="qemu.version" value="8.2"\/>/);
  assert.match(xml, /<failure message="AssertionFailure\[assertion\]: byte 3" type="assertion"/);
  assert.match(xml, /<error message="no QEMU" type="infrastructure"/);
  assert.match(xml, /--- console ---\nhello from uart\n--- trace buffer ---\ntrace line/);
});

test('the summary counts target x suite and skips are never passes', () => {
  const rows = summarize([
    record({ id: '1' }),
    record({ id: '2', outcome: 'skipped' }),
    record({ id: '3', outcome: 'failed', failureClass: 'protocol' }),
    record({ id: '4', suite: 'lifecycle', outcome: 'error', failureClass: 'infrastructure' }),
    record({ id: '5', outcome: 'interrupted' }),
  ]);
  assert.deepEqual(
    rows.map((row) => [row.target, row.suite, row.passed, row.failed, row.error, row.skipped]),
    [
      ['sim', 'echo', 1, 1, 0, 1],
      ['sim', 'lifecycle', 0, 0, 1, 0],
    ],
  );
  assert.match(formatTable(rows), /total\s+1\s+1\s+1\s+1\s+6\.0s/);
});

test('timing: fixture set-up and teardown are the hook steps, the body is the rest of the duration', () => {
  const step = (category: string, title: string, duration: number) => ({ category, title, duration }) as TestStep;
  const result = {
    startTime: new Date(1_700_000_000_000),
    workerIndex: 3,
    duration: 500,
    steps: [step('hook', 'Before Hooks', 120), step('test.step', 'exchange', 300), step('expect', 'toBe', 1), step('hook', 'After Hooks', 30)],
  } as unknown as TestResult;
  assert.deepEqual(timingOf(result), { startMs: 1_700_000_000_000, workerIndex: 3, setupMs: 120, teardownMs: 30, bodyMs: 350 });
});
