/**
 * `npm run bench:riscv-linux`: kind qemu-linux on the riscv64 test image, through the farm's
 * real code path (QemuLinuxTarget): the image build from its cache, then ROUNDS times
 *   - boot: setup() from QEMU's spawn to the SSH session (TCG: no KVM for riscv64 here);
 *   - the board's demo: load_fw-shared, rpmsg_echo on the remote console, rpmsg-sample-ping-shared
 *     with 472 payloads inside the guest (wall time of the command, over SSH);
 *   - teardown: QEMU quit, consoles and files gone.
 * Prints one line per figure and a JSON line at the end.
 *
 *   node dist/targets/qemu-linux/testing/bench-riscv-linux.js [--rounds N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TargetLog } from '../../target.js';
import { parseQemuLinuxParams } from '../qemu-linux-params.js';
import { QemuLinuxTarget } from '../qemu-linux-target.js';
import { ensureRiscvLinuxImage } from './riscv-image.js';

const silent: TargetLog = { info: () => {}, console: () => {} };

function stats(values: number[]): { p50: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: sorted[Math.floor(sorted.length / 2)] as number, max: sorted.at(-1) as number };
}

async function main(): Promise<void> {
  const roundsAt = process.argv.indexOf('--rounds');
  const rounds = roundsAt > 0 ? Number(process.argv[roundsAt + 1]) : 3;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
  let started = performance.now();
  const image = await ensureRiscvLinuxImage();
  const imageMs = performance.now() - started;
  const params = parseQemuLinuxParams(
    {
      qemu: { machine: 'virt', cpus: 2, memoryMiB: 512, bios: 'default' },
      kernel: image.kernel,
      initrd: image.initrd,
      append: 'console=ttyS0 panic=-1',
      ssh: { user: 'root', privateKey: image.clientKey, hostKey: image.hostKey },
      remoteConsole: { prompt: 'msh />' },
      commands: [
        { name: 'load', run: 'load_fw-shared rtos 1', expect: ['successfully started'] },
        { name: 'remote', on: 'remote-console', run: 'rpmsg_echo', expect: ['waiting for the host'] },
        { name: 'ping', run: 'rpmsg-sample-ping-shared 472', timeoutMs: 120_000, expect: [{ pattern: 'Test Results: Error count = (\\d+)', equals: 0 }] },
      ],
    },
    'bench',
  );
  const boot: number[] = [];
  const demo: number[] = [];
  const teardown: number[] = [];
  const work = mkdtempSync(join(tmpdir(), 'farm-bench-rvlinux-'));
  try {
    for (let round = 0; round < rounds; round++) {
      const target = new QemuLinuxTarget('bench-riscv-linux', 'qemu-linux', params, { configDir: work, firmware: {}, workDir: work });
      try {
        started = performance.now();
        await target.setup(silent);
        boot.push(performance.now() - started);
        for (const name of ['load', 'remote']) {
          const report = await target.boardCommand(name);
          if (report.failures.length) throw new Error(`${name}: ${report.failures.join('; ')}`);
        }
        const ping = await target.boardCommand('ping');
        if (ping.failures.length) throw new Error(`ping: ${ping.failures.join('; ')}`);
        demo.push(ping.durationMs);
      } finally {
        started = performance.now();
        await target.teardown();
        teardown.push(performance.now() - started);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const line = (what: string, values: number[]) => {
    const { p50, max } = stats(values);
    process.stdout.write(`${what.padEnd(52)} p50 ${p50.toFixed(0)} ms, max ${max.toFixed(0)} ms (${values.length})\n`);
  };
  process.stdout.write(`image (cached: ${image.dir}) ready in ${imageMs.toFixed(0)} ms\n`);
  line('boot: QEMU spawn -> SSH session', boot);
  line('rpmsg-sample-ping-shared, 472 payloads in the guest', demo);
  line('teardown', teardown);
  process.stdout.write(`${JSON.stringify({ bench: 'riscv-linux', rounds, imageMs: Math.round(imageMs), bootMs: stats(boot), pingDemoMs: stats(demo), teardownMs: stats(teardown) })}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench-riscv-linux: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
