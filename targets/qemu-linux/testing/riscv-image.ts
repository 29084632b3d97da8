/**
 * The riscv64 Linux test image of `kind: qemu-linux` (farm.riscv-linux.yaml), built here from
 * real parts:
 *   - Debian trixie's riscv64 kernel (linux-image-riscv64 resolved from the signed index), booted
 *     by QEMU's own OpenSSI (-bios default) on `-M virt`;
 *   - an initramfs assembled here (no riscv64 emulation needed): busybox-static, dropbear and the
 *     libraries it links, the kernel modules virtio_net needs (and uio, which the `insmod` step
 *     loads), an init script, a dropbear host key made at build time (its public half is what the
 *     farm pins) and the farm's client key;
 *   - "the board's own tools": the farm's reference remote (firmware/, linux-process machine) and
 *     its C host (firmware/tools/ping-host.c `--demo`) built static for riscv64 Linux, wrapped in
 *     scripts named as seed 002's RT-Thread image names them: load_fw-shared,
 *     rpmsg-sample-ping-shared, matrix_multiply-shared on Linux, rpmsg_echo and matrix_multiplyd
 *     in the remote shell on the second console (a virtio console).
 *
 * This stands in for seed 002's own image (patched QEMU and OpenSBI, a custom kernel module,
 * RT-Thread on a second hart), whose sources are not reachable here: in this image the "remote"
 * is a Linux process on the same kernel, and the "remote shell" a busybox shell on /dev/hvc0 with
 * msh's prompt. The OpenAMP traffic between them is real (virtio rings in POSIX shared memory,
 * open-amp's Linux machine layout), and so are the verdict lines the farm checks.
 *
 * The image is cached in firmware/build/images/riscv64-linux/<hash of the recipe>/ and built
 * under a temporary name then renamed (two test processes may build it at once).
 *
 *   node dist/targets/qemu-linux/testing/riscv-image.js [--print-env] [-- COMMAND ARGS...]
 *
 * builds (or finds) the image, then runs COMMAND with FARM_RISCV_LINUX_KERNEL, _INITRD,
 * _HOST_KEY and _CLIENT_KEY set (farm.riscv-linux.yaml refers to them as ${...}).
 * `--check` lists what building and booting it needs on this machine, `--fix` installs it as
 * root (npm run setup).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { InfrastructureError } from '../../../base/errors.js';
import { runFileStem, sweepStaleRunFiles } from '../../../base/process/run-files.js';
import { onProcessExit } from '../../../base/process/exit-cleanup.js';
import { firmwareSourceDir } from '../../../firmware/build.js';
import { ssh2 } from '../../ssh/host-key.js';
import { checkPrerequisitesCli } from '../../prerequisites-cli.js';
import type { Prerequisite } from '../../target.js';
import { toolPrerequisite } from '../../tool-prerequisite.js';
import { DebianPackageIndex, type DebianSource } from './debian-packages.js';
import { dropbearEd25519HostKey } from './dropbear-key.js';
import { newcArchive, type CpioEntry } from './newc-cpio.js';

export const DEBIAN_SOURCE: DebianSource = {
  mirror: 'http://deb.debian.org/debian',
  suite: 'trixie',
  architecture: 'riscv64',
  keyring: '/usr/share/keyrings/debian-archive-keyring.gpg',
};

/** Userland packages unpacked into the initramfs: busybox, dropbear and what dropbear links. */
export const USERLAND_PACKAGES = ['busybox-static', 'dropbear-bin', 'libc6', 'libgcc-s1', 'libcrypt1', 'libtomcrypt1', 'libtommath1', 'libgmp10', 'zlib1g'] as const;
/**
 * Kernel modules copied out of the kernel package (uncompressed): virtio_net and its
 * dependencies, in load order; uio for the `insmod` step; virtio_blk for a `rootfs:` disk.
 */
export const KERNEL_MODULES = ['failover', 'net_failover', 'virtio_net', 'uio', 'virtio_blk'] as const;
/** Guest-side names shared by the scripts (the demo's shm and doorbell socket). */
const DEMO_SHM = 'openamp-demo.shm';
const DEMO_SOCKET = '/run/openamp-demo.sock';

/** Environment variables the image is handed to a command with. */
export const IMAGE_ENV = {
  kernel: 'FARM_RISCV_LINUX_KERNEL',
  initrd: 'FARM_RISCV_LINUX_INITRD',
  hostKey: 'FARM_RISCV_LINUX_HOST_KEY',
  clientKey: 'FARM_RISCV_LINUX_CLIENT_KEY',
} as const;

