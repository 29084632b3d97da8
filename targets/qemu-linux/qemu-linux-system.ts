import { rmSync } from 'node:fs';
import * as net from 'node:net';
import { InfrastructureError } from '../../base/errors.js';
import { onProcessExit } from '../../base/process/exit-cleanup.js';
import { ManagedProcess, type ProcessExit } from '../../base/process/managed-process.js';
import { runFileStem, sweepStaleRunFiles } from '../../base/process/run-files.js';
import { SerialConsole } from '../../base/serial/serial-console.js';
import { connectStartingQemu } from '../../qemu/qemu-instance.js';
import type { QmpClient } from '../../qemu/qmp.js';
import type { QemuLinuxParams } from './qemu-linux-params.js';

const UART_ID = 'farm-uart0';
const REMOTE_CONSOLE_ID = 'farm-remote-console';
const NET_ID = 'farm-net';
const ROOTFS_ID = 'farm-rootfs';

/** A free TCP port on 127.0.0.1 now (QEMU binds it a moment later; a lost race is retried). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** QEMU's command line for the user's system: their inputs, then what the farm connects to. */
export function qemuLinuxArgs(params: QemuLinuxParams, files: { qmp: string; uart: string; remoteConsole: string }, sshHostPort: number): string[] {
  const { qemu } = params;
  const pci = !qemu.netDevice.endsWith('-device');
  const args = ['-M', qemu.machine, '-smp', String(qemu.cpus), '-m', `${qemu.memoryMiB}M`];
  if (qemu.bios !== undefined) args.push('-bios', qemu.bios);
  args.push('-kernel', params.kernel);
  if (params.initrd !== undefined) args.push('-initrd', params.initrd);
  if (params.rootfs !== undefined) {
    // snapshot=on: the guest's writes go to a temporary overlay, never into the user's image.
    const format = /\.qcow2$/.test(params.rootfs) ? 'qcow2' : 'raw';
    args.push('-drive', `file=${params.rootfs},format=${format},if=none,id=${ROOTFS_ID},snapshot=on`, '-device', `${qemu.blockDevice},drive=${ROOTFS_ID}`);
  }
  args.push('-append', params.append);
  args.push(
    '-display', 'none', '-nodefaults', '-no-user-config', '-monitor', 'none',
    // A guest that reboots or panics (panic=-1) ends QEMU: the farm sees it instead of a reboot loop.
    '-no-reboot',
    '-chardev', `socket,id=${UART_ID},path=${files.uart},server=on,wait=off`,
    '-serial', `chardev:${UART_ID}`,
    '-qmp', `unix:${files.qmp},server=on,wait=off`,
    '-netdev', `user,id=${NET_ID},hostfwd=tcp:127.0.0.1:${sshHostPort}-:${params.guestSshPort}`,
    // romfile=: no PXE ROM (QEMU's efi-virtio.rom is not installed for RISC-V, and not needed).
    '-device', `${qemu.netDevice},netdev=${NET_ID}${pci ? ',romfile=' : ''}`,
  );
  if (params.remoteConsole) {
    args.push('-chardev', `socket,id=${REMOTE_CONSOLE_ID},path=${files.remoteConsole},server=on,wait=off`);
    if (params.remoteConsole.device === 'serial') args.push('-serial', `chardev:${REMOTE_CONSOLE_ID}`);
    else args.push('-device', pci ? 'virtio-serial-pci' : 'virtio-serial-device', '-device', `virtconsole,chardev=${REMOTE_CONSOLE_ID}`);
  }
  args.push('-S', ...qemu.extraArgs);
  return args;
}

export interface QemuLinuxSystemOptions {
  readonly name: string;
  readonly params: QemuLinuxParams;
  readonly onConsole: (stream: 'uart0' | 'remote-console', text: string) => void;
  readonly log: (line: string) => void;
  /** QEMU up to its QMP greeting and the consoles connected, ms. */
  readonly startTimeoutMs?: number;
}

/**
 * The user's QEMU running their Linux system: started paused, its UART and remote console (UNIX
 * socket chardevs) connected before the first instruction runs, SSH forwarded from a free
 * 127.0.0.1 port. Files are named by run (qemu/run-files) and swept at the next start after a
 * SIGKILL; QEMU dies with the farm (--pdeathsig). `close` leaves no process and no file.
 */
