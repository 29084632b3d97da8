#!/usr/bin/env node
/**
 * `farm`: run the OpenAMP suites on the farm's targets (through Playwright Test), list the
 * targets, check prerequisites, or bring one target up by hand.
 */
import { parseArgs } from 'node:util';
import { loadKindRegistry } from '../targets/registry.js';
import { FarmError } from '../openamp/errors.js';
import { ConfigFileError } from './config-error.js';
import { loadFarmConfig } from './config.js';
import { selectRun, UsageError } from './selection.js';
import { runPlan } from './run-command.js';
import { doctorCommand, targetsCommand, upCommand } from './commands.js';

const USAGE = `usage:
  farm run [--target NAME...] [--suite NAME...] [--repeat N] [--retries N] [--workers N]
           [--shard I/N] [--out DIR] [--config FILE]
  farm targets [--config FILE]
  farm doctor [--fix] [--config FILE]
  farm up TARGET [--suite NAME] [--config FILE]

Without --config, ./farm.yaml is used when present, else the built-in farm (target "sim").
Out-of-tree target kinds: FARM_EXTRA_KINDS=/path/kind.js[:...] (see README).`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      target: { type: 'string', multiple: true, default: [] },
      suite: { type: 'string', multiple: true, default: [] },
      repeat: { type: 'string' },
      retries: { type: 'string' },
      workers: { type: 'string' },
      shard: { type: 'string' },
      out: { type: 'string' },
      config: { type: 'string' },
      fix: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined && !values.help ? 2 : 0;
  }
  const expectArguments = (count: number) => {
    if (rest.length !== count) throw new UsageError(`farm ${command}: unexpected argument(s) ${rest.join(' ') || '(missing)'}`);
  };
  if (!['run', 'targets', 'doctor', 'up'].includes(command)) throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  const registry = await loadKindRegistry();
  const config = loadFarmConfig(values.config, registry);
  switch (command) {
    case 'run': {
      expectArguments(0);
      const { plan, notes } = selectRun(config, {
        targets: values.target ?? [],
        suites: values.suite ?? [],
        repeat: values.repeat,
        retries: values.retries,
        workers: values.workers,
        shard: values.shard,
        out: values.out,
      });
      for (const note of notes) process.stdout.write(`farm: note: ${note}\n`);
      return (await runPlan(plan)).exitCode;
    }
    case 'targets':
      expectArguments(0);
      return targetsCommand(config, registry);
    case 'doctor':
      expectArguments(0);
      return doctorCommand(config, registry, values.fix ?? false);
    case 'up': {
      expectArguments(1);
      const suites = values.suite ?? [];
      if (suites.length > 1) throw new UsageError('farm up: at most one --suite');
      return upCommand(config, registry, rest[0] as string, suites[0]);
    }
    default:
      throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigFileError || error instanceof UsageError) {
      process.stderr.write(`${error.message}\n`);
    } else if (error instanceof FarmError) {
      process.stderr.write(`farm: ${error.name}: ${error.message}\n`);
    } else if (error instanceof Error && (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`farm: ${error.message}\n${USAGE}\n`);
    } else {
      process.stderr.write(`farm: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = 1;
      return;
    }
    process.exitCode = 2;
  },
);
