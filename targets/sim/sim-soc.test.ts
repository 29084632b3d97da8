import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DEMO_CHANNEL } from '../../openamp/remote/program.js';
import { simKind } from './index.js';
import type { SimSoc } from './sim-soc.js';

test('sim: each start runs its core in a thread of its own, started ahead while the SoC was idle; shutdown ends the waiting thread', async () => {
  const workDir = await mkdtemp(join(tmpdir(), 'sim-soc-test-'));
  const target = simKind.create('sim-standby', simKind.parseParams(undefined, 'p'), { configDir: workDir, firmware: {}, workDir });
  const soc = (target as unknown as { soc: SimSoc }).soc;
  try {
    await target.setup({ info: () => {}, console: () => {} });
    const threads: number[] = [];
    for (let round = 0; round < 3; round++) {
      const waiting = soc.standbyThreadId;
      assert.ok(waiting !== undefined, `round ${round}: a thread waits for the next start`);
      await target.host.start(await target.firmwareFor('echo'));
      assert.equal(soc.coreThreadId, waiting, `round ${round}: the core runs in the waiting thread`);
      assert.equal(soc.standbyThreadId, undefined, 'no second thread while the core runs');
      await target.host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 10_000 });
      const endpoint = await target.host.openEndpoint({ name: DEMO_CHANNEL });
      await endpoint.send(new Uint8Array([round]));
      assert.deepEqual((await endpoint.receive({ timeoutMs: 10_000 })).data, new Uint8Array([round]));
      threads.push(soc.coreThreadId!);
      await target.host.stop();
      assert.equal(soc.coreRunning, false);
    }
    assert.equal(new Set(threads).size, threads.length, 'never the same thread twice');
  } finally {
    await target.teardown();
    await rm(workDir, { recursive: true, force: true });
  }
  assert.equal(soc.standbyThreadId, undefined, 'the waiting thread ends with the SoC');
});
