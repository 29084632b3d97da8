import type { QemuMachineProfile } from '../../qemu/machines.js';
import type { QemuUartTransport } from '../../qemu/qemu-instance.js';

/**
 * A QEMU machine as a place (labgrid's resource): plain data from farm.yaml and the machine
 * profile, no I/O. The QEMU power driver (targets/drivers/qemu-power.ts) launches it.
 */
export interface QemuMachineResource {
  /** The target's name, for messages ("qemu-riscv64-virt"). */
  readonly name: string;
  readonly profile: QemuMachineProfile;
  /** Directory holding the profile's boot stubs (firmware/build/<machine>). */
  readonly stubDir: string;
  /** How the UART reaches the host (params.uart). */
  readonly uart: QemuUartTransport;
  /**
   * The firmware's in-band doorbell byte on the UART (the reference firmware's
   * FIRMWARE_KICK_BYTE): always stripped from the console; it rings the host's doorbell only
   * with params.doorbell 'uart'.
   */
  readonly kickByte: number;
  /** Run QEMU in a container of this image (params.container: a recipe name or a local image); undefined: on the host. */
  readonly container?: string;
}
