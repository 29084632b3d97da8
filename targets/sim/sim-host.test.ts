import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EM_ARM } from '../../openamp/elf/elf-constants.js';
import { FirmwareError, RemoteCrashedError, TimeoutError } from '../../base/errors.js';
import { DEMO_CHANNEL, type RemoteProgramName } from '../../openamp/remote/program.js';
import { MATRIX_BYTES, decodeMatrix, encodeMatrix, multiplyMatrices, type Matrix } from '../../openamp/remote/programs/matrix-multiply.js';
import { OpenAmpHost, RemoteStoppedError } from '../openamp-host/openamp-host.js';
import type { FirmwareImage, NameServiceEvent } from '../target.js';
import { writeSimFirmware } from './sim-firmware.js';
import { SimSoc } from './sim-soc.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-host-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Rig {
  soc: SimSoc;
  host: OpenAmpHost;
  console: string[];
  image(program: RemoteProgramName): Promise<FirmwareImage>;
  close(): Promise<void>;
}

function rig(): Rig {
  const console: string[] = [];
  const soc = new SimSoc({ name: 'test-sim', onConsole: (line) => console.push(line) });
  const host = new OpenAmpHost({ ops: soc, doorbell: () => soc.hostDoorbell, name: 'test-sim', stallTimeoutMs: 300 });
  soc.onCrash = (reason) => host.remoteproc.reportCrash(reason);
  return {
    soc,
    host,
    console,
    image: (program) => writeSimFirmware(dir, { program }),
    close: async () => {
      await host.stop();
      await soc.shutdown();
    },
  };
}

async function booted(program: RemoteProgramName): Promise<Rig> {
  const r = rig();
  await r.host.start(await r.image(program));
  return r;
}

test('echo: payloads of 17..496 bytes come back byte-identical and in order', async () => {
  const r = await booted('echo');
  try {
    const channel = await r.host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 5000 });
    assert.equal(channel.remoteAddr, 0x400);
    assert.deepEqual(r.host.channels(), [channel]);
    const endpoint = await r.host.openEndpoint({ name: DEMO_CHANNEL });
    assert.equal(endpoint.remoteAddr, 0x400);
    for (let size = 17; size <= 496; size += 17) {
      // open-amp's ping: {u64 num; u64 size} then 0xA5 bytes.
      const data = new Uint8Array(size).fill(0xa5);
      new DataView(data.buffer).setBigUint64(0, BigInt(size), true);
      await endpoint.send(data);
      const echo = await endpoint.receive();
      assert.deepEqual(echo.data, data);
      assert.equal(echo.src, 0x400);
      assert.equal(echo.dst, endpoint.localAddr);
    }
    await assert.rejects(endpoint.receive({ timeoutMs: 100 }), TimeoutError, 'nothing duplicated');
    assert.match(await r.host.trace(), /echo: running/);
  } finally {
    await r.close();
  }
});

test('matrix-multiply: 148-byte products of random 6x6 matrices', async () => {
  const r = await booted('matrix-multiply');
  try {
    await r.host.waitForChannel(DEMO_CHANNEL);
    const endpoint = await r.host.openEndpoint({ name: DEMO_CHANNEL });
    let seed = 12345;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return ((seed >>> 16) & 0x7f) % 10;
    };
    const random = (): Matrix => ({ size: 6, elements: Uint32Array.from({ length: 36 }, rand) });
    for (let i = 0; i < 20; i++) {
      const a = random();
      const b = random();
      const request = new Uint8Array(2 * MATRIX_BYTES);
      request.set(encodeMatrix(a), 0);
      request.set(encodeMatrix(b), MATRIX_BYTES);
      await endpoint.send(request);
      const reply = await endpoint.receive();
      assert.equal(reply.data.length, 148);
      const product = decodeMatrix(reply.data, 0);
      const expected = multiplyMatrices(a, b);
      assert.equal(product.size, 6);
      assert.deepEqual([...product.elements], [...expected.elements], `iteration ${i}`);
    }
  } finally {
    await r.close();
  }
});

