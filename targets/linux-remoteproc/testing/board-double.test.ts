/**
 * The board double leaves nothing behind when its controller is SIGKILLed: sshd, the FUSE
 * bridge, the console, QEMU and every session die with it (parent-death signals, stdin EOF),
 * the namespace and its mounts go with the last of them, and the next start sweeps the state
 * directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sweepStaleDoubles } from './board-double.js';

function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Children of `parent` now (from /proc/<pid>/stat). */
function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        return Number(readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\) /s, '').split(' ')[1]) === parent;
      } catch {
        return false;
      }
    });
}

/** Alive and not a zombie. */
function running(pid: number): boolean {
  try {
    return !/^Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1').replace(/^.*\) /s, ''));
  } catch {
    return false;
  }
}

test('SIGKILL of the double\'s controller: no process of it survives; the next start sweeps its state', { timeout: 120_000 }, async () => {
  const runner = fileURLToPath(new URL('./run-with-double.js', import.meta.url));
  // With its console and its second UART: their pty processes must die with it too.
  const child = spawn(process.execPath, [runner, '--console', '--helper-line', '--', 'sleep', '60'], { env: { ...process.env, FARM_DOUBLE_VERBOSE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const dir = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /state in (\/tmp\/farm-mp157-double-\d+-[0-9a-f]{8})/.exec(stderr);
      if (match && stderr.includes('up on 127.0.0.1')) resolve(match[1] as string);
    });
    child.once('exit', () => reject(new Error(`run-with-double exited early: ${stderr}`)));
  });
  assert.ok(processesMentioning(dir).length >= 2, 'sshd and the FUSE bridge run with the state directory in their arguments');
  const ptys = childrenOf(child.pid as number).filter((pid) => processesMentioning('console-double').includes(pid));
  assert.equal(ptys.length, 2, 'the console and the helper line run as console-double children');
  const ramFiles = () => readdirSync('/dev/shm').filter((name) => name.startsWith(`farm-qemu-${child.pid}-`));
  assert.ok(ramFiles().length > 0, 'the emulated M4 has its RAM file');
  child.kill('SIGKILL');
  const deadline = Date.now() + 10_000;
  while (processesMentioning(dir).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(processesMentioning(dir), [], 'processes of the killed double');
  while (ptys.some(running) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(ptys.filter(running), [], 'the console and helper-line ptys of the killed double');
  // The state directory is left for the sweep: this one, or that of a double another test file
  // starts meanwhile (test files run two at a time), which may have swept it already.
  const sweepDeadline = Date.now() + 10_000;
  do sweepStaleDoubles();
  while (existsSync(dir) && Date.now() < sweepDeadline && (await new Promise((resolve) => setTimeout(resolve, 200)), true));
  assert.equal(existsSync(dir), false, 'swept');
  assert.deepEqual(ramFiles(), [], 'the RAM file swept');
});
