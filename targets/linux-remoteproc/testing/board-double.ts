/**
 * The Linux board double (an STM32MP157C-DK2 by default, or a ZynqMP running PetaLinux: see
 * DOUBLE_BOARDS): presents to the farm exactly what a real board presents, at the same
 * boundary, built from real parts:
 *   - a real OpenSSH server on 127.0.0.1 (own host key, an authorized key, a root password) in a
 *     private mount namespace (`unshare -m`);
 *   - inside it, the FUSE bridge mounted at the kernel's paths (/sys/class/remoteproc,
 *     /sys/kernel/debug/remoteproc, /sys/bus/rpmsg, /dev/rpmsg_ctrl0, /dev/rpmsgN, /dev/kmsg),
 *     /lib/firmware a plain directory, /etc/machine-id the board's identity, /var/tmp its own;
 *   - behind the files, BoardKernel: the project's OpenAMP host driving an emulated remote core
 *     (QEMU: the qemu-cortex-m4 or qemu-zynqmp-r5 machinery) that runs whatever image the farm wrote to
 *     /lib/firmware when `start` is written to `state`.
 * Everything it starts is released on stop(); processes of a double whose controller was killed
 * (its run-file stem names a dead pid) are swept by the next start.
 */
import { mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import type * as net from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfrastructureError } from '../../../base/errors.js';
import { ensureConsoleDouble, ensureFuseBridge } from '../../../firmware/tools.js';
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from '../../../base/process/managed-process.js';
import { QEMU_MACHINES } from '../../../qemu/machines.js';
import { runFileStem, sweepStaleRunFiles } from '../../../base/process/run-files.js';
import type { OpenAmpHost } from '../../openamp-host/openamp-host.js';
import { parseQemuParams } from '../../qemu/qemu-params.js';
import { QemuTarget } from '../../qemu/qemu-target.js';
import { killMountNamespace, mountNamespaceOf, startTestSshd, type TestSshd, type TestSshdOptions } from '../../ssh/testing/sshd-for-tests.js';
import { BoardKernel, type TtyLink } from './board-kernel.js';
import { serveKernel } from './kernel-socket.js';

export const DOUBLE_STEM_KIND = 'mp157-double';

/**
 * The boards the double can be, by the linux-remoteproc preset it stands for: the core QEMU
 * emulates behind remoteproc (the project's machinery for that kind), the instance's name, and
 * what the console and run-with-double call it. Everything else (sshd, the FUSE paths, the
 * kernel's drivers) is the same Linux.
 */
export const DOUBLE_BOARDS = {
  // The DK2's second UART for a serial-only helper: UART7 on the Arduino connector (alias serial2).
  'stm32mp157c-dk2': { title: 'STM32MP157C-DK2', hostname: 'mp157-double', qemuKind: 'qemu-cortex-m4', machine: 'cortex-m4', rprocName: 'm4', envPrefix: 'FARM_MP157_DOUBLE', helperLineDevice: '/dev/ttySTM2' },
  // The ZynqMP's second Cadence UART.
  'zynqmp-petalinux': { title: 'ZynqMP (PetaLinux)', hostname: 'zynqmp-double', qemuKind: 'qemu-zynqmp-r5', machine: 'zynqmp-r5', rprocName: 'r5_0', envPrefix: 'FARM_ZYNQMP_DOUBLE', helperLineDevice: '/dev/ttyPS1' },
} as const;
export type DoubleBoard = keyof typeof DOUBLE_BOARDS;
/** The machine id the double reports (its /etc/machine-id): farm files name it in `identity`. */
export const DOUBLE_MACHINE_ID = '5f3c0b1e2d4a4c6f8e9a0b1c2d3e4f50';

