/**
 * Runs a command with the STM32MP157 board double up, then stops the double:
 *
 *   node dist/targets/linux-remoteproc/testing/run-with-double.js -- node dist/farm/cli.js run --config farm.mp157-double.yaml
 *
 * The command sees where the double is through FARM_MP157_DOUBLE_PORT, FARM_MP157_DOUBLE_KEY
 * (the authorized client key) and FARM_MP157_DOUBLE_KNOWN_HOSTS (its host key), which
 * farm.mp157-double.yaml refers to as ${...}. Exits with the command's exit code. Ctrl-C /
 * SIGTERM stop the double too; after a SIGKILL the next start sweeps what it left.
 * `--check` lists what the double needs on this machine, `--fix` installs it (npm run setup).
 */
import { spawn, spawnSync } from 'node:child_process';
import { BoardDouble } from './board-double.js';
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
  if (command.length === 0) {
    process.stderr.write('usage: run-with-double.js -- COMMAND [ARGS...]\n');
    return 2;
  }
  const started = Date.now();
  const double = await BoardDouble.start({ log: (line) => process.env.FARM_DOUBLE_VERBOSE && process.stderr.write(`${line}\n`) });
  process.stderr.write(`board double (STM32MP157C-DK2) up on 127.0.0.1:${double.port} in ${Date.now() - started} ms\n`);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= double.stop().catch((error: unknown) => void process.stderr.write(`board double: stop failed: ${String(error)}\n`)));
  const child = spawn(command[0] as string, command.slice(1), {
    stdio: 'inherit',
    env: { ...process.env, FARM_MP157_DOUBLE_PORT: String(double.port), FARM_MP157_DOUBLE_KEY: double.clientKey, FARM_MP157_DOUBLE_KNOWN_HOSTS: double.knownHosts },
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
