/** `farm targets`, `farm doctor [--fix]` and `farm up TARGET`. */
import { aptGetInstall } from '../base/process/apt-get.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Prerequisite, TargetLog } from '../targets/target.js';
import type { KindRegistry } from '../targets/registry.js';
import { FarmError, InfrastructureError } from '../base/errors.js';
import { builtinFirmware } from './suite-firmware.js';
import { type FarmConfig, type SuiteDefinition } from './config.js';
import { firmwareForSuite } from './suite-firmware.js';
import { farmPrerequisites, inspectFarm, missingPackages } from './inventory.js';
import { UsageError } from './selection.js';
import { ConsolePrefixer } from './console-prefixer.js';
import { quoteRemote } from '../base/remote-text.js';
import { exitCodeForSignal, onStopSignals } from '../base/process/stop-signals.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

export async function targetsCommand(config: FarmConfig, registry: KindRegistry): Promise<number> {
  const inventory = await inspectFarm(config, registry);
  out(`farm: ${config.source ?? 'built-in farm (no farm.yaml)'}  (registered kinds: ${registry.names().join(', ')}; farm targets --kinds describes them)`);
  const rows = inventory.map((target) => [
    target.name,
    target.kind,
    target.suites.join(',') || '-',
    target.runnable ? 'yes' : 'no',
  ]);
  const header = ['name', 'kind', 'suites', 'runs here'];
  const widths = header.map((_, column) => Math.max(header[column]?.length ?? 0, ...rows.map((row) => row[column]?.length ?? 0)));
  const render = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  out(render(header));
  for (const [index, target] of inventory.entries()) {
    out(render(rows[index] ?? []));
    for (const prerequisite of target.prerequisites.filter((item) => !item.ok)) {
      out(`    why not: ${prerequisite.name}: ${prerequisite.detail}`);
    }
  }
  return 0;
}

/** `farm targets --kinds`: every registered kind, the suites it can run and what it is. */
export function kindsCommand(registry: KindRegistry): number {
  for (const kind of registry.all()) {
    out(`${kind.kind}`);
    out(`    ${kind.description}`);
    out(`    suites: ${kind.suites.join(', ')}${kind.acceptsFirmwareImages === false ? '; no firmware: images' : ''}`);
  }
  return 0;
}

function printPrerequisite(prerequisite: Prerequisite): void {
  out(`  ${prerequisite.ok ? 'ok     ' : prerequisite.invalid ? 'INVALID' : 'MISSING'} ${prerequisite.name}: ${prerequisite.detail}`);
  if (prerequisite.ok) return;
  if (prerequisite.debianPackages?.length) out(`          fix: apt-get install ${prerequisite.debianPackages.join(' ')}  (or: farm doctor --fix as root)`);
  if (prerequisite.hint) out(`          fix: ${prerequisite.hint}`);
}

async function checkAll(config: FarmConfig, registry: KindRegistry, print: boolean): Promise<Prerequisite[]> {
  const farm = farmPrerequisites();
  const inventory = await inspectFarm(config, registry);
  if (print) {
    out('farm');
    farm.forEach(printPrerequisite);
    for (const target of inventory) {
      out(`${target.name} (${target.kind})`);
      if (target.prerequisites.length === 0) out('  (no prerequisites)');
      target.prerequisites.forEach(printPrerequisite);
    }
  }
  return [...farm, ...inventory.flatMap((target) => target.prerequisites)];
}

export async function doctorCommand(config: FarmConfig, registry: KindRegistry, fix: boolean): Promise<number> {
  let all = await checkAll(config, registry, true);
  const packages = missingPackages(all);
  if (fix && packages.length) {
    if (process.getuid?.() !== 0) {
      out(`\nfarm doctor --fix: not root; run as root, or: sudo apt-get install -y ${packages.join(' ')}`);
      return 1;
    }
    out(`\ninstalling: ${packages.join(' ')}`);
    if (!aptGetInstall(packages)) {
      out('farm doctor --fix: apt-get failed');
      return 1;
    }
    out('\nafter the fix:');
    all = await checkAll(config, registry, true);
  }
  const missing = all.filter((item) => !item.ok && !item.invalid).length;
  const invalid = all.filter((item) => !item.ok && item.invalid).length;
  const problems = [...(missing ? [`${missing} prerequisite(s) missing`] : []), ...(invalid ? [`${invalid} invalid`] : [])];
  out(problems.length ? `\n${problems.join(', ')}` : '\nall prerequisites hold');
  return problems.length ? 1 : 0;
}

