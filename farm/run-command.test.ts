import assert from 'node:assert/strict';
import { test } from 'node:test';
import { suitesNeedTransform } from './run-command.js';

test('Playwright compiles the spec files only when one is not plain JavaScript', () => {
  assert.equal(suitesNeedTransform([{ files: ['/farm/dist/suites/echo.spec.js'] }, { files: ['/lab/a.spec.mjs', '/lab/b.spec.cjs'] }]), false);
  assert.equal(suitesNeedTransform([{ files: ['/farm/dist/suites/echo.spec.js'] }, { files: ['/lab/blink.spec.ts'] }]), true);
  assert.equal(suitesNeedTransform([{ files: ['/lab/blink.spec.mts'] }]), true);
  assert.equal(suitesNeedTransform([]), false);
});
