/** `farm agent`: the command line of the agent (agent.ts). */
import { mkdirSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFileStem, sweepStaleRunFiles } from '../../base/process/run-files.js';
import type { KindRegistry } from '../../targets/registry.js';
import type { ParsedArgs } from '../cli-args.js';
import type { FarmConfig } from '../config.js';
import { DEFAULT_MAX_INFRA_FAILURES } from '../coordinator/coordinator.js';
import { farmUrl, requireCurrentSchema, withFarmDb } from '../farm-db-commands.js';
import { optionalInteger, seconds } from '../farm-run-command.js';
import { UsageError } from '../selection.js';
import { FarmAgent } from './agent.js';
import { exitCodeForSignal, onStopSignals } from '../../base/process/stop-signals.js';

export async function agentCommand(config: FarmConfig, registry: KindRegistry, args: ParsedArgs): Promise<number> {
  const url = farmUrl(typeof args.values.farm === 'string' ? args.values.farm : undefined);
  const name = typeof args.values.name === 'string' ? args.values.name : hostname();
  const wanted = args.lists.target ?? [];
  const configured = config.targets.map((target) => target.name);
  for (const target of wanted) {
    if (!configured.includes(target)) throw new UsageError(`--target: no target "${target}" in ${config.source ?? 'the built-in farm'} (configured: ${configured.join(', ')})`);
  }
  const places = config.targets.filter((target) => wanted.length === 0 || wanted.includes(target.name));
  await withFarmDb(url, 'agent', (pool) => requireCurrentSchema(pool, url));
  // Named like the farm's other run files (pid inside), so a SIGKILLed agent's folder, which it
  // cannot remove, is swept by the next agent, QEMU or linux-process start on this host.
  sweepStaleRunFiles();
  const workDir = join(tmpdir(), runFileStem('agent'));
  mkdirSync(workDir, { mode: 0o700 });
  const say = (line: string) => process.stdout.write(`farm agent ${name}: ${line}\n`);
  const agent = new FarmAgent({
    url,
    name,
    config,
    registry,
    places,
    ttlMs: seconds(args.values.ttl, 'ttl', 30),
    healthIntervalMs: seconds(args.values['health-interval'], 'health-interval', 3600),
    maxInfraFailures: optionalInteger(args.values['max-infra-failures'], 'max-infra-failures', 1) ?? DEFAULT_MAX_INFRA_FAILURES,
    workDir,
    say,
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(exitCodeForSignal(signal));
    say(`${signal}: stopping (running jobs are given back to the queue)`);
    void agent.stop();
  };
  const stopListening = onStopSignals(onSignal);
  try {
    await agent.register();
    await agent.run();
    await agent.stop();
    say('stopped');
    return 0;
  } finally {
    stopListening();
    rmSync(workDir, { recursive: true, force: true });
  }
}