const INIT = `#!/bin/busybox sh
# PID 1 of the farm's riscv64 Linux test image (targets/qemu-linux/testing/riscv-image.ts).
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
echo "farm-image: Linux $(uname -r) up; loading virtio_net"
for m in failover net_failover virtio_net; do insmod /lib/modules/$(uname -r)/$m.ko || echo "farm-image: insmod $m failed"; done
ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2
/usr/sbin/dropbear -r /etc/dropbear/dropbear_ed25519_host_key -s -p 22 -P /run/dropbear.pid
echo "farm-image: dropbear listening on port 22"
while :; do sleep 3600; done
`;

const LOAD_FW = `#!/bin/sh
# Stands in for seed 002's load_fw-shared (libmetal remoteproc loading RT-Thread onto hart 1):
# starts the "remote OS" image given on the second console (/dev/hvc0). Here that is a shell
# standing in for RT-Thread's msh, from which the reference remote programs are started.
fw="$1"; hart="\${2:-1}"
[ -n "$fw" ] || { echo "usage: load_fw-shared FIRMWARE [HART]" >&2; exit 2; }
echo "Loading Executable Demo"
path="$fw"; [ -e "$path" ] || path="/lib/firmware/$fw"
[ -x "$path" ] || { echo "ERROR: cannot open $fw" >&2; exit 1; }
[ -c /dev/hvc0 ] || { echo "ERROR: no remote console (/dev/hvc0)" >&2; exit 1; }
if [ -f /run/remote-os.pid ] && kill -0 "$(cat /run/remote-os.pid)" 2>/dev/null; then echo "ERROR: the remote processor runs already" >&2; exit 1; fi
setsid "$path" </dev/hvc0 >/dev/hvc0 2>&1 &
echo $! > /run/remote-os.pid
echo "Set hartid to $hart."
echo "Set state to start."
echo "successfully started the processor"
`;

const REMOTE_OS = `#!/bin/sh
# The remote side's shell on the second console, standing in for RT-Thread's msh: its commands
# (rpmsg_echo, matrix_multiplyd) run the farm's reference remote (firmware/, built for riscv64 Linux).
export PATH=/usr/lib/farm-remote/bin:/usr/bin:/usr/sbin
export PS1='msh />'
echo
echo " \\\\ | /"
echo "- farm -   remote shell (stand-in for RT-Thread's msh)"
echo " / | \\\\"
exec /bin/sh -i
`;

function remoteProgram(elf: string): string {
  return `#!/bin/sh\nrm -f /dev/shm/${DEMO_SHM}\nexec /lib/firmware/${elf} --shm ${DEMO_SHM} --socket ${DEMO_SOCKET}\n`;
}

function demoHost(mode: 'echo' | 'matrix', rounds: number): string {
  return `#!/bin/sh\n# The board's demo host (firmware/tools/ping-host.c --demo ${mode}): ROUNDS (default ${rounds}), then its verdict line.\nexec /usr/lib/farm-demo/ping-host --demo ${mode} --shm ${DEMO_SHM} --socket ${DEMO_SOCKET} --rounds "\${1:-${rounds}}" --timeout-ms 30000\n`;
}

export interface RiscvLinuxImage {
  readonly dir: string;
  readonly kernel: string;
  readonly initrd: string;
  /** The dropbear host key's public line, to pin. */
  readonly hostKey: string;
  /** The farm's private key (authorized in the image). */
  readonly clientKey: string;
  readonly manifest: ImageManifest;
}

interface ImageManifest {
  readonly recipe: string;
  readonly kernelVersion: string;
  readonly packages: readonly { readonly name: string; readonly version: string; readonly sha256: string }[];
}

/** What building the image and booting it need here (Debian packages). */
export function imagePrerequisites(): Prerequisite[] {
  const keyring = existsSync(DEBIAN_SOURCE.keyring);
  return [
    toolPrerequisite('riscv64 Linux cross compiler (the remote and the demo host)', 'riscv64-linux-gnu-gcc', 'gcc-riscv64-linux-gnu'),
    toolPrerequisite('make', 'make', 'make'),
    toolPrerequisite('xz (Packages.xz, kernel modules)', 'xz', 'xz-utils'),
    toolPrerequisite('gpgv (the mirror\'s InRelease signature)', 'gpgv', 'gpgv'),
    { name: 'Debian archive keyring', ok: keyring, detail: keyring ? DEBIAN_SOURCE.keyring : `${DEBIAN_SOURCE.keyring} missing`, debianPackages: ['debian-archive-keyring'] },
    toolPrerequisite('dpkg-deb (unpacking the packages)', 'dpkg-deb', 'dpkg'),
    toolPrerequisite('tar', 'tar', 'tar'),
    toolPrerequisite('QEMU for riscv64 (with its OpenSBI)', 'qemu-system-riscv64', 'qemu-system-misc'),
  ];
}

