/**
 * The `farm` command line: which options each command takes, the help text, and the parser.
 * Every mistake is a UsageError with one line naming the command and the option
 * ("farm run: --bogus: unknown option (see farm --help)"); the CLI prints it and exits 2.
 */
import { UsageError } from './selection.js';

export const COMMANDS = ['run', 'targets', 'doctor', 'up', 'report', 'images', 'history', 'serve', 'db', 'agent', 'places', 'health'] as const;
export type CommandName = (typeof COMMANDS)[number];

interface OptionSpec {
  readonly name: string;
  /** Takes a value (`--name VALUE` / `--name=VALUE`); else a flag. */
  readonly value?: string;
  /** May be given several times; values may also be comma-separated lists. */
  readonly list?: boolean;
  readonly help: string;
}

const CONFIG: OptionSpec = { name: 'config', value: 'FILE', help: 'farm file (default: ./farm.yaml, else the built-in farm)' };
const HISTORY: OptionSpec = { name: 'history', value: 'FILE', help: 'run history (SQLite file or postgres:// URL; default: $FARM_HISTORY, else farm-history.sqlite next to the farm file; "off" for none)' };
const HISTORY_FARM: OptionSpec = { name: 'farm', value: 'URL', help: "the run history of the farm database, postgres://USER@HOST:PORT/DB (default: $FARM_DB when neither --history nor $FARM_HISTORY is given)" };
const FARM: OptionSpec = { name: 'farm', value: 'URL', help: 'the farm database, postgres://USER@HOST:PORT/DB (default: $FARM_DB)' };
const TARGET_FILTER: OptionSpec = { name: 'target', value: 'NAME', list: true, help: 'only these targets' };

const COMMAND_OPTIONS: Record<CommandName, readonly OptionSpec[]> = {
  run: [
    { name: 'target', value: 'NAME', list: true, help: 'targets to run, e.g. --target sim,lp or --target sim --target lp (default: all)' },
    { name: 'suite', value: 'NAME', list: true, help: "suites to run, the same way: built-in or farm.yaml's suites: (default: every suite a target runs)" },
    { name: 'repeat', value: 'N', help: 'run each test N times (>= 1)' },
    { name: 'retries', value: 'N', help: 'retry a failed test up to N times (>= 0); a pass on a retry is flaky' },
    { name: 'workers', value: 'N', help: 'parallel workers (default: one per target, at most 2)' },
    { name: 'shard', value: 'I/N', help: 'run the I-th of N parts of the tests' },
    { name: 'out', value: 'DIR', help: 'report directory (default: defaults.out of the farm file, farm-out)' },
    { name: 'firmware-rev', value: 'REV', help: 'git revision of the firmware under test, kept in the history (default: $FARM_FIRMWARE_REV)' },
    { name: 'fail-on-regression', help: 'a performance regression against the history fails the run (exit 1, JUnit <failure type="performance">)' },
    HISTORY,
    { name: 'grep', value: 'REGEX', help: 'only tests whose title or tags match, e.g. --grep @smoke' },
    { name: 'grep-invert', value: 'REGEX', help: 'only tests whose title or tags do not match, e.g. --grep-invert @nightly' },
    { name: 'no-wait', help: 'refuse a target another local run holds instead of waiting for it' },
    { name: 'lock-wait', value: 'SECONDS', help: 'how long to wait for busy local targets (default 600)' },
    { name: 'farm', value: 'URL', help: 'run on the farm of many hosts behind this database (postgres://...) instead of locally' },
    { name: 'require', value: 'KEY=VALUE', list: true, help: 'with --farm: run on any place with kind=, soc=, instrument= (e.g. --require kind=sim)' },
    { name: 'priority', value: 'N', help: 'with --farm: higher runs first (e.g. 10 for per-PR gates, 0 nightly; default 0)' },
    { name: 'ttl', value: 'SECONDS', help: 'with --farm: the run\'s lease; jobs of a client silent this long are cancelled (default 30)' },
    { name: 'queue-timeout', value: 'SECONDS', help: 'with --farm: fail a queued job no usable place can run (all Bad, quarantined, offline) after this long (default 120)' },
    CONFIG,
  ],
  targets: [{ name: 'kinds', help: 'list the registered target kinds (built-in and FARM_EXTRA_KINDS) instead' }, CONFIG],
  doctor: [{ name: 'fix', help: 'install missing Debian packages (as root)' }, CONFIG],
  up: [{ name: 'suite', value: 'NAME', help: "start this suite's firmware (default: the target's first suite)" }, CONFIG],
  history: [
    TARGET_FILTER,
    { name: 'metric', value: 'NAME', help: 'perf: only this metric (e.g. echo.p50Us)' },
    { name: 'runs', value: 'N', help: 'how many recent runs to look at (default: runs 20, flaky 200, perf 20)' },
    { name: 'json', help: 'print JSON instead of tables' },
    HISTORY,
    HISTORY_FARM,
    CONFIG,
  ],
  serve: [
    { name: 'listen', value: 'HOST:PORT', help: 'address to serve on (default: 127.0.0.1:8750; port 0 picks one)' },
    { name: 'token', value: 'TOKEN', help: 'access token, required unless HOST is loopback (default: $FARM_SERVE_TOKEN)' },
    HISTORY,
    { name: 'farm', value: 'URL', help: "the farm database: its places, leases, queue, running jobs' live consoles and run history (default: $FARM_DB when neither --history nor $FARM_HISTORY is given)" },
    CONFIG,
  ],
  report: [{ name: 'out', value: 'DIR', help: 'where the merged reports go (required)' }],
  images: [],
  db: [FARM],
  agent: [
    FARM,
    { name: 'name', value: 'NAME', help: 'agent name, unique in the farm (default: the host name)' },
    { name: 'target', value: 'NAME', list: true, help: 'targets of the farm file this agent offers (default: all)' },
    { name: 'ttl', value: 'SECONDS', help: 'lease time; heartbeats every third of it (default 30)' },
    { name: 'health-interval', value: 'SECONDS', help: 'health check of idle places on this schedule (default 3600)' },
    { name: 'max-infra-failures', value: 'N', help: 'infrastructure failures in a row that make a place Bad (default 3)' },
    CONFIG,
  ],
  places: [FARM],
  health: [
    FARM,
    { name: 'set', value: 'STATE', help: 'set PLACE to Maintenance, Retired or Unknown (back to service after a health check)' },
    { name: 'reason', value: 'TEXT', help: 'why (recorded in the history)' },
    { name: 'limit', value: 'N', help: 'history lines to show (default 20)' },
  ],
};

