import { EM_ARM, EM_RISCV } from '../openamp/elf/elf-constants.js';

export type QemuMachineName = 'riscv64-virt' | 'cortex-m4' | 'versal-r5' | 'zynqmp-r5';

/** A word the host writes into guest RAM to ask a boot stub to start the firmware. */
export interface BootMailbox {
  /** Guest physical address of the mailbox. */
  readonly address: number;
  /** Words written, in order, to request a start (`entry` is replaced by the image's entry / vector table). */
  readonly startWords: (entry: number) => readonly number[];
  /** Offset of a word the stub sets to `ackValue` once it started the core (checked, not awaited forever). */
  readonly ack?: { readonly offset: number; readonly value: number };
}

/**
 * Everything the farm needs to know to run a remote on one emulated machine. Verified against
 * Debian's QEMU 7.2 (see firmware/README.md for the facts each value rests on).
 */
export interface QemuMachineProfile {
  readonly name: QemuMachineName;
  readonly description: string;
  readonly binary: string;
  readonly debianPackage: string;
  /** Machine arguments, without memory, serial, QMP and -S (the instance adds those). */
  readonly machineArgs: readonly string[];
  /** Boot stubs QEMU loads itself, as firmware/build/<machine>/<file> (-kernel / -device loader). */
  readonly stubArgs: (stubPath: (file: string) => string) => readonly string[];
  readonly stubFiles: readonly string[];
  /** The RAM QEMU backs with our shared file: where the core sees it and how big it is. */
  readonly ram: { readonly base: number; readonly size: number };
  /** ELF machine and class of images this core runs. */
  readonly elfMachine: number;
  readonly elfClass: 32 | 64;
  /** Where firmware segments may go (inside `ram`). */
  readonly imageWindow: { readonly base: number; readonly size: number };
  /** Where the host allocates vrings and buffers (inside `ram`, outside `imageWindow`). */
  readonly carveoutPool: { readonly base: number; readonly size: number };
  /** Start through a boot stub's mailbox (the core waits in the stub); none = the core starts on `cont`. */
  readonly mailbox?: BootMailbox;
}

const MiB = 1024 * 1024;

export const QEMU_MACHINES: Readonly<Record<QemuMachineName, QemuMachineProfile>> = {
  'riscv64-virt': {
    name: 'riscv64-virt',
    description: 'RISC-V virt machine, remote on hart 0 in M-mode (QEMU -bios none enters DRAM at 0x80000000)',
    binary: 'qemu-system-riscv64',
    debianPackage: 'qemu-system-misc',
    machineArgs: ['-M', 'virt', '-cpu', 'rv64', '-smp', '1', '-bios', 'none'],
    stubArgs: () => [],
    stubFiles: [],
    ram: { base: 0x8000_0000, size: 64 * MiB },
    elfMachine: EM_RISCV,
    elfClass: 64,
    imageWindow: { base: 0x8000_0000, size: 1 * MiB },
    carveoutPool: { base: 0x8020_0000, size: 4 * MiB },
  },
  'cortex-m4': {
    name: 'cortex-m4',
    description: 'mps2-an386 Cortex-M4; a boot stub at 0x0 enters the firmware in the PSRAM at 0x21000000',
    binary: 'qemu-system-arm',
    debianPackage: 'qemu-system-arm',
    // The board's LAN9118 gets an isolated backend (see versal-r5: no "has no peer" warning).
    machineArgs: ['-M', 'mps2-an386', '-nic', 'user,model=lan9118,restrict=on'],
    stubArgs: (stub) => ['-kernel', stub('boot-stub.elf')],
    stubFiles: ['boot-stub.elf'],
    ram: { base: 0x2100_0000, size: 16 * MiB },
    elfMachine: EM_ARM,
    elfClass: 32,
    imageWindow: { base: 0x2100_0000, size: 1 * MiB },
    carveoutPool: { base: 0x2120_0000, size: 4 * MiB },
    // 'BOOT' then the firmware's vector table, which the firmware links at the image base.
    mailbox: { address: 0x21ff_f000, startWords: () => [0x544f_4f42, 0x2100_0000] },
  },
  'versal-r5': {
    name: 'versal-r5',
    description: 'xlnx-versal-virt RPU core 0 (Cortex-R5F) at DDR 0, released from reset by an APU boot stub',
    binary: 'qemu-system-aarch64',
    debianPackage: 'qemu-system-arm',
    // The board always has two Cadence GEMs; without a backend QEMU warns "nic cadence_gem.N has
    // no peer" (-net none / -nic none do not reach board NICs). Isolated user-mode backends
    // (restrict=on: nothing leaves the machine, no host port is opened) silence that.
    machineArgs: ['-M', 'xlnx-versal-virt', '-nic', 'user,model=cadence_gem,restrict=on', '-nic', 'user,model=cadence_gem,restrict=on'],
    stubArgs: (stub) => ['-device', `loader,file=${stub('apu-stub.elf')},cpu-num=0`],
    stubFiles: ['apu-stub.elf'],
    ram: { base: 0, size: 256 * MiB },
    elfMachine: EM_ARM,
    elfClass: 32,
    imageWindow: { base: 0, size: 1 * MiB },
    carveoutPool: { base: 0x20_0000, size: 4 * MiB },
    mailbox: { address: 0x0fff_0000, startWords: () => [0x5241_5453, 0], ack: { offset: 4, value: 0x5241_5453 } },
  },
  'zynqmp-r5': {
    name: 'zynqmp-r5',
    description: 'xlnx-zcu102 RPU core 0 (Cortex-R5F, CPU 4) at DDR 0, powered on by an APU boot stub through PSCI CPU_ON',
    binary: 'qemu-system-aarch64',
    debianPackage: 'qemu-system-arm',
    // -smp 6: CPUs 4 and 5 are the RPU's Cortex-R5Fs (created powered off); upstream QEMU has no
    // RPU switch. Secure mode stays off (the default), so QEMU answers PSCI over SMC itself.
    // The board's four GEMs get isolated backends, as on Versal (no "has no peer" warning). The
    // DisplayPort's audio has no audiodev property in 7.2: an explicit silent backend replaces
    // two dozen lines of host audio probing on stderr by one deprecation notice.
    machineArgs: [
      '-M', 'xlnx-zcu102', '-smp', '6',
      ...Array.from({ length: 4 }, () => ['-nic', 'user,model=cadence_gem,restrict=on']).flat(),
      '-audiodev', 'none,id=farm-audio',
    ],
    stubArgs: (stub) => ['-device', `loader,file=${stub('apu-stub.elf')},cpu-num=0`],
    stubFiles: ['apu-stub.elf'],
    ram: { base: 0, size: 256 * MiB },
    elfMachine: EM_ARM,
    elfClass: 32,
    imageWindow: { base: 0, size: 1 * MiB },
    carveoutPool: { base: 0x20_0000, size: 4 * MiB },
    // entry, ack, then the request word 'STAR' (the stub reads the entry once it sees the request).
    mailbox: { address: 0x0fff_0000, startWords: (entry) => [entry, 0, 0x5241_5453], ack: { offset: 4, value: 0x5241_5453 } },
  },
};

export function isQemuMachineName(value: string): value is QemuMachineName {
  return Object.prototype.hasOwnProperty.call(QEMU_MACHINES, value);
}