function assertPrerequisites(): void {
  const missing = imagePrerequisites().filter((item) => !item.ok);
  if (missing.length === 0) return;
  const packages = [...new Set(missing.flatMap((item) => item.debianPackages ?? []))];
  throw new InfrastructureError(`the riscv64 Linux test image needs ${missing.map((item) => item.name).join(', ')}: apt-get install ${packages.join(' ')} (or: node dist/targets/qemu-linux/testing/riscv-image.js --fix)`);
}

function imagesDir(): string {
  return join(firmwareSourceDir(), 'build', 'images');
}

/** The riscv64 binaries the image carries, built by the firmware Makefiles (make keeps them up to date). */
async function buildGuestTools(log: (line: string) => void): Promise<{ echo: string; matrix: string; pingHost: string }> {
  const fw = firmwareSourceDir();
  log('building the reference remote and the demo host for riscv64 Linux (riscv64-linux-gnu-gcc, static)');
  for (const args of [['-C', fw, 'MACHINES=riscv64-linux'], ['-C', join(fw, 'tools'), 'riscv64-ping-host']]) {
    const result = await execa('make', args, { reject: false, all: true, stdin: 'ignore', timeout: 300_000 });
    if (result.exitCode !== 0) throw new InfrastructureError(`make ${args.join(' ')} failed (exit ${result.exitCode}):\n${String(result.all ?? '').slice(-3000)}`);
  }
  return { echo: join(fw, 'build', 'riscv64-linux', 'echo.elf'), matrix: join(fw, 'build', 'riscv64-linux', 'matrix-multiply.elf'), pingHost: join(fw, 'build', 'tools', 'riscv64', 'ping-host') };
}

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The recipe's hash: what goes into the image except what the mirror resolves at build time. */
function recipeHash(tools: { echo: string; matrix: string; pingHost: string }): string {
  const recipe = JSON.stringify({
    version: 1,
    source: DEBIAN_SOURCE,
    packages: USERLAND_PACKAGES,
    modules: KERNEL_MODULES,
    scripts: [INIT, LOAD_FW, REMOTE_OS, remoteProgram('x'), demoHost('echo', 1)],
    builder: sha256(readFileSync(new URL(import.meta.url))),
    tools: [tools.echo, tools.matrix, tools.pingHost].map((file) => sha256(readFileSync(file))),
  });
  return sha256(recipe).slice(0, 16);
}

/** Entries for a folder of unpacked packages, merged-/usr style (lib/, bin/, sbin/ go under usr/), without docs. */
function treeEntries(root: string, seen: Set<string>): CpioEntry[] {
  const entries: CpioEntry[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      let path = relative(root, full);
      if (/^(lib|bin|sbin)(\/|$)/.test(path)) path = `usr/${path}`;
      if (/^usr\/share\/(doc|man|lintian|bug|info)(\/|$)/.test(path)) continue;
      const stat = lstatSync(full);
      if (stat.isDirectory()) {
        if (!seen.has(path)) entries.push({ type: 'dir', path, mode: stat.mode & 0o7777 });
        seen.add(path);
        walk(full);
      } else if (!seen.has(path)) {
        seen.add(path);
        if (stat.isSymbolicLink()) entries.push({ type: 'symlink', path, target: readlinkSync(full) });
        else if (stat.isFile()) entries.push({ type: 'file', path, data: readFileSync(full), mode: stat.mode & 0o7777 });
      }
    }
  };
  walk(root);
  return entries;
}

