/**
 * The Playwright fixtures the suites run on. `target` is worker-scoped: one provisioned target
 * per worker (created from the registry, brought to its strategy's ready state, always brought
 * back to its first state, 'off'). `host` is per test: the
 * target's Host started with the suite's firmware, its console and trace attached to the test,
 * stopped afterwards, so every test starts from a freshly started remote. Playwright replaces
 * the worker after a failed test, so a remote that crashed unexpectedly is re-provisioned.
 */
import { test as base } from '@playwright/test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { FarmError, InfrastructureError } from '../base/errors.js';
import { ATTACHMENT, type TargetMeta } from '../reports/attachments.js';
import { onProcessExit } from '../base/process/exit-cleanup.js';
import { loadKindRegistry } from '../targets/registry.js';
import {
  SUITE_NAMES,
  type FirmwareImage,
  type Host,
  type SuiteName,
  type Target,
  type TargetCapabilities,
  type TargetLog,
} from '../targets/target.js';
import { readRunPlan } from './run-plan.js';

function asClassified(error: unknown, what: string): Error {
  if (error instanceof FarmError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new InfrastructureError(`${what}: ${message}`, { cause: error });
}

/** Target log lines, kept until the next test takes them. */
class BufferedLog implements TargetLog {
  private text = '';
  info(message: string): void {
    this.text += `${new Date().toISOString()} ${message}\n`;
  }
  console(): void {
    // Console bytes are collected by the target itself (takeConsole).
  }
  take(): string {
    const text = this.text;
    this.text = '';
    return text;
  }
}

interface WorkerFixtures {
  target: Target;
  targetLog: BufferedLog;
}

interface TestFixtures {
  suite: SuiteName;
  firmware: FirmwareImage;
  capabilities: TargetCapabilities;
  host: Host;
}

const plan = readRunPlan();

export const test = base.extend<TestFixtures, WorkerFixtures>({
  targetLog: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use) => {
      await use(new BufferedLog());
    },
    { scope: 'worker' },
  ],

  target: [
    async ({ targetLog }, use, workerInfo) => {
      const name = workerInfo.project.name;
      const planned = plan.targets.find((candidate) => candidate.name === name);
      if (!planned) throw new InfrastructureError(`target "${name}" is not in the run plan`);
      const registry = await loadKindRegistry();
      const kind = registry.get(planned.kind);
      if (!kind) throw new InfrastructureError(`unknown target kind "${planned.kind}" in worker`);
      const workDir = mkdtempSync(join(tmpdir(), `farm-${name}-`));
      // Playwright ends a worker interrupted mid-setup (Ctrl-C) without running this finally.
      const releaseWorkDir = onProcessExit(() => rmSync(workDir, { recursive: true, force: true }));
      let target: Target | undefined;
      try {
        try {
          const params = kind.parseParams(planned.params, `targets.${name}.params`);
          target = kind.create(name, params, { configDir: plan.configDir, firmware: planned.firmware, workDir, log: targetLog });
          targetLog.info(`setting up ${name} (${planned.kind}): ${target.strategy.states.join(' -> ')}`);
          // The strategy walks there from 'off', logging each step on targetLog.
          await target.strategy.transition(target.strategy.ready);
        } catch (error) {
          throw asClassified(error, `target ${name} could not be set up`);
        }
        await use(target);
      } finally {
        try {
          // Down to the first state ('off'): every step down runs, whatever the state reached.
          if (target) await target.strategy.transition(target.strategy.states[0]!);
        } catch (error) {
          throw asClassified(error, `target ${name} teardown failed`);
        } finally {
          releaseWorkDir();
          try {
            rmSync(workDir, { recursive: true, force: true, maxRetries: 3 });
          } catch (error) {
            targetLog.info(`could not remove ${workDir}: ${String(error)}`);
          }
        }
      }
    },
    { scope: 'worker', timeout: plan.setupTimeoutMs },
  ],

  // eslint-disable-next-line no-empty-pattern
  suite: async ({}, use, testInfo) => {
    const suite = basename(testInfo.file).replace(/\.spec\.[cm]?[jt]s$/, '');
    if (!(SUITE_NAMES as readonly string[]).includes(suite)) throw new InfrastructureError(`${testInfo.file} is not a suite`);
    await use(suite as SuiteName);
  },

  capabilities: async ({ target }, use) => {
    await use(target.capabilities);
  },

  firmware: async ({ target, suite }, use) => {
    let firmware: FirmwareImage;
    try {
      firmware = await target.firmwareFor(suite);
    } catch (error) {
      throw asClassified(error, `no firmware for ${suite} on ${target.name}`);
    }
    await use(firmware);
  },

  host: async ({ target, suite, firmware, targetLog }, use, testInfo) => {
    testInfo.skip(
      !target.capabilities.suites.includes(suite),
      `target ${target.name} (${target.kind}) cannot run suite ${suite}`,
    );
    const meta: TargetMeta = {
      target: target.name,
      kind: target.kind,
      suite,
      firmware: { label: firmware.label, sha256: firmware.sha256, ...(firmware.path ? { path: firmware.path } : {}) },
      properties: target.properties(),
    };
    await testInfo.attach(ATTACHMENT.meta, { body: JSON.stringify(meta), contentType: 'application/json' });
    const host = target.host;
    try {
      try {
        await host.start(firmware);
      } catch (error) {
        throw asClassified(error, `could not start ${firmware.label} on ${target.name}`);
      }
      await use(host);
    } finally {
      let trace: string;
      try {
        // A wedged target must not hold the test until its timeout just to read the trace.
        trace = await Promise.race([
          host.trace(),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 5 s')), 5000).unref()),
        ]);
      } catch (error) {
        trace = `(trace buffer unreadable: ${error instanceof Error ? error.message : String(error)})`;
      }
      if (host.state === 'crashed') {
        testInfo.annotations.push({ type: 'remote-crash', description: `${target.name}: remote core crashed` });
      }
      await testInfo.attach(ATTACHMENT.trace, { body: trace, contentType: 'text/plain' });
      await testInfo.attach(ATTACHMENT.console, { body: target.takeConsole(), contentType: 'text/plain' });
      try {
        await host.stop();
      } catch (error) {
        // Failing here fails the test, and Playwright then replaces the worker (fresh target).
        throw asClassified(error, `could not stop the remote of ${target.name} after the test`);
      } finally {
        await testInfo.attach(ATTACHMENT.targetLog, { body: targetLog.take(), contentType: 'text/plain' });
      }
    }
  },
});

export { expect } from '@playwright/test';
