/**
 * A farm-like parent for managed-process.test.ts: starts `sleep 60` as a ManagedProcess,
 * registers exit actions that append to a marker file, prints {"child": pid} and then either
 * exits through process.exit ("exit"), waits to be signalled ("wait"), or handles SIGINT like a
 * CLI's orderly shutdown ("handle": notes whether its child still lives, then exits 0).
 *
 *   node managed-process-parent.test-helper.js <exit|wait|handle> <marker file> <die-with-parent: yes|no>
 */
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { onProcessExit } from './exit-cleanup.js';
import { ManagedProcess } from './managed-process.js';

const [mode, marker, dieWithParent] = process.argv.slice(2);
if ((mode !== 'exit' && mode !== 'wait' && mode !== 'handle') || !marker) throw new Error('usage: <exit|wait|handle> <marker> <yes|no>');

const child = ManagedProcess.spawn({ name: 'sleeper', file: 'sleep', args: ['60'], dieWithParent: dieWithParent !== 'no' });
onProcessExit(() => appendFileSync(marker, 'hook ran\n'));
const release = onProcessExit(() => appendFileSync(marker, 'released hook ran\n'));
release();
process.stdout.write(JSON.stringify({ child: child.pid }) + '\n');
if (mode === 'exit') process.exit(0);
if (mode === 'handle') {
  process.once('SIGINT', () => {
    void (async () => {
      await sleep(200); // an orderly teardown takes a while; the child must still be there
      appendFileSync(marker, `child ${child.running ? 'running' : 'gone'} in the handler\n`);
      process.exit(0);
    })();
  });
}
setInterval(() => {}, 60_000);