export interface BoardDoubleOptions {
  /** Progress and the double's own errors. */
  readonly log?: (line: string) => void;
  /** Root's password on the double (password-auth tests). */
  readonly rootPassword?: string;
  /** Which board (linux-remoteproc preset) the double plays; default stm32mp157c-dk2. */
  readonly board?: DoubleBoard;
  /** The remoteproc instance name (default: the board's, m4 on the MP157, r5_0 on the ZynqMP). */
  readonly rprocName?: string;
  /** Also a serial console (a pty: login prompt, password, then a shell in the namespace) with this root password. */
  readonly consolePassword?: string;
  /**
   * Also a second UART for a serial-only board's rpmsg helper: two ptys joined like a null-modem
   * cable, one end the board's device (the board's helperLineDevice in the namespace), the other
   * `helperLinePath` for the farm.
   */
  readonly helperLine?: boolean;
  /** Tests: a directory put first on the console shell's PATH (commands of the board to stand in for). */
  readonly consoleBinDir?: string;
  /** sshd's address, port, host key and extra authorized keys (the double inside a container: containers/ recipe board-double). */
  readonly sshd?: Pick<TestSshdOptions, 'listenAddress' | 'port' | 'hostKeyFile' | 'extraAuthorizedKeysFiles'>;
}