/** `farm images` actions; only build takes names (recipes). */
export const IMAGE_ACTIONS = ['build', 'list', 'prune'] as const;

const SYNOPSIS: Record<CommandName, string> = {
  run: 'farm run [--target NAME[,NAME...]]... [--suite NAME[,NAME...]]... [--grep REGEX] [--grep-invert REGEX]\n           [--repeat N] [--retries N] [--workers N] [--shard I/N] [--out DIR] [--firmware-rev REV]\n           [--fail-on-regression] [--history FILE] [--no-wait | --lock-wait SECONDS] [--config FILE]\n       farm run --farm URL [--target NAME,...]... [--require kind=K,soc=S,instrument=I]... [--suite ...]\n           [--priority N] [--ttl SECONDS] [--queue-timeout SECONDS] [--repeat N] [--retries N] [--out DIR]\n           [--firmware-rev REV] [--fail-on-regression]',
  targets: 'farm targets [--kinds] [--config FILE]',
  doctor: 'farm doctor [--fix] [--config FILE]',
  up: 'farm up TARGET [--suite NAME] [--config FILE]',
  history: 'farm history runs|flaky|perf [--target NAME]... [--metric NAME] [--runs N] [--json] [--history FILE | --farm URL] [--config FILE]',
  serve: 'farm serve [--listen HOST:PORT] [--token TOKEN] [--history FILE | --farm URL] [--config FILE]',
  report: 'farm report merge DIR... --out DIR',
  images: 'farm images build [RECIPE...] | farm images list | farm images prune',
  db: 'farm db init|status [--farm URL]',
  agent: 'farm agent [--farm URL] [--name NAME] [--target NAME[,NAME...]]... [--ttl SECONDS]\n             [--health-interval SECONDS] [--max-infra-failures N] [--config FILE]',
  places: 'farm places [--farm URL]',
  health: 'farm health [PLACE] [--set Maintenance|Retired|Unknown --reason TEXT] [--limit N] [--farm URL]',
};

