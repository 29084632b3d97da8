/**
 * The verdict on a hostile remote (issue 14), driven directly on a linux-process target with
 * firmware/tools/hostile-remote: each mode breaks the protocol one way, and the host must fail
 * the waiting operation at once with the right class and a first line naming the violation.
 * (farm/hostile-verdicts.test.ts drives the same rows through `farm run`.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { classifyFailure, type FailureClass } from '../../base/errors.js';
import { ensureHostTool, hostToolPath } from '../../firmware/tools.js';
import { DEMO_CHANNEL } from '../../openamp/remote/program.js';
import type { TargetLog } from '../target.js';
import { linuxProcessKind } from './index.js';
import { LINUX_PROCESS_PARAM_DEFAULTS, PLACEHOLDERS, type LinuxProcessParams } from './linux-process-params.js';
import type { LinuxProcessTarget } from './linux-process-target.js';
import { processRunning } from '../../base/process/process-alive.js';

const scratch = mkdtempSync(join(tmpdir(), 'farm-hostile-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
before(async () => {
  await Promise.all([ensureHostTool('farm-reaper'), ensureHostTool('hostile-remote')]);
});

function hostileCommand(mode: string, ...extra: string[]): string[] {
  return [hostToolPath('hostile-remote'), '--mode', mode, '--shm', PLACEHOLDERS.shm, '--socket', PLACEHOLDERS.socket, ...extra];
}

function makeTarget(mode: string, ...extra: string[]): LinuxProcessTarget {
  const params: LinuxProcessParams = { ...LINUX_PROCESS_PARAM_DEFAULTS, stopGraceMs: 300, commands: { echo: hostileCommand(mode, ...extra) } };
  return linuxProcessKind.create(`hostile-${mode}`, params, { configDir: scratch, firmware: {}, workDir: scratch }) as LinuxProcessTarget;
}

function log(lines: string[] = []): TargetLog {
  return { info: (line) => lines.push(line), console: () => {} };
}

/** Starts `mode`, runs `body`, always tears down. */
async function withHostile<T>(mode: string, body: (target: LinuxProcessTarget) => Promise<T>, ...extra: string[]): Promise<T> {
  const target = makeTarget(mode, ...extra);
  await target.setup(log());
  try {
    await target.host.start(await target.firmwareFor('echo'));
    return await body(target);
  } finally {
    await target.teardown();
  }
}

/** One echo round as the suite does it; returns the error it failed with and how long after the send. */
async function failingEcho(target: LinuxProcessTarget): Promise<{ error: Error; afterSendMs: number }> {
  const channel = await target.host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 5000 });
  const endpoint = await target.host.openEndpoint({ name: DEMO_CHANNEL });
  const sent = Date.now();
  try {
    // Echo for up to 2 s (a verdict must come within a second of the violation).
    for (let i = 0; Date.now() - sent < 2000; i++) {
      await endpoint.send(new Uint8Array(32).fill(i & 0xff), { dest: channel.remoteAddr });
      await endpoint.receive({ timeoutMs: 5000 });
    }
  } catch (error) {
    return { error: error as Error, afterSendMs: Date.now() - sent };
  }
  assert.fail('the echo against a hostile remote succeeded');
}

function assertVerdict(error: Error, failureClass: FailureClass, pattern: RegExp): void {
  const first = `${error.name}: ${error.message}`.split('\n')[0]!;
  assert.equal(classifyFailure(error), failureClass, first);
  assert.match(first, pattern);
}

