/**
 * Figures of the Linux remoteproc path through the board double:
 *   node dist/targets/linux-remoteproc/testing/bench-double.js [--board zynqmp-petalinux] [--serial]
 * (--board: the double as that preset's board, default stm32mp157c-dk2; --serial: a serial-only
 * board: the shell on the console, the helper on its own UART, uploads through the console)
 * - per-command latency of the persistent SSH shell (`true`, sentinel-framed);
 * - firmware upload (SFTP, new content) + remoteproc start until `running`, and start alone
 *   (same content: no upload);
 * - echo round trip: SSH channel -> rpmsg helper -> /dev/rpmsgN (FUSE) -> BoardKernel ->
 *   OpenAMP host -> emulated Cortex-M4 and back, 17..496-byte payloads.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { echoRound, percentile, range } from '../../../suites/support/echo.js';
import { sha256Hex } from '../../firmware-image.js';
import { linuxRemoteprocKind } from '../index.js';
import type { LinuxRemoteprocHost } from '../linux-remoteproc-host.js';
import type { LinuxRemoteprocTarget } from '../linux-remoteproc-target.js';
import { BoardDouble, DOUBLE_BOARDS, DOUBLE_MACHINE_ID, type DoubleBoard } from './board-double.js';

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const fmt = (values: number[]) => `p50 ${percentile(values, 50).toFixed(2)} ms, p99 ${percentile(values, 99).toFixed(2)} ms (n=${values.length})`;

async function main(): Promise<void> {
  const boardAt = process.argv.indexOf('--board');
  const board = (boardAt >= 0 ? process.argv[boardAt + 1] : 'stm32mp157c-dk2') as DoubleBoard;
  if (!(board in DOUBLE_BOARDS)) throw new Error(`--board: one of ${Object.keys(DOUBLE_BOARDS).join(', ')}`);
  const serial = process.argv.includes('--serial');
  const scratch = mkdtempSync(join(tmpdir(), 'farm-bench-double-'));
  const password = randomBytes(9).toString('base64url');
  const double = await BoardDouble.start({ board, ...(serial ? { consolePassword: password, helperLine: true } : {}) });
  let target: LinuxRemoteprocTarget | undefined;
  try {
    process.env.FARM_BENCH_DOUBLE_PASSWORD = password;
    const access = serial
      ? {
          console: { path: double.consolePath, passwordEnv: 'FARM_BENCH_DOUBLE_PASSWORD', quietKernel: false },
          helperLine: { path: double.helperLinePath, boardDevice: double.helperLineDevice },
        }
      : { ssh: { host: '127.0.0.1', port: double.port, privateKey: double.clientKey, knownHosts: double.knownHosts } };
    const params = linuxRemoteprocKind.parseParams({ preset: board, helperAbi: 'host', identity: { machineId: DOUBLE_MACHINE_ID }, ...access }, 'bench');
    target = linuxRemoteprocKind.create(`${DOUBLE_BOARDS[board].hostname}`, params, { configDir: scratch, firmware: {}, workDir: scratch }) as LinuxRemoteprocTarget;
    console.log(`board double as ${DOUBLE_BOARDS[board].title}${serial ? ', serial-only (console + helper UART)' : ', over SSH'}`);
    const setupStart = process.hrtime.bigint();
    await target.setup({ info: () => {}, console: () => {} });
    console.log(`setup until ready (login, identity check, helper upload to the fresh double, helper start): ${ms(setupStart).toFixed(0)} ms`);
    const shell = target.board.shell!;
    const host = target.host as LinuxRemoteprocHost;

    const commands: number[] = [];
    for (let i = 0; i < 200; i++) {
      const start = process.hrtime.bigint();
      await shell.runCheck('true');
      commands.push(ms(start));
    }
    console.log(`shell command (${serial ? 'serial console' : 'persistent SSH channel'}): ${fmt(commands)}`);

    const firmware = await target.firmwareFor('echo');
    const uploads: number[] = [];
    const starts: number[] = [];
    for (let i = 0; i < 5; i++) {
      // New content each round (a trailing tag the loader ignores): the upload really happens.
      const path = join(scratch, 'echo.elf');
      writeFileSync(path, Buffer.concat([readFileSync(firmware.path!), randomBytes(16)]));
      const image = { label: 'echo.elf', path, sha256: sha256Hex(readFileSync(path)) };
      let start = process.hrtime.bigint();
      await host.start(image);
      uploads.push(ms(start));
      await host.stop();
      start = process.hrtime.bigint();
      await host.start(image);
      starts.push(ms(start));
      await host.stop();
    }
    console.log(`firmware upload + start until running: ${fmt(uploads)}`);
    console.log(`firmware start until running (already on the board): ${fmt(starts)}`);

    await host.start(firmware);
    const channel = await host.waitForChannel('rpmsg-openamp-demo-channel');
    const endpoint = await host.openEndpoint({ name: channel.name });
    const stats = await echoRound(endpoint, channel.remoteAddr, range(1, 480));
    const roundTripsMs = stats.roundTripsUs.map((us) => us / 1000);
    console.log(`echo round trip (${serial ? 'helper UART' : 'SSH'} + helper + rpmsg_char + double + emulated ${DOUBLE_BOARDS[board].machine}), ${stats.count} messages ${stats.bytes} bytes: ${fmt(roundTripsMs)}`);
    await endpoint.close();
    await host.stop();
    console.log(`load average during the run: ${loadavg().map((value) => value.toFixed(2)).join(' ')}`);
  } finally {
    await target?.teardown();
    await double.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
