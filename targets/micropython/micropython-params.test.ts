import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../base/errors.js';
import { parseMicroPythonParams } from './micropython-params.js';

test('the stm32h747 preset: image flashed to 0x08100000 and started by address, files in /flash', () => {
  const params = parseMicroPythonParams({ port: '/dev/serial/by-id/usb-Arduino_Portenta_H7-if00' }, 'targets[0].params');
  assert.equal(params.preset, 'stm32h747');
  assert.equal(params.firmwareLoad, 'entry');
  assert.equal(params.entry, 0x0810_0000);
  assert.equal(params.boardDir, '/flash');
  assert.equal(params.baudRate, 115_200);
  assert.equal(params.rawPaste, true);
  assert.equal(params.power, undefined);
});

test('mistakes name the field', () => {
  assert.throws(() => parseMicroPythonParams(undefined, 'targets[0].params'), (error: unknown) => error instanceof ConfigError && /needs at least port/.test(error.message));
  assert.throws(() => parseMicroPythonParams({ port: 3 }, 'p'), /p\.port/);
  assert.throws(() => parseMicroPythonParams({ port: '/dev/x', preset: 'rp2040' }, 'p'), /p\.preset: must be one of stm32h747/);
  assert.throws(() => parseMicroPythonParams({ port: '/dev/x', firmwareLoad: 'dfu' }, 'p'), /p\.firmwareLoad/);
  assert.throws(() => parseMicroPythonParams({ port: '/dev/x', boardDir: 'flash' }, 'p'), /p\.boardDir/);
  assert.throws(() => parseMicroPythonParams({ port: '/dev/x', colour: 'red' }, 'p'), /p\.colour: unknown parameter/);
  assert.throws(() => parseMicroPythonParams({ port: '/dev/x', flasher: { tool: 'dfu-util' } }, 'p'), /p\.flasher/);
});
