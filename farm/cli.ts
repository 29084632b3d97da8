#!/usr/bin/env node
/**
 * `farm`: run the OpenAMP suites on the farm's targets (through Playwright Test), list the
 * targets, check prerequisites, or bring one target up by hand.
 */
import { loadKindRegistry } from '../targets/registry.js';
import { FarmError } from '../base/errors.js';
import { ConfigFileError } from '../base/errors.js';
import { loadFarmConfig, type FarmConfig } from './config.js';
import { selectRun, UsageError } from './selection.js';
import { helpText, parseCommandLine } from './cli-args.js';
import { endByHangUp, terminalHungUp } from '../base/process/stop-signals.js';
// Each command's modules are imported when that command runs: `farm run` has no use for the
// dashboard's web server, the database client or the container engine's, whose imports alone
// would cost it hundreds of milliseconds of start-up.

/**
 * The history `farm history` and `farm serve` read: --history or --farm (not both), else
 * FARM_HISTORY, else the farm database of FARM_DB, else the farm file's.
 */
async function readHistoryLocation(config: FarmConfig, value: (name: string) => string | undefined): Promise<string | null> {
  const farm = value('farm');
  if (farm !== undefined && value('history') !== undefined) throw new UsageError('--history and --farm: give one (the farm database holds the history of its runs)');
  if (farm !== undefined) (await import('./db/connection.js')).checkDatabaseUrl(farm);
  const { historyLocation } = await import('../reports/history/run-history.js');
  return historyLocation(value('history'), config, process.env, process.cwd(), { url: farm, farmDbByDefault: true });
}

/** The command being run, for error lines ("farm run: ..."). */
let commandName: string | undefined;

async function main(argv: string[]): Promise<number> {
  const args = parseCommandLine(argv);
  const { command } = args;
  commandName = command;
  if (args.help) {
    process.stdout.write(`${helpText(command)}\n`);
    return 0;
  }
  if (command === undefined) throw new UsageError('farm: missing command (run, targets, doctor, up, report, images, history or serve; see farm --help)');
  const value = (name: string) => {
    const given = args.values[name];
    return typeof given === 'string' ? given : undefined;
  };
  if (command === 'report') return (await import('./report-command.js')).reportMergeCommand(args.positionals.slice(1), value('out') as string);
  if (command === 'images') return (await import('./images-command.js')).imagesCommand(args.positionals[0] as string, args.positionals.slice(1));
  if (command === 'db' || command === 'places' || command === 'health') {
    const { dbCommand, farmUrl, healthCommand, placesCommand } = await import('./farm-db-commands.js');
    if (command === 'db') return dbCommand(args.positionals[0] as string, farmUrl(value('farm')));
    if (command === 'places') return placesCommand(farmUrl(value('farm')));
    return healthCommand(farmUrl(value('farm')), args.positionals[0], value('set'), value('reason'), value('limit'));
  }
  const registry = await loadKindRegistry();
  if (command === 'targets' && args.values.kinds === true) return (await import('./commands.js')).kindsCommand(registry);
  const config = loadFarmConfig(value('config'), registry);
  switch (command) {
    case 'run': {
      if (value('farm') !== undefined) return (await import('./farm-run-command.js')).farmRunCommand(config, args);
      const { plan, notes } = selectRun(config, {
        targets: args.lists.target ?? [],
        suites: args.lists.suite ?? [],
        repeat: value('repeat'),
        retries: value('retries'),
        workers: value('workers'),
        shard: value('shard'),
        out: value('out'),
        grep: value('grep'),
        grepInvert: value('grep-invert'),
      });
      for (const note of notes) process.stdout.write(`farm: note: ${note}\n`);
      const { FIRMWARE_REV_ENV, historyLocation } = await import('../reports/history/run-history.js');
      const { runLocally } = await import('./local-run.js');
      const history = {
        location: historyLocation(value('history'), config),
        firmwareRev: value('firmware-rev') ?? (process.env[FIRMWARE_REV_ENV] || null),
        failOnRegression: args.values['fail-on-regression'] === true || config.history.failOnRegression,
        perf: { baselineRuns: config.history.baselineRuns, minRuns: config.history.minRuns, mads: config.history.mads, minBand: config.history.minBand },
      };
      return (await runLocally(plan, { noWait: args.values['no-wait'] === true, lockWait: value('lock-wait') }, history)).exitCode;
    }
    case 'targets':
      return (await import('./commands.js')).targetsCommand(config, registry);
    case 'doctor':
      return (await import('./commands.js')).doctorCommand(config, registry, args.values.fix === true);
    case 'up':
      return (await import('./commands.js')).upCommand(config, registry, args.positionals[0] as string, value('suite'));
    case 'agent':
      return (await import('./agent/agent-command.js')).agentCommand(config, registry, args);
    case 'history':
      return (await import('./history-command.js')).historyCommand(await readHistoryLocation(config, value), args.positionals[0] as string, {
        perf: { baselineRuns: config.history.baselineRuns, minRuns: config.history.minRuns, mads: config.history.mads, minBand: config.history.minBand },
        targets: args.lists.target ?? [],
        metric: value('metric'),
        runs: value('runs'),
        json: args.values.json === true,
      });
    case 'serve': {
      const history = await readHistoryLocation(config, value);
      const { isDatabaseUrl } = await import('../reports/history/run-history.js');
      return (await import('./serve/serve-command.js')).serveCommand(config, registry, {
        history,
        // The farm database when the history is there: its places, queue and jobs are shown too.
        farm: history !== null && isDatabaseUrl(history) ? history : undefined,
        listen: value('listen'),
        token: value('token') ?? process.env.FARM_SERVE_TOKEN,
      });
    }
  }
}

const EXIT_GRACE_MS = 10_000;

main(process.argv.slice(2)).then(
  (code) => {
    if (terminalHungUp()) endByHangUp();
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigFileError) {
      process.stderr.write(`${error.message}\n`);
    } else if (error instanceof UsageError) {
      const who = commandName ? `farm ${commandName}` : 'farm';
      process.stderr.write(`${error.message.startsWith('farm') ? '' : `${who}: `}${error.message}\n`);
    } else if (error instanceof FarmError) {
      process.stderr.write(`farm: ${error.name}: ${error.message}\n`);
    } else {
      process.stderr.write(`farm: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
      return;
    }
    process.exitCode = 2;
  },
).finally(() => {
  // Every command ends what it opened; one that leaves a handle open by mistake (a database
  // connection, a timer) must still end, not keep a CI job waiting forever.
  setTimeout(() => {
    process.stderr.write(`farm: still running ${EXIT_GRACE_MS / 1000} s after the command finished (a handle was left open): exiting\n`);
    process.exit();
  }, EXIT_GRACE_MS).unref();
});