const SUMMARY: Record<CommandName, string> = {
  run: 'run the suites on the targets; JUnit, HTML and metrics reports',
  targets: 'list the configured targets and whether they can run here',
  doctor: 'check the prerequisites of the farm and of every target',
  up: 'boot one target with a suite\'s firmware and stream its consoles until Ctrl-C',
  history: 'past runs, flaky tests (flake rate per test and target) and performance trends',
  serve: 'web dashboard: boards, runs with live consoles, flaky tests, performance plots',
  report: 'merge the out dirs of the shards of a run (farm run --shard I/N) into one report',
  images: 'build (default: every recipe), list or prune the container images of the farm (no registry: debootstrap + recipes)',
  db: 'create or upgrade the farm database schema (versioned migrations), or say what is pending',
  agent: 'offer this host\'s targets to the farm: heartbeats, health checks, runs the jobs they can run',
  places: 'list the places (targets) of the farm: agent, capabilities, health, running job',
  health: 'health history of the places (or of PLACE); --set takes a place out of or back into service',
};

function commandHelp(command: CommandName): string {
  const options = COMMAND_OPTIONS[command];
  const labels = options.map((option) => `--${option.name}${option.value ? ` ${option.value}` : ''}`);
  const width = Math.max(...labels.map((label) => label.length));
  return [
    `  ${SYNOPSIS[command]}`,
    `      ${SUMMARY[command]}`,
    ...options.map((option, index) => `      ${(labels[index] ?? '').padEnd(width)}  ${option.help}`),
  ].join('\n');
}

/** `farm --help`, or one command's part of it. */
export function helpText(command?: CommandName): string {
  const commands = command ? [command] : COMMANDS;
  return [
    'usage:',
    commands.map(commandHelp).join('\n\n'),
    '',
    'Without --config, ./farm.yaml is used when present, else the built-in farm (target "sim").',
    'Out-of-tree target kinds: FARM_EXTRA_KINDS=/path/kind.mjs[:...] (see README).',
    'Mistakes on the command line or in the farm file: one line on stderr, exit code 2.',
  ].join('\n');
}

export interface ParsedArgs {
  readonly command: CommandName | undefined;
  readonly help: boolean;
  readonly positionals: readonly string[];
  /** Flag options: true when given. Value options: the last value given. */
  readonly values: Readonly<Record<string, string | true>>;
  /** List options: every name given, comma lists split. */
  readonly lists: Readonly<Record<string, readonly string[]>>;
}

// By name, for the options given before the command is known (the value-taking ones are the
// same in every command that has them).
const ALL_OPTIONS = new Map<string, OptionSpec>(Object.values(COMMAND_OPTIONS).flat().map((option) => [option.name, option]));

/** The first argument that is neither an option nor an option's value, when it is a command. */
function commandOf(argv: readonly string[]): CommandName | undefined {
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === '--') return (COMMANDS as readonly string[]).includes(argv[index + 1] ?? '') ? (argv[index + 1] as CommandName) : undefined;
    if (arg.startsWith('--')) {
      if (!arg.includes('=') && ALL_OPTIONS.get(arg.slice(2))?.value) index++;
      continue;
    }
    if (arg.startsWith('-') && arg !== '-') continue;
    return (COMMANDS as readonly string[]).includes(arg) ? (arg as CommandName) : undefined;
  }
  return undefined;
}

