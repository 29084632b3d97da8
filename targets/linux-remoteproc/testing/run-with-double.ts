/**
 * Runs a command with a Linux board double up, then stops the double:
 *
 *   node dist/targets/linux-remoteproc/testing/run-with-double.js [--board PRESET] -- node dist/farm/cli.js run --config farm.mp157-double.yaml
 *
 * --board: the linux-remoteproc preset the double plays (stm32mp157c-dk2, the default, or
 * zynqmp-petalinux). The command sees where the double is through <PREFIX>_PORT, <PREFIX>_KEY
 * (the authorized client key) and <PREFIX>_KNOWN_HOSTS (its host key), PREFIX being
 * FARM_MP157_DOUBLE or FARM_ZYNQMP_DOUBLE, which the double's farm file refers to as ${...};
 * with `--console` the double also has its serial console, whose pty path is <PREFIX>_CONSOLE and
 * whose root password (fresh for each run) is <PREFIX>_CONSOLE_PASSWORD; with `--helper-line` also a second
 * UART for a serial-only board's rpmsg helper, whose farm end is <PREFIX>_HELPER_LINE (the
 * board's end is the preset's device: /dev/ttySTM2 on the DK2, /dev/ttyPS1 on the ZynqMP). Exits with the command's exit code. Ctrl-C /
 * SIGTERM stop the double too; after a SIGKILL the next start sweeps what it left.
 * `--check` lists what the double needs on this machine, `--fix` installs it (npm run setup).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { BoardDouble, DOUBLE_BOARDS, type DoubleBoard } from './board-double.js';
import { checkPrerequisitesCli } from '../../prerequisites-cli.js';
import { doublePrerequisites } from './double-prerequisites.js';


async function main(): Promise<number> {
  // RUNLEVEL=1: installing openssh-server must not start the system's sshd.
  if (process.argv.includes('--check') || process.argv.includes('--fix')) return checkPrerequisitesCli('board double', doublePrerequisites, process.argv.includes('--fix'), { RUNLEVEL: '1' });
  const separator = process.argv.indexOf('--');
  const command = separator >= 0 ? process.argv.slice(separator + 1) : [];
  const options = separator >= 0 ? process.argv.slice(2, separator) : process.argv.slice(2);
  const usage = `usage: run-with-double.js [--board ${Object.keys(DOUBLE_BOARDS).join('|')}] [--console] [--helper-line] -- COMMAND [ARGS...]\n`;
  let boardName = 'stm32mp157c-dk2';
  let console = false;
  let helperLine = false;
  for (let at = 0; at < options.length; at++) {
    const [name, value] = [options[at], options[at + 1]];
    if (name === '--board' && value !== undefined) boardName = options[++at] as string;
    else if (name === '--console') console = true;
    else if (name === '--helper-line') helperLine = true;
    else {
      process.stderr.write(usage);
      return 2;
    }
  }
  if (command.length === 0 || !(boardName in DOUBLE_BOARDS)) {
    process.stderr.write(usage);
    return 2;
  }
  const board = DOUBLE_BOARDS[boardName as DoubleBoard];
  // A fresh root password for the console of this run (handed to the command, never printed).
  const consolePassword = console ? randomBytes(12).toString('base64url') : undefined;
  const started = Date.now();
  const double = await BoardDouble.start({
    board: boardName as DoubleBoard,
    ...(consolePassword !== undefined ? { consolePassword } : {}),
    helperLine,
    log: (line) => process.env.FARM_DOUBLE_VERBOSE && process.stderr.write(`${line}\n`),
  });
  process.stderr.write(`board double (${board.title}) up on 127.0.0.1:${double.port}${double.consolePath ? `, console ${double.consolePath}` : ''} in ${Date.now() - started} ms\n`);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= double.stop().catch((error: unknown) => void process.stderr.write(`board double: stop failed: ${String(error)}\n`)));
  const child = spawn(command[0] as string, command.slice(1), {
    stdio: 'inherit',
    env: {
      ...process.env,
      [`${board.envPrefix}_PORT`]: String(double.port),
      [`${board.envPrefix}_KEY`]: double.clientKey,
      [`${board.envPrefix}_KNOWN_HOSTS`]: double.knownHosts,
      ...(double.consolePath ? { [`${board.envPrefix}_CONSOLE`]: double.consolePath, [`${board.envPrefix}_CONSOLE_PASSWORD`]: consolePassword } : {}),
      ...(double.helperLinePath ? { [`${board.envPrefix}_HELPER_LINE`]: double.helperLinePath } : {}),
    },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      child.kill(signal);
    });
  }
  const code = await new Promise<number>((resolve) => child.on('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 + 2 : 1))));
  await stop();
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`run-with-double: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
