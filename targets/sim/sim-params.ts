import { ConfigError } from '../../base/errors.js';
import { isPowerOfTwo } from '../../openamp/virtio/vring-layout.js';
import { integerParam, paramsRecord } from '../params.js';
import { SIM_DEFAULT_BUFFER_SIZE, SIM_DEFAULT_MEMORY_SIZE, SIM_DEFAULT_VRING_NUM, SIM_MAX_MEMORY_SIZE, SIM_MIN_MEMORY_SIZE, simBufferCount } from './sim-machine.js';

/** `params:` of a `kind: sim` target in farm.yaml. Every field is optional. */
export interface SimParams {
  /** DDR size in bytes (4 MiB by default), a multiple of 4096 between 2 MiB and 256 MiB. */
  readonly memorySize: number;
  /** Entries per vring, a power of two from 2 to 1024 (256 by default). */
  readonly vringNum: number;
  /** RPMsg buffer size including the 16-byte header, a multiple of 16 from 64 to 4096 (512 by default). */
  readonly bufferSize: number;
  /** How long the remote core spins on its rings before it sleeps on the doorbell, in µs (50 by default). */
  readonly remoteSpinMicros: number;
  /** How long the host spins on its rings after each send before it waits on the doorbell, in µs (20 by default). */
  readonly hostSpinMicros: number;
  /**
   * How long a stall probe waits before a silent remote counts as hung, in ms (250 by default:
   * the sim's core answers in microseconds, and probes run only while a test waits for a crash
   * or stall, so a short one can never fail a healthy remote; it was 1 s of every default run).
   */
  readonly stallTimeoutMs: number;
  /**
   * How long the remote core waits before each reply, in µs (0 by default): a deliberately slow
   * firmware, e.g. to check that the farm's history flags the slower echo as a regression.
   */
  readonly replyDelayUs: number;
}

export const SIM_PARAM_DEFAULTS: SimParams = {
  memorySize: SIM_DEFAULT_MEMORY_SIZE,
  vringNum: SIM_DEFAULT_VRING_NUM,
  bufferSize: SIM_DEFAULT_BUFFER_SIZE,
  remoteSpinMicros: 50,
  hostSpinMicros: 20,
  stallTimeoutMs: 250,
  replyDelayUs: 0,
};

export function parseSimParams(raw: unknown, path: string): SimParams {
  const record = paramsRecord(raw, path, Object.keys(SIM_PARAM_DEFAULTS));
  if (!record) return { ...SIM_PARAM_DEFAULTS };
  const integer = (key: keyof SimParams, min: number, max: number): number => integerParam(record, key, path, { min, max }, SIM_PARAM_DEFAULTS[key]);
  const params: SimParams = {
    memorySize: integer('memorySize', SIM_MIN_MEMORY_SIZE, SIM_MAX_MEMORY_SIZE),
    vringNum: integer('vringNum', 2, 1024),
    bufferSize: integer('bufferSize', 64, 4096),
    remoteSpinMicros: integer('remoteSpinMicros', 0, 100_000),
    hostSpinMicros: integer('hostSpinMicros', 0, 10_000),
    stallTimeoutMs: integer('stallTimeoutMs', 50, 60_000),
    replyDelayUs: integer('replyDelayUs', 0, 1_000_000),
  };
  if (params.memorySize % 4096 !== 0) throw new ConfigError(`${path}.memorySize`, `must be a multiple of 4096, got ${params.memorySize}`);
  if (!isPowerOfTwo(params.vringNum)) throw new ConfigError(`${path}.vringNum`, `must be a power of two, got ${params.vringNum}`);
  if (params.bufferSize % 16 !== 0) throw new ConfigError(`${path}.bufferSize`, `must be a multiple of 16, got ${params.bufferSize}`);
  // Image area (1 MiB) + two vrings + the buffer pool must fit.
  const needed = 0x10_0000 + 2 * (0x1000 + 0x1000 + 16 * params.vringNum + 8 * params.vringNum) + simBufferCount(params.vringNum) * params.bufferSize;
  if (needed > params.memorySize) {
    throw new ConfigError(`${path}.memorySize`, `${params.memorySize} bytes cannot hold the image area, vrings and buffers of this geometry (${needed} needed)`);
  }
  return params;
}