/** The console's login program: firmware/../testing/console-login.sh next to this module's source. */
function consoleLoginScript(): string {
  // dist/targets/linux-remoteproc/testing/board-double.js -> <repo>/targets/linux-remoteproc/testing/console-login.sh
  const here = fileURLToPath(new URL('.', import.meta.url));
  return join(here.replace(/\/dist\//, '/'), 'console-login.sh');
}

/** The PID namespace of process `pid` ("pid:[4026531836]"), undefined once it is gone. */
function pidNamespaceOf(pid: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Ends what doubles of dead controllers left: their namespaces (found through the fuse-bridge
 * processes, whose socket path carries the controller's pid) and their state directories.
 */
export function sweepStaleDoubles(log: (line: string) => void = () => {}): void {
  const stem = new RegExp(`/farm-${DOUBLE_STEM_KIND}-(\\d+)-[0-9a-f]{8}/`);
  const ourPids = pidNamespaceOf('self');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes('fuse-bridge')) continue;
    // A double in a container (the board-double image) names a pid of the container's own PID
    // namespace, which means nothing here: only doubles of our namespace are ours to judge.
    if (pidNamespaceOf(entry) !== ourPids) continue;
    const match = stem.exec(cmdline);
    if (!match || pidAlive(Number(match[1]))) continue;
    const namespace = mountNamespaceOf(Number(entry));
    if (namespace && namespace !== mountNamespaceOf(process.pid)) {
      const killed = killMountNamespace(namespace);
      log(`board double: swept ${killed} processes of a double whose controller (pid ${match[1]}) is gone`);
    }
  }
  for (const name of readdirSync(tmpdir())) {
    const match = new RegExp(`^farm-${DOUBLE_STEM_KIND}-(\\d+)-[0-9a-f]{8}$`).exec(name);
    if (match && !pidAlive(Number(match[1]))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  // The emulated M4's RAM file and QMP socket of a killed double (QEMU's run files).
  sweepStaleRunFiles();
}

/** The prelude run as root inside the namespace before sshd: mounts the kernel paths. */
const PRELUDE = [
  'mkdir -p "$BOARD/fuse" "$BOARD/realdev" "$BOARD/realsys-class" "$BOARD/realsys-bus"',
  'setpriv --pdeathsig KILL -- "$BRIDGE" "$BOARD/fuse" "$BOARD/k.sock" -o allow_other,fsname=farm-board-double &',
  'i=0',
  'until [ -d "$BOARD/fuse/dev" ]; do',
  '  i=$((i+1)); [ $i -gt 400 ] && { echo "board double: fuse-bridge did not mount" >&2; exit 1; }; sleep 0.05',
  'done',
  'mount --rbind /dev "$BOARD/realdev"',
  'mount -t tmpfs -o mode=755 farm-dev /dev',
  'for e in "$BOARD"/realdev/*; do ln -s "$e" "/dev/${e##*/}"; done',
  'rm -f /dev/kmsg',
  'ln -s "$BOARD/fuse/dev/kmsg" /dev/kmsg',
  'ln -s "$BOARD/fuse/dev/rpmsg_ctrl0" /dev/rpmsg_ctrl0',
  'for d in class bus; do',
  '  mount --bind "/sys/$d" "$BOARD/realsys-$d"',
  '  mount -t tmpfs -o mode=755 "farm-sys-$d" "/sys/$d"',
  '  for e in "$BOARD/realsys-$d"/*; do ln -s "$e" "/sys/$d/${e##*/}"; done',
  'done',
  'mkdir /sys/class/remoteproc /sys/bus/rpmsg',
  'mount --bind "$BOARD/fuse/remoteproc-class" /sys/class/remoteproc',
  'mount --bind "$BOARD/fuse/rpmsg-bus" /sys/bus/rpmsg',
  'mount -t tmpfs -o mode=700 farm-debugfs /sys/kernel/debug',
  'mkdir /sys/kernel/debug/remoteproc',
  'mount --bind "$BOARD/fuse/remoteproc-debug" /sys/kernel/debug/remoteproc',
  'mount --bind "$BOARD/firmware" /lib/firmware',
  'mount --bind "$BOARD/machine-id" /etc/machine-id',
  'mkdir -p "$BOARD/var-tmp"',
  'mount --bind "$BOARD/var-tmp" /var/tmp',
].join('\n');

/** console-double with the login script, its shell entering the double's mount namespace. */
async function startConsole(namespacePid: number, password: string, board: (typeof DOUBLE_BOARDS)[DoubleBoard], binDir?: string): Promise<{ path: string; process: ManagedProcess }> {
  const binary = await ensureConsoleDouble();
  let output = '';
  let announce: (path: string) => void = () => {};
  const announced = new Promise<string>((resolve) => (announce = resolve));
  const child = ManagedProcess.spawn({
    name: 'board double console',
    file: binary,
    args: ['nsenter', `--mount=/proc/${namespacePid}/ns/mnt`, '--', 'sh', consoleLoginScript()],
    env: {
      CONSOLE_PASSWORD: password,
      CONSOLE_HOSTNAME: board.hostname,
      CONSOLE_TITLE: `${board.title} board double`,
      ...(binDir ? { PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}` } : {}),
    },
    onOutput: (_stream, text) => {
      output += text;
      const line = /^(\/dev\/pts\/\d+)\n/.exec(output);
      if (line) announce(line[1] as string);
    },
  });
  const path = await Promise.race([announced, child.exited.then(() => undefined), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000).unref())]);
  if (!path) {
    await child.stop();
    throw new InfrastructureError(`board double: the console did not start: ${output.trim()}`);
  }
  return { path, process: child };
}

/** The second UART: console-double --pair, the board's end linked at `boardDevice` in the namespace. */
async function startHelperLine(nsRoot: string, boardDevice: string): Promise<{ path: string; process: ManagedProcess }> {
  let output = '';
  const child = ManagedProcess.spawn({ name: 'board double helper line', file: await ensureConsoleDouble(), args: ['--pair'], onOutput: (_stream, text) => (output += text) });
  const deadline = Date.now() + 5000;
  let ends: RegExpExecArray | null = null;
  while (!(ends = /^(\/dev\/pts\/\d+)\n(\/dev\/pts\/\d+)\n/.exec(output)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!ends) {
    await child.stop();
    throw new InfrastructureError(`board double: the helper line did not start: ${output.trim()}`);
  }
  symlinkSync(ends[2] as string, `${nsRoot}${boardDevice}`);
  return { path: ends[1] as string, process: child };
}

/** Relays a pty master to a UNIX socket (the terminal's far side); argv[1] is the socket. */
const TTY_RELAY = "const s=require('net').connect(process.argv[1]);process.stdin.pipe(s);s.pipe(process.stdout);s.on('close',()=>process.exit(0));";

/**
 * /dev/ttyRPMSG<n> of the double: a real pty (console-double) whose far side is relayed to the
 * BoardKernel's rpmsg_tty endpoint, symlinked into the namespace's /dev. A real terminal, so the
 * farm's helper sets raw mode on it as on a board. What the remote sends before the tty is raw
 * waits (console-double --hold-until-raw): a cooked pty would echo it back to the remote.
 */
class TtyFactory {
  nsRoot: () => string = () => '';
  private readonly live = new Set<() => Promise<void>>();

  constructor(private readonly dir: string) {}

  async create(index: number, link: TtyLink): Promise<() => Promise<void>> {
    const socketPath = join(this.dir, `tty${index}-${Date.now()}.sock`);
    let connection: net.Socket | undefined;
    // What the remote sends before the relay has connected (a "bound" at once) waits for it.
    const early: Uint8Array[] = [];
    link.output = (data) => (connection ? connection.write(data) : early.push(data));
    const server = await new Promise<net.Server>((resolve, reject) => {
      const listening = createServer((socket) => {
        connection = socket;
        for (const data of early.splice(0)) socket.write(data);
        socket.on('data', (chunk: Buffer) => link.onInput(new Uint8Array(chunk)));
        socket.on('error', () => {});
      });
      listening.once('error', reject);
      listening.listen(socketPath, () => resolve(listening));
    });
    let output = '';
    const relay = ManagedProcess.spawn({ name: `ttyRPMSG${index}`, file: await ensureConsoleDouble(), args: ['--hold-until-raw', process.execPath, '-e', TTY_RELAY, socketPath], onOutput: (_s, text) => (output += text) });
    const deadline = Date.now() + 5000;
    let pty: string | undefined;
    while (!pty && Date.now() < deadline) {
      pty = /^(\/dev\/pts\/\d+)\n/.exec(output)?.[1];
      if (!pty) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const node = `${this.nsRoot()}/dev/ttyRPMSG${index}`;
    if (pty) symlinkSync(pty, node);
    const remove = async () => {
      this.live.delete(remove);
      try {
        unlinkSync(node);
      } catch {
        // gone with the namespace
      }
      await relay.stop();
      server.close();
      connection?.destroy();
    };
    this.live.add(remove);
    if (!pty) {
      await remove();
      throw new InfrastructureError(`board double: no pty for ttyRPMSG${index}: ${output}`);
    }
    return remove;
  }

  async closeAll(): Promise<void> {
    for (const remove of [...this.live]) await remove();
  }
}

export class BoardDouble {
  private constructor(
    readonly dir: string,
    readonly sshd: TestSshd,
    readonly kernel: BoardKernel,
    /** The emulated remote core (QEMU). */
    readonly core: QemuTarget,
    private readonly server: net.Server,
    private readonly log: (line: string) => void,
    /** The console's pty (the "UART" to open with serialport), when asked for. */
    readonly consolePath: string | undefined,
    private readonly console: ManagedProcess | undefined,
    private readonly cleanups: readonly (() => Promise<void>)[] = [],
    /** The farm's end of the helper's own UART (options.helperLine), and the board's device for it. */
    readonly helperLinePath: string | undefined = undefined,
    readonly helperLineDevice: string = '',
  ) {}

  get port(): number {
    return this.sshd.port;
  }

  get hostKey(): string {
    return this.sshd.hostKey;
  }

  get clientKey(): string {
    return this.sshd.clientKey;
  }

  /** A known_hosts file listing the double's host key for [127.0.0.1]:port. */
  get knownHosts(): string {
    return join(this.dir, 'known_hosts');
  }

  get firmwareDir(): string {
    return join(this.dir, 'firmware');
  }

  static async start(options: BoardDoubleOptions = {}): Promise<BoardDouble> {
    const log = options.log ?? (() => {});
    sweepStaleDoubles(log);
    const bridge = await ensureFuseBridge();
    const dir = join(tmpdir(), runFileStem(DOUBLE_STEM_KIND));
    mkdirSync(join(dir, 'firmware'), { recursive: true });
    mkdirSync(join(dir, 'core'), { recursive: true });
    writeFileSync(join(dir, 'machine-id'), `${DOUBLE_MACHINE_ID}\n`);
    const board = DOUBLE_BOARDS[options.board ?? 'stm32mp157c-dk2'];
    const core = new QemuTarget(`${board.hostname}-core`, board.qemuKind, QEMU_MACHINES[board.machine], parseQemuParams(undefined, 'double'), { configDir: dir, firmware: {}, workDir: join(dir, 'core') });
    let server: net.Server | undefined;
    let sshd: TestSshd | undefined;
    const cleanups: (() => Promise<void>)[] = [];
    try {
      await core.setup({ info: (line) => log(`board double: ${line}`), console: () => {} });
      const host = core.host as OpenAmpHost;
      let nsRoot = '';
      const ttyFactory = new TtyFactory(dir);
      cleanups.push(() => ttyFactory.closeAll());
      const kernel = new BoardKernel({
        ttyDevice: (index, link) => ttyFactory.create(index, link),
        host,
        firmwareDir: join(dir, 'firmware'),
        rprocName: options.rprocName ?? board.rprocName,
        devNode: async (name, present) => {
          const node = `${nsRoot}/dev/${name}`;
          if (present) symlinkSync(join(dir, 'fuse', 'dev', name), node);
          else {
            try {
              unlinkSync(node);
            } catch {
              // already gone (the namespace is going away)
            }
          }
        },
      });
      host.remoteproc.onCrash((reason) => kernel.reportCrash(reason));
      ttyFactory.nsRoot = () => nsRoot;
      server = await serveKernel(kernel, join(dir, 'k.sock'), log);
      sshd = await startTestSshd({
        ...options.sshd,
        dir: join(dir, 'sshd'),
        ...(options.rootPassword !== undefined ? { rootPassword: options.rootPassword } : {}),
        prelude: PRELUDE,
        env: { BRIDGE: bridge, BOARD: dir },
        onLog: (line) => {
          if (/error|fatal|fuse/i.test(line)) log(`board double sshd: ${line}`);
        },
      });
      nsRoot = `/proc/${sshd.process.pid}/root`;
      writeFileSync(join(dir, 'known_hosts'), `[127.0.0.1]:${sshd.port} ${sshd.hostKey}\n`);
      log(`board double: sshd on ${options.sshd?.listenAddress ?? '127.0.0.1'}:${sshd.port}, state in ${dir}`);
      const console = options.consolePassword === undefined ? undefined : await startConsole(sshd.process.pid, options.consolePassword, board, options.consoleBinDir);
      const helperLine = options.helperLine ? await startHelperLine(nsRoot, board.helperLineDevice) : undefined;
      if (helperLine) {
        cleanups.push(async () => {
          await helperLine.process.stop();
        });
      }
      return new BoardDouble(dir, sshd, kernel, core, server, log, console?.path, console?.process, cleanups, helperLine?.path, board.helperLineDevice);
    } catch (error) {
      for (const cleanup of cleanups) await cleanup().catch(() => {});
      await sshd?.stop().catch(() => {});
      server?.close();
      await core.teardown().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
      throw error instanceof InfrastructureError ? error : new InfrastructureError(`board double did not start: ${String(error)}`, { cause: error });
    }
  }

  /** Kills sshd, every session and the FUSE bridge (the namespace and its mounts go with them), QEMU; removes the state. */
  async stop(): Promise<void> {
    for (const cleanup of this.cleanups) await cleanup().catch(() => {});
    await this.console?.stop();
    await this.sshd.stop();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.core.teardown();
    rmSync(this.dir, { recursive: true, force: true });
    this.log('board double: stopped');
  }
}
