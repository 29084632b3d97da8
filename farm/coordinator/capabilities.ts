/**
 * Capabilities of a place that a health check probes one by one, and which suites need each:
 * a place whose serial console fails keeps running the suites that do not read it, and only
 * the suites that do are quarantined (farm_places.blocked_suites).
 *  - power: the target comes up (setup) and goes down;
 *  - rpmsg: the echo firmware starts, announces its channel and echoes a message;
 *  - console: the remote's console (serial / UART) shows output while it boots.
 * power and rpmsg are the base of every suite: their failure makes the whole place Bad.
 */
import type { SuiteName } from '../../targets/target.js';

export const CAPABILITIES = ['power', 'rpmsg', 'console'] as const;
export type Capability = (typeof CAPABILITIES)[number];
export const BASE_CAPABILITIES: readonly Capability[] = ['power', 'rpmsg'];

/**
 * What a suite needs when it needs more than the base: lifecycle reads the crash trace and the
 * console. Every other suite (flood, user suites) needs the base.
 */
export const SUITE_NEEDS: Readonly<Partial<Record<SuiteName, readonly Capability[]>>> = {
  lifecycle: ['power', 'rpmsg', 'console'],
};

/** The suites of `suites` that need one of the `bad` capabilities. */
export function blockedSuites(suites: readonly string[], bad: readonly string[]): string[] {
  return suites.filter((suite) => (SUITE_NEEDS[suite as SuiteName] ?? BASE_CAPABILITIES).some((capability) => bad.includes(capability)));
}

/** One capability's outcome in a health check. */
export interface CapabilityResult {
  readonly capability: Capability;
  readonly ok: boolean;
  readonly detail: string;
}
