#!/usr/bin/env node
/**
 * Runs the STM32H747 board double (board-double.ts).
 *
 *   node dist/targets/micropython/testing/double-cli.js --dir DIR [options] [-- COMMAND ARGS...]
 *
 * Prints the board's stable serial path once it is up. With a command: runs it (stdio
 * inherited) while the board is up, then powers the board down and exits with the command's
 * exit code (how `npm test` runs the micropython farm). Without: runs until SIGINT / SIGTERM;
 * SIGUSR1 resets the whole chip (a power cycle), e.g. from a `power: {type: command}` driver.
 *
 * Options: --auto-boot (the M4 boots the flashed image itself, RemoteProc cannot start it),
 * --flash IMAGE (the M4's flash), --silent-remote (the M4 never announces), --reset-ms N,
 * --serial NAME (the by-id name), --no-m4 (REPL only).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { BoardDouble, type BoardDoubleOptions } from './board-double.js';
import { processExists } from '../../../base/process/process-alive.js';

function usage(message: string): never {
  process.stderr.write(`double-cli: ${message}\nusage: double-cli --dir DIR [--auto-boot] [--flash IMAGE] [--silent-remote] [--reset-ms N] [--serial NAME] [--no-m4] [-- COMMAND ARGS...]\n`);
  process.exit(2);
}

function parse(argv: readonly string[]): { options: BoardDoubleOptions; command: string[] } {
  let dir: string | undefined;
  const options: { -readonly [K in keyof BoardDoubleOptions]?: BoardDoubleOptions[K] } = {};
  let command: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined) usage(`${arg} needs a value`);
      return next;
    };
    if (arg === '--') {
      command = argv.slice(i + 1) as string[];
      break;
    } else if (arg === '--dir') dir = path.resolve(value());
    else if (arg === '--auto-boot') options.autoBoot = true;
    else if (arg === '--silent-remote') options.silentRemote = true;
    else if (arg === '--no-m4') options.withM4 = false;
    else if (arg === '--flash') options.flashImage = path.resolve(value());
    else if (arg === '--serial') options.serial = value();
    else if (arg === '--reset-ms') {
      const ms = Number(value());
      if (!Number.isInteger(ms) || ms < 0 || ms > 60_000) usage('--reset-ms must be an integer from 0 to 60000');
      options.resetMs = ms;
    } else usage(`${arg}: unknown option`);
  }
  if (!dir) usage('--dir is required');
  return { options: { ...options, dir }, command };
}


async function main(): Promise<void> {
  const { options, command } = parse(process.argv.slice(2));
  fs.mkdirSync(options.dir, { recursive: true });
  const pidFile = path.join(options.dir, 'double.pid');
  const other = Number(fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8') : NaN);
  if (Number.isInteger(other) && other !== process.pid && processExists(other)) {
    process.stderr.write(`double-cli: a board double (pid ${other}) already runs in ${options.dir}\n`);
    process.exit(2);
  }
  fs.writeFileSync(pidFile, String(process.pid));
  const board = new BoardDouble({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
  let stopping: Promise<void> | undefined;
  const stop = (code: number): Promise<void> => {
    stopping ??= board
      .close()
      .catch((error: unknown) => {
        process.stderr.write(`double-cli: ${String(error)}\n`);
      })
      .finally(() => {
        fs.rmSync(pidFile, { force: true });
        process.exit(code);
      });
    return stopping as Promise<void>;
  };
  process.on('SIGINT', () => void stop(130));
  process.on('SIGTERM', () => void stop(143));
  process.on('SIGUSR1', () => void board.reset());
  try {
    await board.start();
  } catch (error) {
    process.stderr.write(`double-cli: the board double did not start: ${error instanceof Error ? error.message : String(error)}\n`);
    await stop(1);
    return;
  }
  process.stdout.write(`${board.serialPath}\n`);
  if (command.length === 0) return;
  const child = spawn(command[0] as string, command.slice(1), { stdio: 'inherit' });
  child.once('error', (error) => {
    process.stderr.write(`double-cli: ${command[0]}: ${error.message}\n`);
    void stop(127);
  });
  child.once('exit', (code, signal) => void stop(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
}

void main();
