/**
 * The farm's failure classes: the one module every layer imports its error types from. It sits
 * at the bottom (base/) and imports nothing, so the OpenAMP stack, QEMU, firmware tools, target
 * kinds, reports and the CLI can all throw and classify the same errors without any of them
 * importing a layer above itself.
 *
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
  /**
   * The class is also put into `name` ("NoBufferError[protocol]"), because errors cross worker
   * and process boundaries as text (Playwright serialises them): reporters read the class back
   * from the first line of the message with `failureClassFromText`.
   */
  constructor(
    readonly failureClass: FailureClass,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = `${new.target.name}[${failureClass}]`;
  }
}

/** The target could not be provisioned, reached, powered or flashed; a tool is missing. */
export class InfrastructureError extends FarmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('infrastructure', message, options);
  }
}

/** The image under test is bad: unreadable ELF, invalid resource table, no announcement. */
export class FirmwareError extends FarmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('firmware', message, options);
  }
}

/** The exchange went wrong: corrupt ring or header, remote crashed, timeout mid-exchange. */
export class ProtocolError extends FarmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('protocol', message, options);
  }
}

/** The remote answered, but not what the suite expected: wrong bytes, count, prefix, address. */
export class AssertionFailure extends FarmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('assertion', message, options);
  }
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
    const name = String((error as { name?: unknown }).name ?? '');
    const message = String((error as { message?: unknown }).message ?? '');
    const fromText = failureClassFromText(`${name}: ${message}`);
    if (fromText) return fromText;
    if (name === 'AssertionError' || /\bexpect\(/.test(message)) return 'assertion';
  }
  return 'infrastructure';
}

/** Reads the class back from an error's text ("RemoteCrashedError[protocol]: ..."). */
export function failureClassFromText(text: string): FailureClass | undefined {
  const match = /\[(infrastructure|firmware|protocol|assertion)\]/.exec(text.split('\n', 1)[0] ?? '');
  return match ? (match[1] as FailureClass) : undefined;
}

/** 0x-prefixed, zero-padded hex of an address or word, as error messages print them. */
export function hex(value: number, width = 8): string {
  return '0x' + (value >>> 0).toString(16).padStart(width, '0');
}

// ---- farm.yaml mistakes (infrastructure: the lab's configuration) ----

/**
 * A value in farm.yaml is wrong. `field` is the path of the offending field in the file
 * ("targets[0].params.machine"); the config loader turns it into file:line:col, so kinds only
 * need to name the field. A lab mistake, hence infrastructure.
 */
export class ConfigError extends InfrastructureError {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

/** A ConfigError placed in its file: `message` is the one line the CLI prints. */
export class ConfigFileError extends InfrastructureError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${field ? `${field}: ` : ''}${detail}`);
  }
}