/** Boots one target, starts its firmware, streams its consoles until a stop signal (SIGINT / SIGTERM / SIGHUP). */
export async function upCommand(config: FarmConfig, registry: KindRegistry, name: string, suiteOption: string | undefined): Promise<number> {
  const planned = config.targets.find((target) => target.name === name);
  if (!planned) throw new UsageError(`farm up: no target "${name}" (configured: ${config.targets.map((target) => target.name).join(', ')})`);
  const kind = registry.get(planned.kind);
  if (!kind) throw new UsageError(`farm up: unknown kind "${planned.kind}"`);
  if (suiteOption !== undefined && !config.suites.some((suite) => suite.name === suiteOption)) {
    throw new UsageError(`--suite: unknown suite "${suiteOption}" (known: ${config.suites.map((suite) => suite.name).join(', ')})`);
  }
  const suiteName = suiteOption ?? planned.suites[0] ?? 'echo';
  const suite = config.suites.find((candidate) => candidate.name === suiteName) as SuiteDefinition;
  const workDir = mkdtempSync(join(tmpdir(), `farm-up-${name}-`));
  const consoleLines = new ConsolePrefixer((stream) => `[${name} ${stream}] `);
  const say = (line: string): void => {
    process.stdout.write(consoleLines.lineBreak());
    out(line);
  };
  const log: TargetLog = {
    info: (message) => say(`[${name}] ${message}`),
    console: (stream, text) => process.stdout.write(consoleLines.format(stream, text)),
  };
  const target = kind.create(name, kind.parseParams(planned.params, `targets.${name}.params`), {
    configDir: config.configDir,
    firmware: builtinFirmware(planned),
    workDir,
    log,
  });
  let stopRequested: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      say(`\n[${name}] stopping...`);
      stopRequested();
    } else {
      process.exit(exitCodeForSignal(signal));
    }
  };
  const stopListening = onStopSignals(onSignal);
  try {
    await target.strategy.transition(target.strategy.ready);
    if (target.capabilities.suites.length === 0) {
      // A system whose tests are its own commands (qemu-linux): up is the system itself, to log in to.
      const properties = Object.entries(target.properties()).map(([key, value]) => `${key} ${value}`).join(', ');
      say(`[${name}] up (${properties}); no remote of the farm's to start (${target.capabilities.notApplicableBecause ?? 'the target runs no suite'}); Ctrl-C to stop`);
      await stopped;
      return 0;
    }
    const firmware = await firmwareForSuite(target, suite, planned.firmware);
    target.host.onNameService((event) => say(`[${name}] NS ${event.kind} ${quoteRemote(event.name)} at 0x${event.addr.toString(16)}`));
    await target.host.start(firmware);
    say(`[${name}] remote running ${firmware.label} (sha256 ${firmware.sha256.slice(0, 16)}...); Ctrl-C to stop`);
    await stopped;
    await target.host.stop();
    return 0;
  } catch (error) {
    const failure = error instanceof FarmError ? error : new InfrastructureError(error instanceof Error ? error.message : String(error));
    process.stderr.write(`farm up: ${failure.name}: ${failure.message}\n`);
    return 1;
  } finally {
    await target.strategy.transition(target.strategy.states[0]!).catch((error: unknown) => process.stderr.write(`farm up: teardown: ${String(error)}\n`));
    rmSync(workDir, { recursive: true, force: true });
    stopListening();
    say(`[${name}] down`);
  }
}
