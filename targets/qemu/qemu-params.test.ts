import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../base/errors.js';
import { QEMU_PARAM_DEFAULTS, parseQemuParams } from './qemu-params.js';

test('QEMU params: defaults (uart pty, doorbell uart), uart socket, doorbell poll, fractional pollBurstMs, 0 = timer polling only, bad values name the field', () => {
  assert.deepEqual(parseQemuParams(undefined, 'targets.q.params'), QEMU_PARAM_DEFAULTS);
  assert.deepEqual(QEMU_PARAM_DEFAULTS, { uart: 'pty', doorbell: 'uart', uartSafetyPollMs: 20, uartBurstMs: 0, pollIntervalMs: 1, pollBurstMs: 0.2, stallTimeoutMs: 1000, container: undefined });
  assert.equal(parseQemuParams({ uart: 'socket' }, 'p').uart, 'socket');
  assert.equal(parseQemuParams({ uart: 'pty' }, 'p').uart, 'pty');
  assert.equal(parseQemuParams({ doorbell: 'poll' }, 'p').doorbell, 'poll');
  assert.equal(parseQemuParams({ uartSafetyPollMs: 50 }, 'p').uartSafetyPollMs, 50);
  assert.equal(parseQemuParams({ uartBurstMs: 0.2 }, 'p').uartBurstMs, 0.2);
  assert.equal(parseQemuParams({ pollBurstMs: 0.5 }, 'p').pollBurstMs, 0.5);
  assert.equal(parseQemuParams({ pollBurstMs: 0 }, 'p').pollBurstMs, 0);
  for (const [raw, field] of [
    [{ pollBurstMs: -1 }, 'p.pollBurstMs'],
    [{ pollBurstMs: '1' }, 'p.pollBurstMs'],
    [{ pollIntervalMs: 0.5 }, 'p.pollIntervalMs'],
    [{ uart: 'tcp' }, 'p.uart'],
    [{ uart: true }, 'p.uart'],
    [{ doorbell: 'ivshmem' }, 'p.doorbell'],
    [{ doorbell: 1 }, 'p.doorbell'],
    [{ uartSafetyPollMs: 0 }, 'p.uartSafetyPollMs'],
    [{ uartSafetyPollMs: 2.5 }, 'p.uartSafetyPollMs'],
    [{ uartBurstMs: 101 }, 'p.uartBurstMs'],
    [{ container: '' }, 'p.container'],
    [{ container: 'Bad Image' }, 'p.container'],
    [{ container: 7 }, 'p.container'],
    [{ container: 'qemu', uart: 'pty' }, 'p.uart'],
  ] as const) {
    assert.throws(() => parseQemuParams(raw, 'p'), (error: unknown) => error instanceof ConfigError && error.message.includes(field));
  }
});

test('QEMU params: container takes a recipe or a local image reference and makes the UART a socket', () => {
  assert.deepEqual(parseQemuParams({ container: 'qemu' }, 'p'), { ...QEMU_PARAM_DEFAULTS, container: 'qemu', uart: 'socket' });
  assert.equal(parseQemuParams({ container: 'xilinx/qemu:2024.2' }, 'p').container, 'xilinx/qemu:2024.2');
  assert.equal(parseQemuParams({ container: 'localhost:5000/vendor/qemu@sha256:' + 'a'.repeat(64) }, 'p').container, 'localhost:5000/vendor/qemu@sha256:' + 'a'.repeat(64));
  assert.throws(() => parseQemuParams({ container: 'qemu', uart: 'pty' }, 'p'), /pty is not reachable from outside a container: use socket/);
});
