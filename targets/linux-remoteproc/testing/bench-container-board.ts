/**
 * Figures of a Linux board that lives in a container image (the board-double recipe), next to
 * bench-double.ts's figures of the same double outside a container:
 *   node dist/containers/with-engine.js node dist/targets/linux-remoteproc/testing/bench-container-board.js
 * (after a build, `farm images build board-double` and `container-double.js --prepare`)
 * - bring-up: container start (image's own command) -> host key read -> sshd's banner -> SSH
 *   login, identity, remoteproc found, rpmsg helper running; and teardown (container removed);
 * - echo round trip: published port -> SSH channel -> rpmsg helper -> /dev/rpmsgN (FUSE) ->
 *   the double's OpenAMP host -> emulated Cortex-M4 and back, 17..496-byte payloads.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { echoRound, percentile, range } from '../../../suites/support/echo.js';
import { linuxRemoteprocKind } from '../index.js';
import { DOUBLE_MACHINE_ID } from './board-double.js';
import { prepareContainerDouble } from './container-double.js';

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
const fmt = (values: number[]) => `p50 ${percentile(values, 50).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms (n=${values.length})`;
const CHECKOUT = fileURLToPath(new URL('../../../../', import.meta.url));

async function main(): Promise<void> {
  await prepareContainerDouble();
  const scratch = mkdtempSync(join(tmpdir(), 'farm-bench-container-board-'));
  const params = linuxRemoteprocKind.parseParams(
    {
      preset: 'stm32mp157c-dk2',
      helperAbi: 'host',
      identity: { machineId: DOUBLE_MACHINE_ID },
      container: { image: 'board-double', binds: [`${process.execPath}:/opt/farm/node:ro`, `${CHECKOUT}:/opt/farm/checkout:ro`], devices: ['/dev/fuse'], capAdd: ['SYS_ADMIN'] },
    },
    'bench',
  );
  const log = { info: () => {}, console: () => {} };
  const setups: number[] = [];
  const teardowns: number[] = [];
  try {
    for (let round = 0; round < 3; round++) {
      const target = linuxRemoteprocKind.create('board-container', params, { configDir: scratch, firmware: {}, workDir: scratch });
      let start = process.hrtime.bigint();
      try {
        await target.setup(log);
        setups.push(ms(start));
        if (round === 2) {
          const host = target.host;
          await host.start(await target.firmwareFor('echo'));
          const channel = await host.waitForChannel('rpmsg-openamp-demo-channel');
          const endpoint = await host.openEndpoint({ name: channel.name });
          const stats = await echoRound(endpoint, channel.remoteAddr, range(1, 480));
          const roundTripsMs = stats.roundTripsUs.map((us) => us / 1000);
          console.log(`echo round trip (published port + SSH + helper + rpmsg_char + double + emulated M4), ${stats.count} messages: p50 ${percentile(roundTripsMs, 50).toFixed(2)} ms, p99 ${percentile(roundTripsMs, 99).toFixed(2)} ms`);
          await endpoint.close();
          await host.stop();
        }
      } finally {
        start = process.hrtime.bigint();
        await target.teardown();
        teardowns.push(ms(start));
      }
    }
    console.log(`bring-up (container start -> host key -> sshd banner -> login, identity, remoteproc, helper): ${fmt(setups)}`);
    console.log(`teardown (board session, then the container stopped and removed): ${fmt(teardowns)}`);
    console.log(`load average during the run: ${loadavg().map((value) => value.toFixed(2)).join(' ')}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
