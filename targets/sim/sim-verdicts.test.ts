/**
 * The verdict rules of issue 14 hold on the sim too (it shares OpenAmpHost with every target):
 * a violation in the rings fails what waits at once with ProtocolViolationError, and a remote
 * rewriting the virtio configuration is one.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DEMO_CHANNEL } from '../../openamp/remote/program.js';
import { VDEV_FIELDS } from '../../openamp/rsc/rsc-layout.js';
import { vringLayout } from '../../openamp/virtio/vring-layout.js';
import { OpenAmpHost, ProtocolViolationError } from '../openamp-host/openamp-host.js';
import { writeSimFirmware } from './sim-firmware.js';
import { SimSoc } from './sim-soc.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sim-verdict-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function booted(): Promise<{ soc: SimSoc; host: OpenAmpHost; close(): Promise<void> }> {
  const soc = new SimSoc({ name: 'verdict-sim', onConsole: () => {} });
  const host = new OpenAmpHost({ ops: soc, doorbell: () => soc.hostDoorbell, name: 'verdict-sim', stallTimeoutMs: 300 });
  soc.onCrash = (reason) => host.remoteproc.reportCrash(reason);
  await host.start(await writeSimFirmware(dir, { program: 'echo' }));
  return {
    soc,
    host,
    close: async () => {
      await host.stop();
      await soc.shutdown();
    },
  };
}

test('sim: used.idx of vring 0 jumping by 1000 fails the pending receive at once, naming ring, field and address', async () => {
  const r = await booted();
  try {
    await r.host.waitForChannel(DEMO_CHANNEL);
    const endpoint = await r.host.openEndpoint({ name: DEMO_CHANNEL });
    const pending = endpoint.receive({ timeoutMs: 10_000 });
    const vring = r.host.remoteproc.vdevs[0]!.entry.vrings[0]!;
    const layout = vringLayout(vring.num, vring.align);
    const ring = r.soc.memory.resolveDa(vring.da, layout.size);
    const idx = ring.memory.loadU16(ring.offset + layout.usedIdx);
    ring.memory.storeU16(ring.offset + layout.usedIdx, (idx + 1000) & 0xffff);
    const started = Date.now();
    r.host.rpmsgDevice!.poll();
    await assert.rejects(pending, (error: Error) => {
      assert.ok(error instanceof ProtocolViolationError, String(error));
      assert.match(error.message, /verdict-sim: protocol violation: vring0 \(remote -> host\): used\.idx at 0x[0-9a-f]{8} jumped from \d+ to \d+/);
      return true;
    });
    assert.ok(Date.now() - started < 1000);
    await assert.rejects(endpoint.send(new Uint8Array(4)), ProtocolViolationError, 'the boot is over: later operations fail with the verdict');
  } finally {
    await r.close();
  }
});

test('sim: a status byte rewritten behind the host is a violation within the guard interval, even with no traffic', async () => {
  const r = await booted();
  try {
    await r.host.waitForChannel(DEMO_CHANNEL);
    const table = r.host.remoteproc.resourceTable!;
    const vdev = r.host.remoteproc.vdevs[0]!;
    table.memory.storeU8(table.offset + vdev.entry.offset + VDEV_FIELDS.status, 0);
    await assert.rejects(r.host.waitForChannel('never-announced', { timeoutMs: 5000 }), (error: Error) => {
      assert.ok(error instanceof ProtocolViolationError, String(error));
      assert.match(error.message, /rewrote status at 0x[0-9a-f]{8} after the host attached: 0x07 -> 0x00/);
      return true;
    });
  } finally {
    await r.close();
  }
});
