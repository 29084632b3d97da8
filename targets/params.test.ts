import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../base/errors.js';
import { integerParam, paramsRecord } from './params.js';

test('paramsRecord: absent params are undefined, a mapping of known keys is returned as is', () => {
  assert.equal(paramsRecord(undefined, 'targets[0].params', ['a']), undefined);
  assert.equal(paramsRecord(null, 'targets[0].params', ['a']), undefined);
  const raw = { a: 1 };
  assert.equal(paramsRecord(raw, 'targets[0].params', ['a', 'b']), raw);
});

test('paramsRecord: a non-mapping or an unknown key is a ConfigError naming the field', () => {
  for (const raw of [3, 'x', [1]]) {
    assert.throws(() => paramsRecord(raw, 'targets[0].params', ['a']), (error: unknown) => error instanceof ConfigError && error.field === 'targets[0].params' && /must be a mapping/.test(error.detail));
  }
  assert.throws(
    () => paramsRecord({ a: 1, c: 2 }, 'targets[0].params', ['a', 'b']),
    (error: unknown) => error instanceof ConfigError && error.field === 'targets[0].params.c' && error.detail === 'unknown parameter (known: a, b)',
  );
});

test('integerParam: the fallback when absent, the value inside the range, a ConfigError otherwise', () => {
  const range = { min: 1, max: 10 };
  assert.equal(integerParam({}, 'n', 'p', range, 7), 7);
  assert.equal(integerParam({ n: 1 }, 'n', 'p', range, 7), 1);
  assert.equal(integerParam({ n: 10 }, 'n', 'p', range, 7), 10);
  for (const n of [0, 11, 2.5, '3', null, Number.NaN]) {
    assert.throws(
      () => integerParam({ n }, 'n', 'p', range, 7),
      (error: unknown) => error instanceof ConfigError && error.field === 'p.n' && error.detail.startsWith('must be an integer from 1 to 10, got '),
    );
  }
});
