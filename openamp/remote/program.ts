import type { RpmsgDevice, RpmsgEndpoint, RpmsgMessage } from '../rpmsg/api.js';

/** The reference programs a simulated or process remote can run (see suites/README.md). */
export type RemoteProgramName = 'echo' | 'matrix-multiply' | 'multi-services';
export const REMOTE_PROGRAM_NAMES: readonly RemoteProgramName[] = ['echo', 'matrix-multiply', 'multi-services'];

export function isRemoteProgramName(value: string): value is RemoteProgramName {
  return (REMOTE_PROGRAM_NAMES as readonly string[]).includes(value);
}

/** The echo and matrix-multiply demos' channel. */
export const DEMO_CHANNEL = 'rpmsg-openamp-demo-channel';

/**
 * What a program may do besides talking RPMsg. The runtime owns the loop: programs only react
 * to messages from inside `device.poll()`, and ask the runtime (never throw) to end, fault or
 * hang, so a device that catches callback errors cannot swallow a requested crash.
 */
export interface RemoteProgramContext {
  readonly device: RpmsgDevice;
  /** One line for the trace buffer and the console (UART). */
  log(line: string): void;
  /**
   * Sends `data` from `endpoint` to `dest`. Never blocks: when no buffer is free the message
   * waits in order behind any earlier one and goes out as soon as the host returns buffers.
   */
  reply(endpoint: RpmsgEndpoint, data: Uint8Array, dest: number): void;
  /**
   * Sends `count` messages from `endpoint` to `dest`, each made by `next()` when a buffer is
   * free for it (a flood source: as fast as the host returns buffers, never queued whole).
   */
  replyStream(endpoint: RpmsgEndpoint, dest: number, count: number, next: () => Uint8Array): void;
  /**
   * Acts on a control word (crash / hang; shutdown is the program's to handle) and returns true
   * when `message` was one, so the handler stops there.
   */
  takeFault(message: RpmsgMessage): boolean;
  /** The program is done (its `main` returned): the runtime stops the loop after flushing replies. */
  finish(reason: string): void;
}

export interface RemoteProgram {
  readonly name: RemoteProgramName;
  /** Creates and announces the endpoints; called once the host has set DRIVER_OK. */
  start(context: RemoteProgramContext): void;
}