export class QemuLinuxSystem {
  private closed = false;

  private constructor(
    readonly name: string,
    readonly process: ManagedProcess,
    private readonly qmp: QmpClient,
    readonly uart: SerialConsole,
    readonly remoteConsole: SerialConsole | undefined,
    /** The 127.0.0.1 port forwarded to the guest's sshd. */
    readonly sshPort: number,
    private readonly releaseFiles: () => void,
  ) {}

  get exited(): Promise<ProcessExit> {
    return this.process.exited;
  }

  static async start(options: QemuLinuxSystemOptions): Promise<QemuLinuxSystem> {
    sweepStaleRunFiles();
    let lastError: unknown;
    // Another process may take the free port between our probe and QEMU's bind: try again.
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        return await QemuLinuxSystem.startOnce(options, await freePort());
      } catch (error) {
        lastError = error;
        if (!(error instanceof InfrastructureError) || !/host forwarding|Could not set up/i.test(error.message)) throw error;
        options.log(`${options.name}: the SSH forwarding port was taken meanwhile; retrying (${attempt}/3)`);
      }
    }
    throw lastError;
  }

  private static async startOnce(options: QemuLinuxSystemOptions, sshPort: number): Promise<QemuLinuxSystem> {
    const { name, params } = options;
    const stem = runFileStem('qemu-linux');
    const files = { qmp: `/tmp/${stem}.qmp`, uart: `/tmp/${stem}.uart`, remoteConsole: `/tmp/${stem}.console2` };
    const removeFiles = (): void => {
      for (const file of Object.values(files)) rmSync(file, { force: true });
    };
    const releaseExitHook = onProcessExit(removeFiles);
    const releaseFiles = (): void => {
      removeFiles();
      releaseExitHook();
    };
    let stderr = '';
    let child: ManagedProcess;
    try {
      child = ManagedProcess.spawn({
        name,
        file: params.qemu.binary,
        args: qemuLinuxArgs(params, files, sshPort),
        debianPackage: params.qemu.binary.startsWith('qemu-system-') ? 'qemu-system-misc' : undefined,
        onOutput: (stream, text) => {
          if (stream === 'stderr') stderr = (stderr + text).slice(-4000);
        },
      });
    } catch (error) {
      releaseFiles();
      throw error;
    }
    const timeoutMs = options.startTimeoutMs ?? 15_000;
    const startFailed = new AbortController();
    let qmp: QmpClient | undefined;
    let uart: SerialConsole | undefined;
    let remoteConsole: SerialConsole | undefined;
    try {
      qmp = await connectStartingQemu(name, child, files.qmp, timeoutMs, () => stderr, startFailed);
      // The chardevs exist once the monitor greets: connect before the guest runs, so no line is lost.
      uart = await SerialConsole.connect({ path: files.uart, name: `${name} uart0`, onText: (text) => options.onConsole('uart0', text) });
      if (params.remoteConsole) {
        remoteConsole = await SerialConsole.connect({ path: files.remoteConsole, name: `${name} remote console`, onText: (text) => options.onConsole('remote-console', text) });
      }
      await qmp.execute('cont');
      options.log(`${name}: QEMU ${params.qemu.binary} -M ${params.qemu.machine} running (pid ${child.pid}), guest SSH port ${params.guestSshPort} on 127.0.0.1:${sshPort}`);
      return new QemuLinuxSystem(name, child, qmp, uart, remoteConsole, sshPort, releaseFiles);
    } catch (error) {
      startFailed.abort(error);
      qmp?.close();
      await uart?.close();
      await remoteConsole?.close();
      await child.stop({ graceMs: 200 });
      releaseFiles();
      throw error instanceof InfrastructureError ? error : new InfrastructureError(`${name}: could not start QEMU: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Quits QEMU (QMP quit, then SIGKILL after a grace), closes the consoles, removes the files. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.qmp.closed) await this.qmp.execute('quit', undefined, { timeoutMs: 1000 }).catch(() => {});
    } finally {
      this.qmp.close();
      await this.process.stop({ graceMs: 1000 });
      await this.uart.close();
      await this.remoteConsole?.close();
      this.releaseFiles();
    }
  }
}