/** Parses `argv` (without node and the script). Throws UsageError on the first mistake. */
export function parseCommandLine(argv: readonly string[]): ParsedArgs {
  const command = commandOf(argv);
  const who = command ? `farm ${command}` : 'farm';
  const seeHelp = `(see farm${command ? ` ${command}` : ''} --help)`;
  const positionals: string[] = [];
  const values: Record<string, string | true> = {};
  const lists: Record<string, string[]> = {};
  let help = false;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    if (arg === '--') {
      positionals.push(...argv.slice(index + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) throw new UsageError(`${who}: ${arg}: unknown option ${seeHelp}`);
    const equals = arg.indexOf('=');
    const name = arg.slice(2, equals === -1 ? undefined : equals);
    const option = (command ? COMMAND_OPTIONS[command].find((candidate) => candidate.name === name) : undefined) ?? ALL_OPTIONS.get(name);
    if (!option) throw new UsageError(`${who}: --${name}: unknown option ${seeHelp}`);
    if (command && !COMMAND_OPTIONS[command].includes(option)) {
      throw new UsageError(`${who}: --${name}: not an option of farm ${command} ${seeHelp}`);
    }
    if (!option.value) {
      if (equals !== -1) throw new UsageError(`${who}: --${name}: takes no value ${seeHelp}`);
      values[name] = true;
      continue;
    }
    let value: string;
    if (equals !== -1) {
      value = arg.slice(equals + 1);
    } else {
      const next = argv[index + 1];
      // "--out --config x" is a forgotten value; "--retries -1" is a value (checked later).
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${who}: --${name}: missing ${option.value} ${seeHelp}`);
      value = next;
      index++;
    }
    if (value === '') throw new UsageError(`${who}: --${name}: missing ${option.value} ${seeHelp}`);
    if (option.list) {
      const names = value.split(',').map((entry) => entry.trim());
      if (names.some((entry) => entry === '')) throw new UsageError(`${who}: --${name}: empty name in "${value}" ${seeHelp}`);
      (lists[name] ??= []).push(...names);
    } else {
      if (values[name] !== undefined) throw new UsageError(`${who}: --${name}: given more than once ${seeHelp}`);
      values[name] = value;
    }
  }
  const first = positionals[0];
  if (!help && first !== undefined && first !== 'help' && !(COMMANDS as readonly string[]).includes(first)) {
    throw new UsageError(`farm: unknown command "${first}" (commands: ${COMMANDS.join(', ')}; see farm --help)`);
  }
  if (first === 'help') return { command: undefined, help: true, positionals: [], values, lists };
  const rest = positionals.slice(1);
  if (command && !help) {
    if (command === 'report') {
      if (rest[0] !== 'merge') throw new UsageError(`${who}: ${rest[0] === undefined ? 'missing subcommand' : `unknown subcommand "${rest[0]}"`} (usage: ${SYNOPSIS[command]})`);
      if (rest.length < 2) throw new UsageError(`${who} merge: missing DIR (usage: ${SYNOPSIS[command]})`);
      if (values.out === undefined) throw new UsageError(`${who} merge: missing --out DIR (usage: ${SYNOPSIS[command]})`);
      return { command, help, positionals: rest, values, lists };
    }
    if (command === 'images') {
      const action = rest[0];
      if (action === undefined) throw new UsageError(`${who}: missing action (usage: ${SYNOPSIS.images})`);
      if (!(IMAGE_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`${who}: unknown action "${action}" (actions: ${IMAGE_ACTIONS.join(', ')}) ${seeHelp}`);
      if (action !== 'build' && rest.length > 1) throw new UsageError(`${who} ${action}: unexpected argument "${rest[1]}" ${seeHelp}`);
      return { command, help, positionals: rest, values, lists };
    }
    const expected = command === 'up' || command === 'history' || command === 'db' ? 1 : command === 'health' ? Math.min(rest.length, 1) : 0;
    const missing = command === 'history' ? 'runs, flaky or perf' : command === 'db' ? 'init or status' : 'TARGET';
    if (rest.length < expected) throw new UsageError(`${who}: missing ${missing} (usage: ${SYNOPSIS[command]})`);
    if (rest.length > expected) {
      const extra = rest.slice(expected);
      const listOption = COMMAND_OPTIONS[command].find((option) => option.list && argv.includes(`--${option.name}`));
      const hint = listOption ? `; to give several, use --${listOption.name} A,B or repeat --${listOption.name}` : '';
      throw new UsageError(`${who}: unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map((entry) => `"${entry}"`).join(' ')}${hint} ${seeHelp}`);
    }
  }
  return { command: first === undefined ? undefined : command, help, positionals: rest, values, lists };
}