async function build(dir: string, tools: { echo: string; matrix: string; pingHost: string }, recipe: string, log: (line: string) => void): Promise<void> {
  const index = await DebianPackageIndex.fetch(DEBIAN_SOURCE, log);
  const kernelPackage = index.resolveMeta(`linux-image-${DEBIAN_SOURCE.architecture}`, /^linux-image-\d.*-riscv64$/);
  const userland = USERLAND_PACKAGES.map((name) => index.get(name));
  const debCache = join(imagesDir(), 'debs');
  const staging = join(dir, 'staging');
  const unpacked = join(staging, 'root');
  const kernelDir = join(staging, 'kernel');
  mkdirSync(unpacked, { recursive: true });
  mkdirSync(kernelDir, { recursive: true });
  for (const pkg of userland) {
    const deb = await index.deb(pkg, debCache, log);
    await execa('dpkg-deb', ['-x', deb, unpacked], { timeout: 120_000 });
  }
  const kernelDeb = await index.deb(kernelPackage, debCache, log);
  log(`unpacking ${kernelPackage.name} ${kernelPackage.version}: the kernel and ${KERNEL_MODULES.join(', ')}`);
  // Only the kernel and the modules: the package holds ~4,000 modules the image does not need.
  await execa('sh', ['-c', `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards './boot/vmlinu*' ${KERNEL_MODULES.map((m) => `'*/${m}.ko.xz'`).join(' ')}`, 'sh', kernelDeb, kernelDir], { timeout: 600_000 });
  const kernelFile = readdirSync(join(kernelDir, 'boot')).find((name) => name.startsWith('vmlinu'));
  if (!kernelFile) throw new InfrastructureError(`${kernelPackage.name}: no /boot/vmlinu* in the package`);
  const kernelVersion = kernelFile.replace(/^vmlinu[xz]-/, '');
  const modules: CpioEntry[] = [];
  for (const name of KERNEL_MODULES) {
    const found = (await execa('find', [kernelDir, '-name', `${name}.ko.xz`])).stdout.split('\n').filter(Boolean)[0];
    if (!found) throw new InfrastructureError(`${kernelPackage.name}: no module ${name}.ko.xz`);
    const ko = await execa('xz', ['-dc', found], { encoding: 'buffer' });
    modules.push({ type: 'file', path: `usr/lib/modules/${kernelVersion}/${name}.ko`, data: ko.stdout as Uint8Array });
  }

  const hostKey = dropbearEd25519HostKey();
  const client = ssh2().utils.generateKeyPairSync('ed25519', { comment: 'openamp-farm riscv64-linux image' });
  const text = (path: string, content: string, mode = 0o644): CpioEntry => ({ type: 'file', path, data: Buffer.from(content), mode });
  const seen = new Set<string>();
  const entries: CpioEntry[] = [
    ...['usr', 'usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib/modules', `usr/lib/modules/${kernelVersion}`, 'usr/lib/firmware', 'usr/lib/farm-demo', 'usr/lib/farm-remote', 'usr/lib/farm-remote/bin', 'etc', 'etc/dropbear', 'proc', 'sys', 'dev', 'tmp', 'run', 'var'].map(
      (path): CpioEntry => ({ type: 'dir', path }),
    ),
    { type: 'dir', path: 'root', mode: 0o700 },
    { type: 'dir', path: 'root/.ssh', mode: 0o700 },
    { type: 'symlink', path: 'bin', target: 'usr/bin' },
    { type: 'symlink', path: 'sbin', target: 'usr/sbin' },
    { type: 'symlink', path: 'lib', target: 'usr/lib' },
    { type: 'char', path: 'dev/console', major: 5, minor: 1 },
  ];
  for (const entry of entries) seen.add(entry.path);
  entries.push(...treeEntries(unpacked, seen));
  entries.push(
    ...modules,
    text('init', INIT, 0o755),
    text('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'),
    text('etc/group', 'root:x:0:\n'),
    text('etc/shadow', 'root:*:20000:0:99999:7:::\n', 0o600),
    text('etc/shells', '/bin/sh\n'),
    { type: 'file', path: 'etc/dropbear/dropbear_ed25519_host_key', data: hostKey.dropbearFile, mode: 0o600 },
    text('root/.ssh/authorized_keys', `${client.public}\n`, 0o600),
    text('usr/bin/load_fw-shared', LOAD_FW, 0o755),
    text('usr/bin/rpmsg-sample-ping-shared', demoHost('echo', 472), 0o755),
    text('usr/bin/matrix_multiply-shared', demoHost('matrix', 200), 0o755),
    text('usr/lib/firmware/rtos', REMOTE_OS, 0o755),
    text('usr/lib/farm-remote/bin/rpmsg_echo', remoteProgram('echo.elf'), 0o755),
    text('usr/lib/farm-remote/bin/matrix_multiplyd', remoteProgram('matrix-multiply.elf'), 0o755),
    { type: 'file', path: 'usr/lib/firmware/echo.elf', data: readFileSync(tools.echo), mode: 0o755 },
    { type: 'file', path: 'usr/lib/firmware/matrix-multiply.elf', data: readFileSync(tools.matrix), mode: 0o755 },
    { type: 'file', path: 'usr/lib/farm-demo/ping-host', data: readFileSync(tools.pingHost), mode: 0o755 },
  );
  log(`assembling the initramfs (${entries.length} entries)`);
  writeFileSync(join(dir, 'initramfs.cpio.gz'), gzipSync(newcArchive(entries), { level: 6 }));
  renameSync(join(kernelDir, 'boot', kernelFile), join(dir, 'Image'));
  writeFileSync(join(dir, 'host-key.pub'), `${hostKey.publicLine}\n`);
  writeFileSync(join(dir, 'client-key'), client.private, { mode: 0o600 });
  const manifest: ImageManifest = {
    recipe,
    kernelVersion,
    packages: [kernelPackage, ...userland].map((pkg) => ({ name: pkg.name, version: pkg.version, sha256: pkg.sha256 })),
  };
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  rmSync(staging, { recursive: true, force: true });
}

