/**
 * The Linux board double as a Linux system in a container image (containers/ recipe
 * `board-double`): the image's own command runs this module with the host's Node.js and this
 * checkout bind-mounted read-only (see farm.containers.yaml), so the "board" the farm reaches
 * over the container's published SSH port is the same double as farm.mp157-double.yaml's (or,
 * with FARM_DOUBLE_BOARD=zynqmp-petalinux in the container's env, farm.zynqmp-double.yaml's): a
 * real sshd (here on 0.0.0.0:22 inside the container), FUSE at the kernel's paths, the emulated
 * remote core (Cortex-M4 / Cortex-R5F) on the image's QEMU.
 *
 *   node dist/targets/linux-remoteproc/testing/container-double.js --prepare   # on the host
 *
 * builds what the double runs and the image has no compiler for (the FUSE bridge, the console
 * double, the emulated cores' boot stubs and reference firmware); inside the container (no argument)
 * nothing is built (FARM_PREBUILT_ONLY=1: the checkout is read-only there) and a missing
 * binary is one line naming the --prepare step.
 */
import { fileURLToPath } from 'node:url';
import { ensureFirmwareBuilt, PREBUILT_ONLY_ENV } from '../../../firmware/build.js';
import { ensureConsoleDouble, ensureFuseBridge, ensureRpmsgHelper } from '../../../firmware/tools.js';
import { BoardDouble, DOUBLE_BOARDS, type DoubleBoard } from './board-double.js';

/** Which board the double in the container plays (a linux-remoteproc preset): container.env in farm.yaml. */
export const DOUBLE_BOARD_ENV = 'FARM_DOUBLE_BOARD';

/** What the image's sshd uses: the host key its first boot generated, and where the farm writes its public key. */
export const CONTAINER_DOUBLE_SSHD = {
  listenAddress: '0.0.0.0',
  port: 22,
  hostKeyFile: '/etc/ssh/ssh_host_ed25519_key',
  extraAuthorizedKeysFiles: ['/root/.ssh/authorized_keys'],
} as const;

/** Builds, on the host, what the double runs inside the image (which has no compiler). */
export async function prepareContainerDouble(): Promise<void> {
  const started = Date.now();
  await ensureFuseBridge();
  await ensureConsoleDouble();
  await ensureRpmsgHelper('host');
  // The core each board emulates (its boot stub and reference firmware).
  for (const machine of new Set(Object.values(DOUBLE_BOARDS).map((board) => board.machine))) await ensureFirmwareBuilt(machine);
  process.stdout.write(`board double (container): FUSE bridge, console double, rpmsg helper and the emulated cores' firmware built in ${Date.now() - started} ms\n`);
}

async function serve(): Promise<void> {
  process.env[PREBUILT_ONLY_ENV] = '1';
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const board = process.env[DOUBLE_BOARD_ENV] ?? 'stm32mp157c-dk2';
  if (!(board in DOUBLE_BOARDS)) {
    process.stderr.write(`board double (container): ${DOUBLE_BOARD_ENV}=${board} is not a board the double plays (${Object.keys(DOUBLE_BOARDS).join(', ')})\n`);
    process.exit(1);
  }
  let double: BoardDouble;
  try {
    double = await BoardDouble.start({ log, board: board as DoubleBoard, sshd: { ...CONTAINER_DOUBLE_SSHD, extraAuthorizedKeysFiles: [...CONTAINER_DOUBLE_SSHD.extraAuthorizedKeysFiles] } });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const hint = /not built/.test(message) ? ' (on the host: node dist/targets/linux-remoteproc/testing/container-double.js --prepare)' : '';
    process.stderr.write(`board double (container): ${message}${hint}\n`);
    process.exit(1);
  }
  log(`board double (container): ${DOUBLE_BOARDS[board as DoubleBoard].title} up, sshd on 0.0.0.0:${CONTAINER_DOUBLE_SSHD.port}`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`board double (container): ${signal}, stopping`);
    double.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`board double (container): stop failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const run = process.argv.includes('--prepare') ? prepareContainerDouble() : serve();
  run.catch((error: unknown) => {
    process.stderr.write(`board double (container): ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
