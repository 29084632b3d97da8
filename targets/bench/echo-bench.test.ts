import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { startLoopbackMachine } from '../../openamp/remote/loopback-machine.js';
import { DEMO_CHANNEL } from '../../openamp/remote/program.js';
import { measureEchoRoundTrips } from '../../openamp/bench/echo-round-trips.js';

test('measureEchoRoundTrips: busy-poll and event modes give consistent figures', async () => {
  const machine = await startLoopbackMachine({ program: 'echo', memory: 'sab', doorbell: 'atomics', listen: true });
  try {
    const deadline = Date.now() + 5000;
    while (!machine.host.announcedServices.has(DEMO_CHANNEL) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    const channel = { name: DEMO_CHANNEL, remoteAddr: machine.host.announcedServices.get(DEMO_CHANNEL)! };
    for (const mode of ['event', 'busy-poll'] as const) {
      const result = await measureEchoRoundTrips({ device: machine.host, channel, payloadBytes: 496, rounds: 300, warmup: 30, mode });
      assert.equal(result.roundTrips, 300);
      assert.ok(result.p50Us > 0 && result.p50Us <= result.p99Us && result.p99Us <= result.maxUs, JSON.stringify(result));
      assert.ok(Math.abs(result.messagesPerSecond - 2 * result.roundTripsPerSecond) < 1e-6);
      assert.ok(Math.abs(result.megabytesPerSecond - (result.messagesPerSecond * 496) / 1e6) < 1e-6);
    }
  } finally {
    await machine.close();
  }
});

test('measureEchoRoundTrips fails when echoes do not match what was sent', async () => {
  // rpmsg-raw answers with a prefix: not an echo.
  const machine = await startLoopbackMachine({ program: 'multi-services', memory: 'sab', doorbell: 'atomics' });
  try {
    const deadline = Date.now() + 5000;
    while (!machine.host.announcedServices.has('rpmsg-raw') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    const channel = { name: 'rpmsg-raw', remoteAddr: machine.host.announcedServices.get('rpmsg-raw')! };
    await assert.rejects(
      measureEchoRoundTrips({ device: machine.host, channel, payloadBytes: 100, rounds: 5, warmup: 0, mode: 'busy-poll' }),
      /echo 0 is 117 bytes, sent 100/,
    );
  } finally {
    await machine.close();
  }
});

test('npm run bench prints one human line and one JSON object per benchmark', async () => {
  const script = fileURLToPath(new URL('./echo-bench.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--rounds-scale', '0.005'], { timeout: 120_000 });
  const lines = stdout.trim().split('\n');
  const json = lines.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);
  const echoes = json.filter((record) => record.benchmark === 'echo-round-trip');
  assert.equal(echoes.length, 5);
  assert.ok(echoes.some((r) => String(r.backend).startsWith('sim') && r.mode === 'busy-poll'));
  assert.ok(echoes.some((r) => String(r.backend).includes('UNIX socket')));
  assert.ok(echoes.some((r) => String(r.backend).includes('polling')));
  for (const record of echoes) {
    assert.equal(record.payloadBytes, 496);
    for (const key of ['p50Us', 'p99Us', 'roundTripsPerSecond', 'messagesPerSecond', 'megabytesPerSecond']) assert.equal(typeof record[key], 'number', key);
  }
  assert.ok(json.some((record) => record.benchmark === 'doorbell-atomics-round-trip'));
  const human = lines.filter((line) => !line.startsWith('{'));
  assert.ok(human.filter((line) => line.startsWith('echo ')).length === 5);
  assert.ok(lines.findIndex((line) => line.startsWith('{')) > lines.findLastIndex((line) => !line.startsWith('{')), 'JSON after the human lines');
});
