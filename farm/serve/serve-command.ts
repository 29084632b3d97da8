/** `farm serve`: the web dashboard over the run history and the farm file's targets, until Ctrl-C. */
import { isIP } from 'node:net';
import type { KindRegistry } from '../../targets/registry.js';
import { openHistoryStore } from '../history-store-open.js';
import { registerSecret } from '../../reports/redact.js';
import type { FarmConfig } from '../config.js';
import { inspectFarm } from '../inventory.js';
import { UsageError } from '../selection.js';
import { createDashboardServer, type BoardInfo } from './server.js';
import { openFarmView } from './farm-view.js';
import { onStopSignals } from '../../base/process/stop-signals.js';

export const DEFAULT_LISTEN = '127.0.0.1:8750';
export const SERVE_TOKEN_ENV = 'FARM_SERVE_TOKEN';

export interface ServeOptions {
  readonly history: string | null;
  /** The farm database (the history is there too): places, leases, queue, running jobs. */
  readonly farm?: string | undefined;
  readonly listen: string | undefined;
  readonly token: string | undefined;
}

/** "HOST:PORT", "[::1]:PORT" or ":PORT" (loopback). */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  if (!match) throw new UsageError(`farm serve: --listen: "${value}" is not HOST:PORT`);
  const host = match[1] ?? (match[2] || '127.0.0.1');
  const port = Number(match[3]);
  if (port > 65535) throw new UsageError(`farm serve: --listen: port ${port} is out of range`);
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export async function serveCommand(config: FarmConfig, registry: KindRegistry, options: ServeOptions): Promise<number> {
  const { host, port } = parseListen(options.listen ?? DEFAULT_LISTEN);
  const token = options.token || undefined;
  if (!isLoopback(host) && !token) {
    throw new UsageError(`farm serve: listening on ${host} (not loopback) needs an access token: --token TOKEN or ${SERVE_TOKEN_ENV}`);
  }
  if (token && token.length < 16) throw new UsageError('farm serve: --token: use at least 16 characters');
  registerSecret(token);
  if (!options.history) throw new UsageError('farm serve: the run history is off (--history off / FARM_HISTORY=off); the dashboard shows it');
  const store = await openHistoryStore(options.history, { who: 'serve' });
  let cached: { at: number; boards: Promise<readonly BoardInfo[]> } | undefined;
  const boards = () => {
    if (!cached || Date.now() - cached.at > 60_000) {
      const pending = inspectFarm(config, registry).then((inventory) =>
        inventory.map((target) => ({
          name: target.name,
          kind: target.kind,
          suites: target.suites,
          runnable: target.runnable,
          problems: target.prerequisites.filter((item) => !item.ok).map((item) => item.name),
        })),
      );
      cached = { at: Date.now(), boards: pending };
    }
    return cached.boards;
  };
  const perf = { baselineRuns: config.history.baselineRuns, minRuns: config.history.minRuns, mads: config.history.mads, minBand: config.history.minBand };
  const farm = options.farm ? openFarmView(options.farm) : undefined;
  const app = await createDashboardServer({ store, boards, token, perf, ...(farm ? { farm } : {}) });
  const address = await app.listen({ host, port });
  const url = new URL(address);
  process.stdout.write(`farm serve: dashboard at ${url.origin}/${token ? ' (token required: open it with ?token=<your token>, or send Authorization: Bearer)' : ''}\n`);
  process.stdout.write(`farm serve: ${farm ? `farm database ${farm.location} (places, queue, jobs and run history)` : `history ${store.location}`}; Ctrl-C to stop\n`);
  await new Promise<void>((resolve) => {
    const stopListening = onStopSignals(() => {
      stopListening();
      resolve();
    });
  });
  await app.close();
  await store.close();
  await farm?.close();
  process.stdout.write('farm serve: stopped\n');
  return 0;
}
