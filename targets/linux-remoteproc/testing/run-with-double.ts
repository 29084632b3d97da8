/**
 * Runs a command with a Linux board double up, then stops the double:
 *
 *   node dist/targets/linux-remoteproc/testing/run-with-double.js [--board PRESET] -- node dist/farm/cli.js run --config farm.mp157-double.yaml
 *
 * --board: the linux-remoteproc preset the double plays (stm32mp157c-dk2, the default, or
 * zynqmp-petalinux). The command sees where the double is through <PREFIX>_PORT, <PREFIX>_KEY
 * (the authorized client key) and <PREFIX>_KNOWN_HOSTS (its host key), PREFIX being
 * FARM_MP157_DOUBLE or FARM_ZYNQMP_DOUBLE, which the double's farm file refers to as ${...};
 * with `--console-password-env NAME` the double also has its serial console, whose pty path is
 * <PREFIX>_CONSOLE and whose root password is read from $NAME. Exits with the command's exit code. Ctrl-C /
 * SIGTERM stop the double too; after a SIGKILL the next start sweeps what it left.
 * `--check` lists what the double needs on this machine, `--fix` installs it (npm run setup).
 */
import { spawn, spawnSync } from 'node:child_process';
import { BoardDouble, DOUBLE_BOARDS, type DoubleBoard } from './board-double.js';
import { doublePrerequisites } from './double-prerequisites.js';

/** --check: list the double's prerequisites; --fix: apt-get the missing packages (root). */
function checkPrerequisites(fix: boolean): number {
  let items = doublePrerequisites();
  const missing = () => [...new Set(items.filter((item) => !item.ok).flatMap((item) => item.debianPackages ?? []))];
  if (fix && missing().length > 0) {
    if (process.getuid?.() !== 0) {
      process.stderr.write(`board double: not root; run: sudo apt-get install -y ${missing().join(' ')}\n`);
      return 1;
    }
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' }; // RUNLEVEL: do not start the system sshd
    if (spawnSync('apt-get', ['update'], { stdio: 'inherit', env }).status !== 0 || spawnSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing()], { stdio: 'inherit', env }).status !== 0) return 1;
    items = doublePrerequisites();
  }
  for (const item of items) process.stdout.write(`  ${item.ok ? 'ok  ' : 'MISSING'} ${item.name}: ${item.detail}${item.ok || !item.hint ? '' : ` (${item.hint})`}\n`);
  return items.every((item) => item.ok) ? 0 : 1;
}

async function main(): Promise<number> {
  if (process.argv.includes('--check') || process.argv.includes('--fix')) return checkPrerequisites(process.argv.includes('--fix'));
  const separator = process.argv.indexOf('--');
  const command = separator >= 0 ? process.argv.slice(separator + 1) : [];
  const options = separator >= 0 ? process.argv.slice(2, separator) : process.argv.slice(2);
  const usage = `usage: run-with-double.js [--board ${Object.keys(DOUBLE_BOARDS).join('|')}] [--console-password-env NAME] -- COMMAND [ARGS...]\n`;
  let boardName = 'stm32mp157c-dk2';
  let passwordEnv: string | undefined;
  for (let at = 0; at < options.length; at += 2) {
    const [name, value] = [options[at], options[at + 1]];
    if (name === '--board' && value !== undefined) boardName = value;
    else if (name === '--console-password-env' && value !== undefined) passwordEnv = value;
    else {
      process.stderr.write(usage);
      return 2;
    }
  }
  if (command.length === 0 || !(boardName in DOUBLE_BOARDS)) {
    process.stderr.write(usage);
    return 2;
  }
  if (passwordEnv !== undefined && process.env[passwordEnv] === undefined) {
    process.stderr.write(`run-with-double: --console-password-env names ${passwordEnv}, which is not set\n`);
    return 2;
  }
  const board = DOUBLE_BOARDS[boardName as DoubleBoard];
  const consolePassword = passwordEnv === undefined ? undefined : process.env[passwordEnv];
  const started = Date.now();
  const double = await BoardDouble.start({
    board: boardName as DoubleBoard,
    ...(consolePassword !== undefined ? { consolePassword } : {}),
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
      ...(double.consolePath ? { [`${board.envPrefix}_CONSOLE`]: double.consolePath } : {}),
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
