/** LinuxProcessOps with a scripted remote: a stop during attach, a launch after an unstopped start. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { linuxGenericLayout } from '../../openamp/machines/linux-generic.js';
import { runFileStem } from '../../base/process/run-files.js';
import { LinuxProcessOps, RemoteDidNotStartError, type RemoteLaunch } from './linux-process-ops.js';

const scratch = mkdtempSync(join(tmpdir(), 'farm-lp-ops-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * A stand-in remote: creates the shm file, then serves the event socket at once ("now") or only
 * once it gets SIGTERM ("on-term", and it stays until SIGKILL), so a connect lands during a stop.
 */
const REMOTE = join(scratch, 'remote.cjs');
writeFileSync(
  REMOTE,
  `const fs = require('node:fs'), net = require('node:net');
const [shm, socket, size, when] = process.argv.slice(2);
fs.writeFileSync(shm, Buffer.alloc(Number(size)));
const serve = () => net.createServer(() => {}).listen(socket);
if (when === 'now') serve(); else process.on('SIGTERM', serve);
setInterval(() => {}, 1000);
`,
);

function remote(when: 'now' | 'on-term'): RemoteLaunch {
  const stem = runFileStem('linux-process');
  const shmPath = `/dev/shm/${stem}.shm`;
  const socketPath = `/tmp/${stem}.event`;
  return { file: process.execPath, args: [REMOTE, shmPath, socketPath, String(linuxGenericLayout().shmSize), when], cwd: scratch, shmPath, socketPath };
}

function makeOps(): LinuxProcessOps {
  return new LinuxProcessOps({ name: 'lp-ops', startTimeoutMs: 10_000, stopGraceMs: 300, onOutput: () => {}, onExit: () => {}, log: () => {} });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), `timed out waiting for ${what}`);
}

test('a stop while attach is connecting: attach fails and keeps neither the socket it connected nor the shm', { timeout: 30_000 }, async () => {
  const ops = makeOps();
  const launch = remote('on-term');
  ops.launch(launch);
  try {
    await until(() => existsSync(launch.shmPath), 'the remote to create its shm');
    const attaching = ops.attach();
    attaching.catch(() => {});
    // The remote serves its socket only once the stop's SIGTERM came: attach connects during the stop.
    await ops.stop();
    await assert.rejects(attaching, (error: unknown) => {
      assert.ok(error instanceof RemoteDidNotStartError, String(error));
      assert.match((error as Error).message, /lp-ops: the remote \(pid \d+\) was stopped while the host was attaching/);
      return true;
    });
    assert.equal(ops.attachedMemory, undefined, 'no shm kept');
    assert.throws(() => ops.doorbell, /no remote process is attached/);
    assert.equal(existsSync(launch.shmPath) || existsSync(launch.socketPath), false, 'the files are removed');
  } finally {
    await ops.stop();
  }
});

test('launch after a start that ended without a stop releases that start: its shm, socket and files', { timeout: 30_000 }, async () => {
  const ops = makeOps();
  const first = remote('now');
  const second = remote('now');
  try {
    ops.launch(first);
    await ops.attach();
    assert.ok(ops.attachedMemory, 'attached to the first start');
    const firstBell = ops.doorbell;
    ops.running?.signal('SIGKILL');
    await until(() => ops.running === undefined, 'the first remote to end');
    ops.launch(second);
    assert.equal(ops.attachedMemory, undefined, "the first start's shm is closed");
    assert.equal(firstBell.connected, false, "the first start's event socket is closed");
    assert.equal(existsSync(first.shmPath) || existsSync(first.socketPath), false, "the first start's files are removed");
    await ops.attach();
    assert.ok(ops.attachedMemory, 'attached to the second start');
  } finally {
    await ops.stop();
  }
  assert.equal([first, second].some(({ shmPath, socketPath }) => existsSync(shmPath) || existsSync(socketPath)), false, 'no file left');
});
