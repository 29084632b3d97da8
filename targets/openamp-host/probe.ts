import { DEMO_CHANNEL } from '../../openamp/remote/program.js';
import { MATRIX_REQUEST_BYTES } from '../../openamp/remote/programs/matrix-multiply.js';
import { RAW_CHANNEL, TTY_CHANNEL } from '../../openamp/remote/programs/multi-services.js';
import type { Channel } from '../target.js';

/**
 * Channels whose remote answers every message, in the order the host prefers them for stall
 * probes and fault words. rpmsg-client-sample is never used: it counts messages.
 */
const ANSWERING_CHANNELS = [DEMO_CHANNEL, RAW_CHANNEL, TTY_CHANNEL] as const;

/**
 * A probe is the size of a matrix-multiply request, all zeros: an echo remote echoes it, the
 * matrix remote multiplies two empty matrices, the tty and raw services prefix it.
 */
export const PROBE_PAYLOAD_BYTES = MATRIX_REQUEST_BYTES;

export function chooseProbeTarget(channels: readonly Channel[]): Channel | undefined {
  for (const name of ANSWERING_CHANNELS) {
    const channel = channels.find((c) => c.name === name);
    if (channel) return channel;
  }
  return undefined;
}
