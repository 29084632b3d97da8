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
import { join } from 'node:path';
import { FarmError, InfrastructureError, TimeoutError } from '../base/errors.js';
import { ATTACHMENT, type TargetMeta } from '../reports/attachments.js';
import { LiveEventLog, liveEventsFile } from '../reports/live-events.js';
import { suiteOfEntry } from '../reports/paths.js';
import { onProcessExit } from '../base/process/exit-cleanup.js';
import { loadKind } from '../targets/registry.js';
import type { FirmwareImage, Host, Target, TargetCapabilities, TargetLog } from '../targets/target.js';
import type { SuiteDefinition } from './config.js';
import { readRunPlan } from './run-plan.js';
import { builtinFirmware, cannotRun, firmwareForSuite } from './suite-firmware.js';

function asClassified(error: unknown, what: string): Error {
  if (error instanceof FarmError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new InfrastructureError(`${what}: ${message}`, { cause: error });
}

/**
 * Target log lines, kept until the next test takes them; log lines and console bytes also go to
 * the run's live event log as they come (`farm serve` shows them live).
 */
class BufferedLog implements TargetLog {
  private text = '';
  constructor(private readonly live?: (stream: string, text: string) => void) {}
  info(message: string): void {
    this.text += `${new Date().toISOString()} ${message}\n`;
    this.live?.('farm', message);
  }
  console(stream: string, text: string): void {
    // The bytes for the reports are collected by the target itself (takeConsole).
    this.live?.(stream, text);
  }
  take(): string {
    const text = this.text;
    this.text = '';
    return text;
  }
}

/** The remote's console output during the current test (UART, remote stdout, ...), as the target captured it. */
export interface RemoteConsole {
  /** Everything the console printed since this test began. */
  text(): string;
  /** Resolves with text() once it matches `pattern`; TimeoutError (protocol class) after `timeoutMs` (default 5000). */
  waitFor(pattern: string | RegExp, options?: { timeoutMs?: number }): Promise<string>;
}

/** Console text of one test: what the test read through `console` and what is still in the target. */
class TestConsole implements RemoteConsole {
  private seen = '';
  constructor(private readonly target: Target) {}
  text(): string {
    this.seen += this.target.takeConsole();
    return this.seen;
  }
  async waitFor(pattern: string | RegExp, options: { timeoutMs?: number } = {}): Promise<string> {
    const timeoutMs = options.timeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    const matches = (text: string) => (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text));
    for (;;) {
      const text = this.text();
      if (matches(text)) return text;
      if (Date.now() >= deadline) throw new TimeoutError(`${this.target.name}: the console did not print ${String(pattern)} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

interface WorkerFixtures {
  target: Target;
  targetLog: BufferedLog;
}

export interface TestFixtures {
  /** The name of the suite this test belongs to (a built-in suite or farm.yaml's `suites:` entry). */
  suite: string;
  /** The firmware the remote runs for this suite on this target (see README "Your own suites"). */
  firmware: FirmwareImage;
  capabilities: TargetCapabilities;
  /** The remote's console during this test. */
  console: RemoteConsole;
  /** The OpenAMP host side, with the suite's firmware started; stopped after the test. */
  host: Host;
}

function suiteDefinition(name: string): SuiteDefinition {
  const found = plan.suites.find((suite) => suite.name === name);
  if (!found) throw new InfrastructureError(`suite "${name}" is not in the run plan`);
  return found;
}

function plannedTarget(name: string) {
  const planned = plan.targets.find((candidate) => candidate.name === name);
  if (!planned) throw new InfrastructureError(`target "${name}" is not in the run plan`);
  return planned;
}

const plan = readRunPlan();

export const test = base.extend<TestFixtures, WorkerFixtures>({
  targetLog: [
    // eslint-disable-next-line no-empty-pattern
    async ({}, use, workerInfo) => {
      const live = new LiveEventLog(liveEventsFile(plan.outDir));
      const target = workerInfo.project.name;
      await use(new BufferedLog((stream, text) => live.append(target, stream, text)));
    },
    { scope: 'worker' },
  ],

  target: [
    async ({ targetLog }, use, workerInfo) => {
      const name = workerInfo.project.name;
      const planned = plannedTarget(name);
      // Only this target's kind: the others' modules (SSH, serial, containers) stay unloaded.
      const kind = await loadKind(planned.kind);
      if (!kind) throw new InfrastructureError(`unknown target kind "${planned.kind}" in worker`);
      const workDir = mkdtempSync(join(tmpdir(), `farm-${name}-`));
      // Playwright ends a worker interrupted mid-setup (Ctrl-C) without running this finally.
      const releaseWorkDir = onProcessExit(() => rmSync(workDir, { recursive: true, force: true }));
      let target: Target | undefined;
      try {
        try {
          const params = kind.parseParams(planned.params, `targets.${name}.params`);
          target = kind.create(name, params, { configDir: plan.configDir, firmware: builtinFirmware(planned), workDir, log: targetLog });
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
    // The test was loaded through the run's entry file <suite>/<file>.js (farm/suite-entries.ts),
    // whose path relative to the test folder is the first element of the title path.
    const entry = testInfo.titlePath[0] ?? '';
    const suite = suiteOfEntry(join(plan.suitesDir, entry));
    if (suite === undefined || !plan.suites.some((known) => known.name === suite)) {
      throw new InfrastructureError(`${testInfo.file} was not loaded as part of a suite of this run (entry "${entry}"): start runs with farm run`);
    }
    await use(suite);
  },

  capabilities: async ({ target }, use) => {
    await use(target.capabilities);
  },

  console: async ({ target }, use) => {
    await use(new TestConsole(target));
  },

  firmware: async ({ target, suite }, use) => {
    let firmware: FirmwareImage;
    try {
      firmware = await firmwareForSuite(target, suiteDefinition(suite), plannedTarget(target.name).firmware);
    } catch (error) {
      throw asClassified(error, `no firmware for ${suite} on ${target.name}`);
    }
    await use(firmware);
  },

  host: async ({ target, suite, firmware, targetLog, console }, use, testInfo) => {
    const cannot = cannotRun(target, suiteDefinition(suite), plannedTarget(target.name).firmware);
    testInfo.skip(cannot !== undefined, cannot);
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
      await testInfo.attach(ATTACHMENT.console, { body: console.text(), contentType: 'text/plain' });
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