function imageAt(dir: string): RiscvLinuxImage {
  return {
    dir,
    kernel: join(dir, 'Image'),
    initrd: join(dir, 'initramfs.cpio.gz'),
    hostKey: readFileSync(join(dir, 'host-key.pub'), 'utf8').trim(),
    clientKey: join(dir, 'client-key'),
    manifest: JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ImageManifest,
  };
}

/** The image for the current recipe: the cached one, or built now (a minute or so: the kernel package is ~110 MB). */
export async function ensureRiscvLinuxImage(log: (line: string) => void = () => {}): Promise<RiscvLinuxImage> {
  assertPrerequisites();
  const tools = await buildGuestTools(log);
  const recipe = recipeHash(tools);
  const dir = join(imagesDir(), 'riscv64-linux', recipe);
  if (existsSync(join(dir, 'manifest.json'))) return imageAt(dir);
  sweepStaleRunFiles([join(imagesDir(), 'riscv64-linux')]);
  const temporary = join(imagesDir(), 'riscv64-linux', runFileStem('riscv-image'));
  mkdirSync(temporary, { recursive: true });
  const release = onProcessExit(() => rmSync(temporary, { recursive: true, force: true }));
  try {
    log(`building the riscv64 Linux test image ${recipe}`);
    await build(temporary, tools, recipe, log);
    chmodSync(join(temporary, 'client-key'), 0o600);
    try {
      renameSync(temporary, dir);
    } catch (error) {
      // Another process finished the same recipe first: theirs is as good.
      if (!existsSync(join(dir, 'manifest.json'))) throw error;
    }
    // Images of earlier recipes are stale (the recipe is in the tree): keep one image around.
    for (const name of readdirSync(join(imagesDir(), 'riscv64-linux'))) {
      if (/^[0-9a-f]{16}$/.test(name) && name !== recipe) rmSync(join(imagesDir(), 'riscv64-linux', name), { recursive: true, force: true });
    }
  } finally {
    rmSync(temporary, { recursive: true, force: true });
    release();
  }
  return imageAt(dir);
}

/** The environment a command gets the image through (farm.riscv-linux.yaml's ${...}). */
export function imageEnvironment(image: RiscvLinuxImage): Record<string, string> {
  return { [IMAGE_ENV.kernel]: image.kernel, [IMAGE_ENV.initrd]: image.initrd, [IMAGE_ENV.hostKey]: image.hostKey, [IMAGE_ENV.clientKey]: image.clientKey };
}


async function main(): Promise<number> {
  if (process.argv.includes('--check') || process.argv.includes('--fix')) return checkPrerequisitesCli('riscv64 image', imagePrerequisites, process.argv.includes('--fix'));
  const separator = process.argv.indexOf('--');
  const options = separator >= 0 ? process.argv.slice(2, separator) : process.argv.slice(2);
  const command = separator >= 0 ? process.argv.slice(separator + 1) : [];
  if (options.some((option) => option !== '--print-env') || (command.length === 0 && !options.includes('--print-env'))) {
    process.stderr.write('usage: riscv-image.js [--print-env] [-- COMMAND ARGS...] | --check | --fix\n');
    return 2;
  }
  const started = Date.now();
  const image = await ensureRiscvLinuxImage((line) => process.stderr.write(`riscv64 image: ${line}\n`));
  process.stderr.write(`riscv64 image: ${image.dir} (Linux ${image.manifest.kernelVersion}) ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  const env = imageEnvironment(image);
  if (options.includes('--print-env')) for (const [name, value] of Object.entries(env)) process.stdout.write(`${name}=${JSON.stringify(value)}\n`);
  if (command.length === 0) return 0;
  const child = spawn(command[0] as string, command.slice(1), { stdio: 'inherit', env: { ...process.env, ...env } });
  // Ctrl-C reaches the command through the terminal; SIGTERM to us is passed on.
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  process.on('SIGINT', () => {});
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`riscv64 image: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
