/**
 * The STM32MP157 board double as a Linux system in a container image (containers/ recipe
 * `board-double`): the image's own command runs this module with the host's Node.js and this
 * checkout bind-mounted read-only (see farm.containers.yaml), so the "board" the farm reaches
 * over the container's published SSH port is the same double as farm.mp157-double.yaml's: a
 * real sshd (here on 0.0.0.0:22 inside the container), FUSE at the kernel's paths, an emulated
 * Cortex-M4 on the image's QEMU.
 *
 *   node dist/targets/linux-remoteproc/testing/container-double.js --prepare   # on the host
 *
 * builds what the double runs and the image has no compiler for (the FUSE bridge, the console
 * double, the Cortex-M4 boot stub and reference firmware); inside the container (no argument)
 * nothing is built (FARM_PREBUILT_ONLY=1: the checkout is read-only there) and a missing
 * binary is one line naming the --prepare step.
 */
import { fileURLToPath } from 'node:url';
import { ensureFirmwareBuilt, PREBUILT_ONLY_ENV } from '../../../firmware/build.js';
import { ensureConsoleDouble, ensureFuseBridge, ensureRpmsgHelper } from '../../../firmware/tools.js';
import { BoardDouble } from './board-double.js';

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
  await ensureFirmwareBuilt('cortex-m4');
  process.stdout.write(`board double (container): FUSE bridge, console double, rpmsg helper and Cortex-M4 firmware built in ${Date.now() - started} ms\n`);
}

async function serve(): Promise<void> {
  process.env[PREBUILT_ONLY_ENV] = '1';
  const log = (line: string) => process.stdout.write(`${line}\n`);
  let double: BoardDouble;
  try {
    double = await BoardDouble.start({ log, sshd: { ...CONTAINER_DOUBLE_SSHD, extraAuthorizedKeysFiles: [...CONTAINER_DOUBLE_SSHD.extraAuthorizedKeysFiles] } });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const hint = /not built/.test(message) ? ' (on the host: node dist/targets/linux-remoteproc/testing/container-double.js --prepare)' : '';
    process.stderr.write(`board double (container): ${message}${hint}\n`);
    process.exit(1);
  }
  log(`board double (container): up, sshd on 0.0.0.0:${CONTAINER_DOUBLE_SSHD.port}`);
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
