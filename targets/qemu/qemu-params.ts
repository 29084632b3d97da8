import { ConfigError } from '../../base/errors.js';
import { QEMU_UART_TRANSPORTS, type QemuUartTransport } from '../../qemu/qemu-instance.js';
import { integerParam, paramsRecord } from '../params.js';

/** How the guest tells the host to look at the rings (host -> guest is always the guest's polling). */
export const QEMU_DOORBELLS = ['uart', 'poll'] as const;
export type QemuDoorbell = (typeof QEMU_DOORBELLS)[number];

/** `params:` of a QEMU target in farm.yaml; every field is optional. */
export interface QemuParams {
  /**
   * How the host reads the guest's UART (console and kick bytes). 'pty' (default): a
   * pseudo-terminal through serialport, the code physical boards use. 'socket': a QEMU socket
   * chardev, faster per byte (~30 us vs ~115 us round trip) but not the serialport path.
   */
  readonly uart: QemuUartTransport;
  /**
   * 'uart': the firmware writes a kick byte on its console UART, which the host strips from
   * the console and takes as the doorbell (plus a safety poll every `uartSafetyPollMs`);
   * 'poll': the host polls the rings (`pollIntervalMs`, `pollBurstMs`).
   */
  readonly doorbell: QemuDoorbell;
  /** doorbell 'uart': the host also looks at the rings this often without a kick, in ms. */
  readonly uartSafetyPollMs: number;
  /**
   * doorbell 'uart': after the host sends, also look at the rings on every event-loop turn for
   * this long, in ms. Default 0: it makes a target with a core to itself ~30% faster but two
   * targets sharing the cores 3x slower (BENCHMARKS.md).
   */
  readonly uartBurstMs: number;
  /** doorbell 'poll': how often the host looks at the rings while idle, in ms. */
  readonly pollIntervalMs: number;
  /**
   * doorbell 'poll': after the host sends (or returns buffers), how long it looks at the rings
   * on every event-loop turn, in ms; 0 = timer polling only (AdaptivePollingDoorbell).
   */
  readonly pollBurstMs: number;
  /** How long a silent remote may take before it counts as hung, in ms. */
  readonly stallTimeoutMs: number;
  /**
   * Run QEMU inside a container of this image: a recipe name (`qemu`, built by `farm images
   * build`) or a local image reference (a vendor's QEMU build). Undefined: QEMU on the host.
   */
  readonly container: string | undefined;
}

export const QEMU_PARAM_DEFAULTS: QemuParams = { uart: 'pty', doorbell: 'uart', uartSafetyPollMs: 20, uartBurstMs: 0, pollIntervalMs: 1, pollBurstMs: 0.2, stallTimeoutMs: 1000, container: undefined };

/** A local image reference: [registry/]name[:tag][@digest] characters, as the engine takes them. */
const IMAGE_REFERENCE = /^([a-z0-9.-]+(:\d+)?\/)?[a-z0-9][a-z0-9._\-/]*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$/;

export function parseQemuParams(raw: unknown, path: string): QemuParams {
  const record = paramsRecord(raw, path, Object.keys(QEMU_PARAM_DEFAULTS));
  if (!record) return { ...QEMU_PARAM_DEFAULTS };
  const container = record.container;
  if (container !== undefined && (typeof container !== 'string' || container.length > 255 || !IMAGE_REFERENCE.test(container))) {
    throw new ConfigError(`${path}.container`, `must be an image recipe (farm images list) or a local image reference such as vendor/qemu:8.2, got ${JSON.stringify(container)}`);
  }
  // In a container the UART is a socket in a bind-mounted folder: a pty there is not reachable.
  const uart = record.uart ?? (container !== undefined ? 'socket' : QEMU_PARAM_DEFAULTS.uart);
  if (container !== undefined && uart === 'pty') {
    throw new ConfigError(`${path}.uart`, 'pty is not reachable from outside a container: use socket (the default with container)');
  }
  if (!QEMU_UART_TRANSPORTS.some((known) => known === uart)) {
    throw new ConfigError(`${path}.uart`, `must be one of ${QEMU_UART_TRANSPORTS.join(', ')}, got ${JSON.stringify(uart)}`);
  }
  const doorbell = record.doorbell ?? QEMU_PARAM_DEFAULTS.doorbell;
  if (!QEMU_DOORBELLS.some((known) => known === doorbell)) {
    throw new ConfigError(`${path}.doorbell`, `must be one of ${QEMU_DOORBELLS.join(', ')}, got ${JSON.stringify(doorbell)}`);
  }
  return {
    uart: uart as QemuUartTransport,
    doorbell: doorbell as QemuDoorbell,
    uartSafetyPollMs: integerParam(record, 'uartSafetyPollMs', path, { min: 1, max: 1000 }, QEMU_PARAM_DEFAULTS.uartSafetyPollMs),
    uartBurstMs: burstParam(record, 'uartBurstMs', path),
    pollIntervalMs: integerParam(record, 'pollIntervalMs', path, { min: 1, max: 100 }, QEMU_PARAM_DEFAULTS.pollIntervalMs),
    pollBurstMs: burstParam(record, 'pollBurstMs', path),
    stallTimeoutMs: integerParam(record, 'stallTimeoutMs', path, { min: 100, max: 60_000 }, QEMU_PARAM_DEFAULTS.stallTimeoutMs),
    container: container as string | undefined,
  };
}

/** A burst length in ms, fractions allowed, 0..100. */
function burstParam(record: Record<string, unknown>, key: 'pollBurstMs' | 'uartBurstMs', path: string): number {
  const burst = record[key] ?? QEMU_PARAM_DEFAULTS[key];
  if (typeof burst !== 'number' || !Number.isFinite(burst) || burst < 0 || burst > 100) {
    throw new ConfigError(`${path}.${key}`, `must be a number of ms from 0 to 100, got ${JSON.stringify(burst)}`);
  }
  return burst;
}
