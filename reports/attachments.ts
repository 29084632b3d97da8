/**
 * What the fixtures and suites attach to each test for the reporters to read back: the names of
 * the attachments and the shape of the JSON ones. Attachments cross from the worker to the
 * runner process as bytes, so both sides must agree on these.
 */

export const ATTACHMENT = {
  /** TargetMeta as JSON. */
  meta: 'farm-target.json',
  console: 'console',
  trace: 'trace',
  targetLog: 'target-log',
  /** EchoMetrics as JSON (echo suite). */
  echoMetrics: 'echo-metrics',
  /** FloodMetrics as JSON (flood suite, one per test). */
  floodMetrics: 'flood-metrics',
} as const;

/** The target and firmware a test ran on. */
export interface TargetMeta {
  readonly target: string;
  readonly kind: string;
  readonly suite: string;
  readonly firmware: { readonly label: string; readonly sha256: string; readonly path?: string };
  readonly properties: Record<string, string>;
}

export interface EchoMetrics {
  readonly count: number;
  readonly bytes: number;
  readonly p50Us: number;
  readonly p99Us: number;
  /** Echoes per second, one at a time (count over the summed round trips). */
  readonly msgsPerSec?: number;
  /** From the test's start (remote running) to the demo channel's announcement, in ms. */
  readonly announceMs?: number;
}

/** One direction of the flood suite (suites/support/flood.ts). */
export interface FloodMetrics {
  readonly direction: 'host-to-remote' | 'remote-to-host';
  readonly messages: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly messagesPerSecond: number;
  readonly megabytesPerSecond: number;
}