const RING_ROWS: readonly [mode: string, pattern: RegExp][] = [
  ['header-len', /ProtocolViolationError\[protocol\].*vring0 \(remote -> host\) used\.ring\[\d+\].*buffer at 0x[0-9a-f]{8}: RPMsg header len 65535 .*overruns its 48-byte buffer/],
  ['used-len', /ProtocolViolationError\[protocol\].*vring0 \(remote -> host\): used\.ring\[\d+\]\.len at 0x[0-9a-f]{8} is 4096 .*larger than its buffer \(512 bytes\)/],
  ['short-header', /ProtocolViolationError\[protocol\].*vring0 \(remote -> host\) used\.ring\[\d+\].*buffer at 0x[0-9a-f]{8}: received buffer of 8 bytes is shorter than the 16-byte RPMsg header/],
  ['used-id', /ProtocolViolationError\[protocol\].*vring0 \(remote -> host\): used\.ring\[\d+\]\.id at 0x[0-9a-f]{8} is 0x0000270f, not below num 256/],
  ['used-idx-jump', /ProtocolViolationError\[protocol\].*vring0 \(remote -> host\): used\.idx at 0x[0-9a-f]{8} jumped from \d+ to \d+ \(1001 entries, ring holds 256\)/],
];

for (const [mode, pattern] of RING_ROWS) {
  test(`hostile ${mode}: the echo fails at once with the violation, not a timeout`, async () => {
    await withHostile(mode, async (target) => {
      const { error, afterSendMs } = await failingEcho(target);
      assertVerdict(error, 'protocol', pattern);
      assert.ok(afterSendMs < 1000, `verdict ${afterSendMs} ms after the send`);
    });
  });
}

test('hostile status-rewrite and vring-rewrite: the remote rewriting the virtio configuration is a protocol violation', async () => {
  for (const [mode, pattern] of [
    ['status-rewrite', /ProtocolViolationError\[protocol\].*(virtio status is 0x00, the host wrote 0x07|rewrote status at 0x00000030 .*0x07 -> 0x00)/],
    ['vring-rewrite', /ProtocolViolationError\[protocol\].*rewrote num_of_vrings at 0x00000031 after the host attached: 0x02 -> 0x01/],
  ] as const) {
    await withHostile(mode, async (target) => {
      // The rewrite comes right after DRIVER_OK: the announcement or the echo fails on it.
      const error = await failingEcho(target).then(
        (failed) => failed.error,
        (error: Error) => error,
      );
      assertVerdict(error, 'protocol', pattern);
    });
  }
});

test('hostile overlapping layouts: refused at attach, naming both regions', async () => {
  for (const [mode, pattern] of [
    ['overlap-vrings', /LayoutError\[firmware\].*vdev0vring1 at 0x00005000\+0x2806 overlaps vdev0vring0 at 0x00004000\+0x2806/],
    ['overlap-pool', /LayoutError\[firmware\].*vdev0 buffer pool at 0x00010000\+0x40000 overlaps vdev0vring1 at 0x00010000\+0x2806/],
    ['overlap-table', /LayoutError\[firmware\].*vdev0vring0 at 0x00002000\+0x2806 overlaps resource table at 0x00000000\+0x4000/],
  ] as const) {
    const target = makeTarget(mode);
    await target.setup(log());
    try {
      await assert.rejects(target.host.start(await target.firmwareFor('echo')), (error: Error) => {
        assertVerdict(error, 'firmware', pattern);
        return true;
      });
      assert.equal(target.ops.running, undefined, 'the remote of a refused start is ended');
    } finally {
      await target.teardown();
    }
  }
});

test('hostile exit-mid-echo: a clean exit(0) mid-exchange is reported at once, as firmware, with its exit status', async () => {
  await withHostile('exit-mid-echo', async (target) => {
    const { error, afterSendMs } = await failingEcho(target);
    assertVerdict(error, 'firmware', /RemoteGoneError\[firmware\]: .*the remote process exited by itself \(exit code 0\)/);
    assert.ok(afterSendMs < 2000);
  });
});

test('hostile close-socket: a remote that closes its doorbell after announcing: the announcement counts, then the verdict', async () => {
  await withHostile('close-socket', async (target) => {
    const { error } = await failingEcho(target);
    assertVerdict(error, 'firmware', /RemoteGoneError\[firmware\]: .*the remote closed its doorbell while the host was attached/);
  });
});

