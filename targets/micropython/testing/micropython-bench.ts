/**
 * Figures for BENCHMARKS.md, on the STM32H747 board double:
 * - REPL exec round trip: one tiny raw-REPL exec (`pass`) over the pty, p50 / p99;
 * - echo round trip: one 64-byte RPMsg echo through MicroPython's openamp (two execs: send,
 *   receive) to the reference firmware on the QEMU Cortex-M4, p50 / p99;
 * - reset-to-ready: RemoteProc.stop() (a whole-chip reset) until the raw REPL answers again
 *   on the reopened port and the agent is imported.
 *
 *   npm run bench:micropython   (= node dist/targets/micropython/testing/micropython-bench.js)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFirmwareBuilt, firmwarePath } from '../../../firmware/build.js';
import { firmwareImageFromFile } from '../../firmware-image.js';
import { BoardConnection } from '../board-connection.js';
import { MicroPythonHost } from '../micropython-host.js';
import { BoardDouble } from './board-double.js';

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

const ms = (value: number): string => `${value.toFixed(2)} ms`;

async function main(): Promise<void> {
  await ensureFirmwareBuilt('cortex-m4', { programs: ['echo'] });
  const echo = await firmwareImageFromFile('h747', 'echo', firmwarePath('cortex-m4', 'echo'));
  const dir = mkdtempSync(join(tmpdir(), 'farm-mpy-bench-'));
  const board = new BoardDouble({ dir });
  const connection = new BoardConnection({ port: board.serialPath, baudRate: 115200, name: 'h747', rawPaste: true, log: () => {} });
  const host = new MicroPythonHost({ name: 'h747', connection, firmwareLoad: 'file', entry: 0, boardDir: '/flash', execTimeoutMs: 10_000, resetTimeoutMs: 30_000, faults: [], stallTimeoutMs: 1000, log: () => {} });
  try {
    await board.start();
    await connection.open({ timeoutMs: 10_000 });
    await host.prepare();
    const execs: number[] = [];
    for (let i = 0; i < 300; i++) {
      const started = process.hrtime.bigint();
      await connection.exec('pass', { timeoutMs: 10_000 });
      execs.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    await host.start(echo);
    const channel = await host.waitForChannel('rpmsg-openamp-demo-channel', { timeoutMs: 10_000 });
    const endpoint = await host.openEndpoint({ name: channel.name });
    const payload = new Uint8Array(64).fill(0xa5);
    const echoes: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = process.hrtime.bigint();
      await endpoint.send(payload);
      await endpoint.receive({ timeoutMs: 10_000 });
      echoes.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    const resets: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = process.hrtime.bigint();
      await host.stop();
      resets.push(Number(process.hrtime.bigint() - started) / 1e6);
      await host.start(echo);
    }
    await host.stop();
    console.log(`load average ${loadavg().map((value) => value.toFixed(2)).join(' ')}`);
    console.log(`REPL exec round trip (raw REPL 'pass', ${execs.length}x): p50 ${ms(percentile(execs, 50))}, p99 ${ms(percentile(execs, 99))}`);
    console.log(`echo round trip (64 B, send + receive execs, ${echoes.length}x): p50 ${ms(percentile(echoes, 50))}, p99 ${ms(percentile(echoes, 99))}`);
    console.log(`reset-to-ready (RemoteProc.stop() -> raw REPL + agent again, ${resets.length}x): p50 ${ms(percentile(resets, 50))}, max ${ms(Math.max(...resets))}`);
  } finally {
    host.dispose();
    await connection.close();
    await board.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