test('multi-services: client sample, tty, raw, fixed endpoint 0x1 and dynamic tty channels', async () => {
  const r = await booted('multi-services');
  const events: NameServiceEvent[] = [];
  r.host.onNameService((event) => events.push(event));
  try {
    await r.host.waitForChannel('rpmsg-client-sample');
    await r.host.waitForChannel('rpmsg-tty');
    await r.host.waitForChannel('rpmsg-raw');
    assert.deepEqual(
      r.host.channels().map((c) => [c.name, c.remoteAddr]),
      [
        ['rpmsg-client-sample', 0x400],
        ['rpmsg-tty', 0x401],
        ['rpmsg-raw', 0x402],
      ],
    );

    const tty = await r.host.openEndpoint({ name: 'rpmsg-tty' });
    await tty.send(encoder.encode('hello tty'));
    const ttyReply = await tty.receive();
    assert.equal(ttyReply.src, 0x401);
    assert.equal(decoder.decode(ttyReply.data), 'TTY 0x0401: hello tty');

    const raw = await r.host.openEndpoint({ name: 'rpmsg-raw' });
    await raw.send(encoder.encode('raw bytes'));
    const rawReply = await raw.receive();
    assert.equal(rawReply.src, 0x402);
    assert.equal(decoder.decode(rawReply.data), 'from ept 0x0402: raw bytes');

    // The demo's own endpoints 100, 101, 103, all talking to the unannounced 0x1.
    const fixed = await Promise.all([100, 101, 103].map((localAddr) => r.host.openEndpoint({ name: 'ept', localAddr, remoteAddr: 0x1 })));
    for (const endpoint of fixed) await endpoint.send(encoder.encode(`ping ${endpoint.localAddr}`));
    for (const endpoint of fixed) {
      const reply = await endpoint.receive();
      assert.equal(reply.src, 0x1);
      assert.equal(reply.dst, endpoint.localAddr);
      assert.equal(decoder.decode(reply.data), `from ept 0x0001: ping ${endpoint.localAddr}`);
    }
    for (const endpoint of fixed) await endpoint.close();

    // A host-announced tty channel gets its own remote endpoint, which says "bound" first.
    const dynamic = await r.host.openEndpoint({ name: 'rpmsg-tty', localAddr: 257, announce: true });
    const bound = await dynamic.receive();
    assert.equal(decoder.decode(bound.data), 'bound');
    const dynamicAddr = bound.src;
    assert.ok(dynamicAddr >= 0x403, `a fresh dynamic address, got ${dynamicAddr}`);
    await dynamic.send(encoder.encode('on the new channel'), { dest: dynamicAddr });
    const dynamicReply = await dynamic.receive();
    assert.equal(dynamicReply.src, dynamicAddr);
    assert.equal(decoder.decode(dynamicReply.data), `TTY 0x${dynamicAddr.toString(16).padStart(4, '0')}: on the new channel`);
    await dynamic.close();
    // NS DESTROY released it: a message to its address is dropped by the remote.
    const probe = await r.host.openEndpoint({ name: 'probe', remoteAddr: dynamicAddr });
    await probe.send(encoder.encode('anyone?'));
    await assert.rejects(probe.receive({ timeoutMs: 300 }), TimeoutError);
    assert.match(await r.host.trace(), /released 0x0403/);

    // rpmsg_client_sample: 100 echoes, then the remote destroys its endpoint.
    const sample = await r.host.openEndpoint({ name: 'rpmsg-client-sample' });
    for (let i = 1; i <= 100; i++) {
      await sample.send(encoder.encode('hello world!'));
      const echo = await sample.receive();
      assert.equal(echo.src, 0x400);
      assert.equal(decoder.decode(echo.data), 'hello world!', `echo ${i}`);
    }
    const deadline = Date.now() + 2000;
    while (!events.some((e) => e.kind === 'destroy' && e.name === 'rpmsg-client-sample') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(events.some((e) => e.kind === 'destroy' && e.name === 'rpmsg-client-sample' && e.addr === 0x400), 'NS DESTROY after 100 messages');
    assert.deepEqual(
      r.host.channels().map((c) => c.name),
      ['rpmsg-tty', 'rpmsg-raw'],
    );
  } finally {
    await r.close();
  }
});

test('crash: the host sees the core fault, waits end at once, trace and console survive', async () => {
  const r = await booted('echo');
  try {
    await r.host.waitForChannel(DEMO_CHANNEL);
    const endpoint = await r.host.openEndpoint({ name: DEMO_CHANNEL });
    const pending = endpoint.receive({ timeoutMs: 10_000 });
    await r.host.injectFault('crash');
    const reason = await r.host.waitForCrash({ timeoutMs: 5000 });
    assert.match(reason, /remote core faulted/);
    assert.equal(r.host.state, 'crashed');
    await assert.rejects(pending, RemoteCrashedError, 'a pending receive fails with the crash, not a timeout');
    await assert.rejects(endpoint.send(new Uint8Array(4)), RemoteCrashedError);
    assert.equal(r.soc.coreRunning, false, 'the core thread is gone');
    assert.match(await r.host.trace(), /core fault: crash word/);
    assert.ok(r.console.some((line) => /core fault/.test(line)));
  } finally {
    await r.close();
  }
});

test('hang: no progress within the deadline counts as a crash; stop ends the hung core', async () => {
  const r = await booted('echo');
  try {
    await r.host.waitForChannel(DEMO_CHANNEL);
    await r.host.injectFault('hang');
    assert.equal(r.soc.coreRunning, true);
    const reason = await r.host.waitForCrash({ timeoutMs: 5000 });
    assert.match(reason, /no progress/);
    assert.equal(r.host.state, 'crashed');
    assert.equal(r.soc.coreRunning, true, 'a hung core still runs');
    await r.host.stop();
    assert.equal(r.soc.coreRunning, false);
    assert.equal(r.host.state, 'offline');
  } finally {
    await r.close();
  }
});

test('waitForCrash on a healthy remote is a TimeoutError', async () => {
  const r = await booted('echo');
  try {
    await r.host.waitForChannel(DEMO_CHANNEL);
    await assert.rejects(r.host.waitForCrash({ timeoutMs: 700 }), TimeoutError);
    assert.equal(r.host.state, 'running');
  } finally {
    await r.close();
  }
});

test('restart: stale endpoints fail, the new boot has fresh channels and endpoints', async () => {
  const r = await booted('echo');
  try {
    await r.host.waitForChannel(DEMO_CHANNEL);
    const first = await r.host.openEndpoint({ name: DEMO_CHANNEL });
    await first.send(encoder.encode('one'));
    assert.equal(decoder.decode((await first.receive()).data), 'one');
    const firstThread = r.soc.coreThreadId;

    await r.host.stop();
    assert.equal(r.soc.coreRunning, false);
    assert.deepEqual(r.host.channels(), []);
    await assert.rejects(first.send(encoder.encode('stale')), RemoteStoppedError);

    await r.host.start(await r.image('echo'));
    // A fresh core (the stale endpoint stays dead, new channels below) in the same thread: a
    // core that stopped cleanly leaves its thread for the next start.
    assert.equal(r.soc.coreThreadId, firstThread, 'the stopped core\'s thread, reused');
    await r.host.waitForChannel(DEMO_CHANNEL);
    await assert.rejects(first.receive({ timeoutMs: 50 }), RemoteStoppedError, 'the old endpoint stays dead');
    const second = await r.host.openEndpoint({ name: DEMO_CHANNEL });
    await second.send(encoder.encode('two'));
    const reply = await second.receive();
    assert.equal(decoder.decode(reply.data), 'two');
    assert.equal(reply.dst, second.localAddr);
  } finally {
    await r.close();
  }
});

test('start after a crash restarts from clean', async () => {
  const r = await booted('echo');
  try {
    await r.host.waitForChannel(DEMO_CHANNEL);
    const crashedThread = r.soc.coreThreadId;
    await r.host.injectFault('crash');
    await r.host.waitForCrash();
    await r.host.start(await r.image('echo'));
    assert.equal(r.host.state, 'running');
    assert.notEqual(r.soc.coreThreadId, crashedThread, 'a faulted core\'s thread is never reused');
    await r.host.waitForChannel(DEMO_CHANNEL);
    const endpoint = await r.host.openEndpoint({ name: DEMO_CHANNEL });
    await endpoint.send(encoder.encode('alive'));
    assert.equal(decoder.decode((await endpoint.receive()).data), 'alive');
  } finally {
    await r.close();
  }
});

test('an image for another machine is refused before the core starts', async () => {
  const r = rig();
  try {
    const arm = await writeSimFirmware(dir, { program: 'echo', machine: EM_ARM });
    await assert.rejects(r.host.start(arm), (error: unknown) => error instanceof FirmwareError && /EM_ARM/.test(error.message));
    assert.equal(r.host.state, 'offline');
    assert.equal(r.soc.coreRunning, false);
    assert.equal(r.soc.coreThreadId, undefined);
  } finally {
    await r.close();
  }
});

test('an image whose bytes do not match its SHA-256 is refused', async () => {
  const r = rig();
  try {
    const image = await r.image('echo');
    await assert.rejects(r.host.start({ ...image, sha256: '0'.repeat(64) }), FirmwareError);
    assert.equal(r.soc.coreRunning, false);
  } finally {
    await r.close();
  }
});

test('hang with every host buffer stuck in the ring is still detected, without blocking the event loop', async () => {
  const r = rig();
  try {
    await r.host.start(await writeSimFirmware(dir, { program: 'echo', vringNum: 4 }));
    await r.host.waitForChannel(DEMO_CHANNEL);
    const endpoint = await r.host.openEndpoint({ name: DEMO_CHANNEL });
    await r.host.injectFault('hang');
    // The core stops servicing the rings after the poll round that carried the hang word.
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Fill the 4 transmit buffers; the hung remote never returns them.
    let sent = 0;
    for (let i = 0; i < 8; i++) {
      try {
        await endpoint.send(new Uint8Array(8), { timeoutMs: 50 });
        sent++;
      } catch {
        break;
      }
    }
    assert.ok(sent <= 4, `at most 4 buffers, sent ${sent}`);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 20);
    try {
      assert.match(await r.host.waitForCrash({ timeoutMs: 5000 }), /no progress/);
    } finally {
      clearInterval(ticker);
    }
    assert.ok(ticks >= 5, `the event loop kept running while probing (${ticks} ticks)`);
  } finally {
    await r.close();
  }
});
