/**
 * Every failure the farm reports carries one of four classes, so a red test says at once
 * whose fault it is: the lab (infrastructure), the image under test (firmware), the
 * conversation on the wire (protocol) or the expectation of a suite (assertion).
 *
 * Modules define narrower classes by extending one of the four bases below; code that
 * reports failures only ever looks at `failureClass`.
 */
export type FailureClass = 'infrastructure' | 'firmware' | 'protocol' | 'assertion';

export const FAILURE_CLASSES: readonly FailureClass[] = ['infrastructure', 'firmware', 'protocol', 'assertion'];

export abstract class FarmError extends Error {
  abstract readonly failureClass: FailureClass;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The target could not be provisioned, reached, powered or flashed; a tool is missing. */
export class InfrastructureError extends FarmError {
  readonly failureClass = 'infrastructure' as const;
}

/** The image under test is bad: unreadable ELF, invalid resource table, no announcement. */
export class FirmwareError extends FarmError {
  readonly failureClass = 'firmware' as const;
}

/** The exchange went wrong: corrupt ring or header, remote crashed, timeout mid-exchange. */
export class ProtocolError extends FarmError {
  readonly failureClass = 'protocol' as const;
}

/** The remote answered, but not what the suite expected: wrong bytes, count, prefix, address. */
export class AssertionFailure extends FarmError {
  readonly failureClass = 'assertion' as const;
}

/** An access through shared memory fell outside every mapped region or outside the backing store. */
export class MemoryAccessError extends ProtocolError {
  constructor(
    message: string,
    readonly address: number,
    readonly length: number,
  ) {
    super(message);
  }
}

/** Waited for the other side longer than allowed. */
export class TimeoutError extends ProtocolError {}

/** The remote core stopped: it faulted, its process or thread died, or it stopped making progress. */
export class RemoteCrashedError extends ProtocolError {}

/** Classifies anything thrown: our own errors keep their class, everything else is an assertion
 * when it comes from an assertion library and infrastructure otherwise. */
export function classifyFailure(error: unknown): FailureClass {
  if (error instanceof FarmError) return error.failureClass;
  if (error && typeof error === 'object') {
    const candidate = (error as { failureClass?: unknown }).failureClass;
    if (typeof candidate === 'string' && (FAILURE_CLASSES as readonly string[]).includes(candidate)) {
      return candidate as FailureClass;
    }
    const name = (error as { name?: unknown }).name;
    const message = String((error as { message?: unknown }).message ?? '');
    if (name === 'AssertionError' || /\bexpect\(/.test(message)) return 'assertion';
  }
  return 'infrastructure';
}

export function hex(value: number, width = 8): string {
  return '0x' + (value >>> 0).toString(16).padStart(width, '0');
}
