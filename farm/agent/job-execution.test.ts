/** The verdict of a farm job from the JUnit file its run wrote. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from './job-execution.js';
import { parseRequirement } from '../farm-run.js';

const junit = (cases: string) => `<?xml version="1.0"?><testsuites><testsuite name="b" tests="2">${cases}</testsuite></testsuites>`;
const ok = '<testcase classname="b.echo" name="echoes" time="1"/>';

test('all passed (or skipped) is passed; a firmware or assertion failure is failed', () => {
  assert.deepEqual(classify(junit(`${ok}<testcase classname="b.echo" name="s"><skipped/></testcase>`), 0, false), { outcome: 'passed', summary: '1 passed, 0 failed, 0 error, 1 skipped', error: null });
  const failed = classify(junit(`${ok}<testcase classname="b.echo" name="bad"><failure type="protocol" message="byte 3 differs"/></testcase>`), 1, false);
  assert.equal(failed.outcome, 'failed');
  assert.equal(failed.error, 'bad: byte 3 differs');
});

test('an infrastructure error, an interrupted test, no report or an empty one is an infrastructure error', () => {
  assert.equal(classify(junit(`<testcase classname="b.echo" name="x"><error type="infrastructure" message="board did not boot"/></testcase>`), 1, false).outcome, 'infra-error');
  assert.equal(classify(junit(`<testcase classname="b.echo" name="x"><error type="interrupted" message="runner died"/></testcase>`), 1, false).outcome, 'infra-error');
  assert.match(classify(undefined, 1, false).error ?? '', /no JUnit report \(exit code 1\)/);
  assert.equal(classify(junit(''), 0, false).outcome, 'infra-error');
  assert.equal(classify(junit(ok), 139, false).outcome, 'infra-error', 'a runner that crashed after passing tests is not a pass');
  assert.equal(classify(junit(ok), 130, true).outcome, 'cancelled');
});

test('--require items: kind=, soc=, instrument= (repeatable); anything else is a usage error', () => {
  assert.deepEqual(parseRequirement(['kind=sim', 'soc=stm32mp157', 'instrument=power-meter', 'instrument=scope']), { kind: 'sim', soc: 'stm32mp157', instruments: ['power-meter', 'scope'] });
  assert.equal(parseRequirement([]), undefined);
  assert.throws(() => parseRequirement(['board=x']), /--require: "board=x": expected kind=NAME, soc=NAME or instrument=NAME/);
});
