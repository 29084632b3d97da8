/**
 * A place's health check, LAVA-style but per capability (farm/coordinator/capabilities.ts): the
 * target is brought up (power), the echo firmware is started and must announce its channel and
 * echo one message byte for byte (rpmsg), and the remote's console must have shown output on the
 * way (console). Short: a few seconds on a good target, bounded by `timeoutMs` on a bad one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { KindRegistry } from '../../targets/registry.js';
import { SUITE_NAMES, type SuiteName, type Target } from '../../targets/target.js';
import type { FarmConfig, TargetConfig } from '../config.js';
import type { CapabilityResult } from '../coordinator/capabilities.js';

const DEMO_CHANNEL = 'rpmsg-openamp-demo-channel';

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]);
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n', 1)[0] ?? '';

export async function healthCheck(place: TargetConfig, config: FarmConfig, registry: KindRegistry, scratch: string, timeoutMs: number): Promise<CapabilityResult[]> {
  const kind = registry.get(place.kind);
  if (!kind) return [{ capability: 'power', ok: false, detail: `kind "${place.kind}" is not registered on this agent` }];
  const workDir = mkdtempSync(join(scratch, `health-${place.name}-`));
  let consoleBytes = 0;
  let target: Target | undefined;
  const results: CapabilityResult[] = [];
  try {
    try {
      target = kind.create(place.name, kind.parseParams(place.params, `targets.${place.name}.params`), { configDir: config.configDir, firmware: place.firmware, workDir });
      await withTimeout(target.setup({ info: () => undefined, console: (_stream, text) => (consoleBytes += text.length) }), timeoutMs, 'setup');
      results.push({ capability: 'power', ok: true, detail: 'target came up' });
    } catch (error) {
      results.push({ capability: 'power', ok: false, detail: `setup failed: ${describe(error)}` });
      return results;
    }
    // The echo firmware when the place runs it, else the first built-in suite's (all announce the demo channel).
    const suite: SuiteName = SUITE_NAMES.find((name) => name === 'echo' && place.suites.includes(name)) ?? SUITE_NAMES.find((name) => place.suites.includes(name)) ?? 'echo';
    try {
      const host = target.host;
      await withTimeout((async () => {
        await host.start(await target.firmwareFor(suite));
        const channel = await host.waitForChannel(DEMO_CHANNEL, { timeoutMs });
        const endpoint = await host.openEndpoint({ name: DEMO_CHANNEL });
        const probe = new TextEncoder().encode(`farm health check ${randomBytes(8).toString('hex')}`);
        await endpoint.send(probe, { dest: channel.remoteAddr });
        const reply = await endpoint.receive({ timeoutMs });
        if (Buffer.compare(Buffer.from(reply.data), Buffer.from(probe)) !== 0) throw new Error(`echo differs: sent ${probe.length} bytes, got ${reply.data.length}`);
        await endpoint.close();
        await host.stop();
      })(), timeoutMs * 2, 'echo');
      results.push({ capability: 'rpmsg', ok: true, detail: `${suite} firmware echoed a message` });
    } catch (error) {
      results.push({ capability: 'rpmsg', ok: false, detail: describe(error) });
      return results;
    }
    results.push(consoleBytes > 0
      ? { capability: 'console', ok: true, detail: `${consoleBytes} bytes of console output` }
      : { capability: 'console', ok: false, detail: 'no console output while the remote booted and echoed' });
    return results;
  } finally {
    await target?.teardown().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  }
}
