/**
 * A farm-like parent for managed-process.test.ts: starts `sleep 60` as a ManagedProcess,
 * registers exit actions that append to a marker file, prints {"child": pid} and then either
 * exits through process.exit ("exit") or waits to be signalled ("wait").
 *
 *   node managed-process-parent.test-helper.js <exit|wait> <marker file> <die-with-parent: yes|no>
 */
import { appendFileSync } from 'node:fs';
import { onProcessExit } from './exit-cleanup.js';
import { ManagedProcess } from './managed-process.js';

const [mode, marker, dieWithParent] = process.argv.slice(2);
if ((mode !== 'exit' && mode !== 'wait') || !marker) throw new Error('usage: <exit|wait> <marker> <yes|no>');

const child = ManagedProcess.spawn({ name: 'sleeper', file: 'sleep', args: ['60'], dieWithParent: dieWithParent !== 'no' });
onProcessExit(() => appendFileSync(marker, 'hook ran\n'));
const release = onProcessExit(() => appendFileSync(marker, 'released hook ran\n'));
release();
process.stdout.write(JSON.stringify({ child: child.pid }) + '\n');
if (mode === 'exit') process.exit(0);
setInterval(() => {}, 60_000);
