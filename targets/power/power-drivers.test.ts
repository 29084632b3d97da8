import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../base/errors.js';
import { InfrastructureError } from '../../base/errors.js';
import { recordingTool } from '../../base/process/recording-tool.test-helper.js';
import { createPower, parsePowerWord } from './power-drivers.js';
import { parsePowerParams } from './power-params.js';

test('command power: each action runs its own configured argv exactly; cycle without a cycle command is off, delay, on', async () => {
  const tool = recordingTool('pdu-ctl');
  try {
    const params = parsePowerParams(
      { type: 'command', on: [tool.path, 'outlet 3', 'on'], off: [tool.path, 'outlet 3', 'off'], state: [tool.path, 'status'], delayMs: 50 },
      'targets[0].params.power',
    );
    const power = createPower('board1', params);
    await power.on();
    await power.off();
    const started = Date.now();
    await power.cycle();
    assert.ok(Date.now() - started >= 45, 'cycle paused for delayMs between off and on');
    tool.respond('outlet 3: OFF\n');
    assert.equal(await power.state(), 'off');
    assert.deepEqual(tool.calls(), [
      ['outlet 3', 'on'],
      ['outlet 3', 'off'],
      ['outlet 3', 'off'],
      ['outlet 3', 'on'],
      ['status'],
    ]);
  } finally {
    tool.remove();
  }
});

test('command power: a failing command is an InfrastructureError naming the target, action and the tool output', async () => {
  const tool = recordingTool('relay');
  try {
    tool.respond('relay board not found\n', 3);
    const power = createPower('board1', parsePowerParams({ type: 'command', on: [tool.path, 'on'], off: [tool.path, 'off'] }, 'p'));
    await assert.rejects(power.on(), (error: unknown) => error instanceof InfrastructureError && /^board1: power on: `.*relay on` failed \(exit 3\): relay board not found$/.test(error.message));
    assert.equal(await power.state(), 'unknown', 'no state command: unknown, not a guess');
  } finally {
    tool.remove();
  }
});

test('uhubctl power: -l location -p port -a on/off/cycle -d seconds; state read from the port line', async () => {
  const tool = recordingTool('uhubctl');
  try {
    const power = createPower('board1', parsePowerParams({ type: 'uhubctl', location: '1-1.4', port: 2, binary: tool.path, delayMs: 2500 }, 'p'));
    await power.on();
    await power.off();
    await power.cycle();
    tool.respond('Current status for hub 1-1.4 [0424:2514]\n  Port 1: 0503 power highspeed enable connect [0483:374b]\n  Port 2: 0000 off\n');
    assert.equal(await power.state(), 'off');
    tool.respond('Current status for hub 1-1.4\n  Port 2: 0503 power highspeed enable connect\n');
    assert.equal(await power.state(), 'on');
    assert.deepEqual(tool.calls(), [
      ['-l', '1-1.4', '-p', '2', '-a', 'on'],
      ['-l', '1-1.4', '-p', '2', '-a', 'off'],
      ['-l', '1-1.4', '-p', '2', '-a', 'cycle', '-d', '3'],
      ['-l', '1-1.4', '-p', '2'],
      ['-l', '1-1.4', '-p', '2'],
    ]);
    tool.respond('Current status for hub 1-1.4\n  Port 1: 0100 power\n');
    await assert.rejects(power.state(), /board1: uhubctl lists no port 2 on hub 1-1.4/);
  } finally {
    tool.remove();
  }
});

test('a power tool that is not installed is named with its package', async () => {
  const power = createPower('board1', parsePowerParams({ type: 'uhubctl', location: '2', port: 1, binary: 'no-such-uhubctl-binary' }, 'p'));
  await assert.rejects(power.on(), /no-such-uhubctl-binary is not installed \(Debian package uhubctl/);
});

test('a hanging power command ends at its timeout', async () => {
  const power = createPower('board1', parsePowerParams({ type: 'command', on: ['sleep', '30'], off: ['true'], timeoutMs: 300 }, 'p'));
  const started = Date.now();
  await assert.rejects(power.on(), /board1: power on: `sleep 30` did not finish within 300 ms/);
  assert.ok(Date.now() - started < 5000);
});

test('parsePowerParams: bad blocks are ConfigErrors naming the field', () => {
  const cases: [unknown, string, RegExp][] = [
    [{ type: 'relay' }, 'p.type', /must be command or uhubctl/],
    [{ type: 'command', on: 'pdu on', off: ['x'] }, 'p.on', /non-empty list of strings/],
    [{ type: 'command', on: ['x'], off: ['x'], colour: 1 }, 'p.colour', /unknown parameter/],
    [{ type: 'uhubctl', location: '1-1.4' }, 'p.port', /is required/],
    [{ type: 'uhubctl', location: 'hub one', port: 1 }, 'p.location', /hub location/],
    [{ type: 'uhubctl', location: '1', port: 0 }, 'p.port', /integer from 1 to 255/],
  ];
  for (const [raw, field, detail] of cases) {
    assert.throws(() => parsePowerParams(raw, 'p'), (error: unknown) => error instanceof ConfigError && error.field === field && detail.test(error.detail), JSON.stringify(raw));
  }
});

test('parsePowerWord: the first whole word on/off, else unknown', () => {
  assert.equal(parsePowerWord('Outlet 3 is ON'), 'on');
  assert.equal(parsePowerWord('state: off\n'), 'off');
  assert.equal(parsePowerWord('online'), 'unknown');
});
