import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEMO_CHANNEL } from '../../openamp/remote/program.js';
import { OpenAmpHost } from '../openamp-host/openamp-host.js';
import { writeSimFirmware } from './sim-firmware.js';
import { SimSoc } from './sim-soc.js';

test('sim: stopping an idle core does not wait for its doorbell sleep to run out', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sim-soc-test-'));
  // The core sleeps up to a minute on its doorbell: a stop that is not rung in would take that long.
  const soc = new SimSoc({ name: 'sim-stop', remoteIdleWaitMs: 60_000, stopTimeoutMs: 120_000 });
  const host = new OpenAmpHost({ ops: soc, doorbell: () => soc.hostDoorbell, name: 'sim-stop' });
  soc.onCrash = (reason) => host.remoteproc.reportCrash(reason);
  try {
    await host.start(await writeSimFirmware(dir, { program: 'echo' }));
    await host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 10_000 });
    // Let the core go idle: it has nothing to do after its announcement.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = performance.now();
    await host.stop();
    const tookMs = performance.now() - started;
    assert.equal(soc.coreRunning, false);
    assert.ok(tookMs < 30_000, `stop took ${Math.round(tookMs)} ms: it waited for the core's doorbell sleep`);
  } finally {
    await host.stop();
    await soc.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
});
