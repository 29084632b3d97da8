import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { sweepStaleDoubles } from './board-double.js';

const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

test("the sweep of dead doubles leaves a double in another PID namespace alone (a container's: its run-file pid is the container's own)", { timeout: 30_000 }, async () => {
  // What a double in a container looks like from here: a fuse-bridge whose state folder names a
  // pid (999999) that is no process of ours, in a mount namespace and a PID namespace of its own.
  // (The name through the environment: unshare's own command line, in our PID namespace, must not carry it.)
  const child = spawn('unshare', ['-m', '-p', '-f', '--', 'bash', '-c', 'exec -a "$BRIDGE_NAME" sleep 60'], {
    stdio: 'ignore',
    env: { ...process.env, BRIDGE_NAME: '/opt/farm/checkout/firmware/build/tools/host/fuse-bridge /tmp/farm-mp157-double-999999-abcdef01/fuse' },
  });
  let bridge: number | undefined;
  try {
    const deadline = Date.now() + 10_000;
    while (bridge === undefined && Date.now() < deadline) {
      bridge = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number).find((pid) => {
        try {
          return alive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('/opt/farm/checkout/firmware/build/tools/host/fuse-bridge /tmp/farm-mp157-double-999999-abcdef01/');
        } catch {
          return false;
        }
      });
      if (bridge === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(bridge !== undefined, 'the stand-in bridge runs');
    sweepStaleDoubles();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(alive(bridge), 'the sweep left it alone');
  } finally {
    // The stand-in is PID 1 of its namespace: ending unshare does not end it.
    if (bridge !== undefined) process.kill(bridge, 'SIGKILL');
    child.kill('SIGKILL');
  }
});