test('hostile last-words: replies and NS DESTROY sent just before exit(0) are all delivered, then the exit is the verdict', async () => {
  await withHostile('last-words', async (target) => {
    const events: string[] = [];
    target.host.onNameService((event) => events.push(`${event.kind} ${event.name}`));
    const channel = await target.host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 5000 });
    const endpoint = await target.host.openEndpoint({ name: DEMO_CHANNEL });
    await endpoint.send(new Uint8Array([1, 2, 3]), { dest: channel.remoteAddr });
    for (let i = 0; i < 3; i++) {
      const reply = await endpoint.receive({ timeoutMs: 5000 });
      assert.deepEqual([...reply.data], [1, 2, 3], `last word ${i}`);
    }
    await assert.rejects(endpoint.receive({ timeoutMs: 5000 }), (error: Error) => {
      assertVerdict(error, 'firmware', /exit code 0/);
      return true;
    });
    assert.deepEqual(events, [`create ${DEMO_CHANNEL}`, `destroy ${DEMO_CHANNEL}`]);
  });
});

test('hostile ns-any and ns-nsaddr: announcements of ADDR_ANY or 0x35 are refused as protocol errors', async () => {
  for (const [mode, pattern] of [
    ['ns-any', /NameServiceMessageError|ProtocolViolationError\[protocol\].*"rpmsg-openamp-demo-channel" at address 0xffffffff \(ADDR_ANY\) refused/],
    ['ns-nsaddr', /ProtocolViolationError\[protocol\].*"rpmsg-openamp-demo-channel" at address 0x00000035 \(the name service itself\) refused/],
  ] as const) {
    await withHostile(mode, async (target) => {
      await assert.rejects(target.host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 5000 }), (error: Error) => {
        assertVerdict(error, 'protocol', pattern);
        return true;
      });
    });
  }
});

test('hostile ns-flood: 200,000 garbage announcements cost the host well under a second of CPU and end in one line', async () => {
  await withHostile('ns-flood', async (target) => {
    const cpu = process.cpuUsage();
    const started = Date.now();
    await assert.rejects(target.host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 10_000 }), (error: Error) => {
      assertVerdict(error, 'protocol', /NameServiceLimitError|ProtocolViolationError\[protocol\].*already has 1024 channels, the most one device keeps \(1024\)/);
      assert.ok(!error.message.includes('\n'), 'one line');
      assert.ok(error.message.length < 400, `short: ${error.message.length} chars`);
      // eslint-disable-next-line no-control-regex
      assert.doesNotMatch(error.message, /[\x00-\x1f\x7f-\x9f]/, 'garbage names are escaped');
      return true;
    });
    const used = process.cpuUsage(cpu);
    assert.ok(Date.now() - started < 5000);
    assert.ok(used.user + used.system < 1_000_000, `host CPU ${(used.user + used.system) / 1000} ms`);
  });
});

test('hostile setsid-child: a child that left the remote process group and session ends with the remote', async () => {
  const pidFile = join(scratch, 'escaped.pid');
  let escaped = 0;
  await withHostile(
    'setsid-child',
    async (target) => {
      const channel = await target.host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 5000 });
      const endpoint = await target.host.openEndpoint({ name: DEMO_CHANNEL });
      await endpoint.send(new Uint8Array([7]), { dest: channel.remoteAddr });
      assert.deepEqual([...(await endpoint.receive({ timeoutMs: 5000 })).data], [7]);
      escaped = Number(readFileSync(pidFile, 'utf8').trim());
      assert.ok(escaped > 0 && processRunning(escaped), 'the escaped child runs while the remote does');
      const remotePid = target.ops.running!.pid;
      assert.notEqual(processGroup(escaped), processGroup(remotePid), 'it really left the process group');
    },
    '--pid-file',
    pidFile,
  );
  assert.equal(processRunning(escaped), false, `escaped child ${escaped} outlived the teardown`);
});


function processGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}
