import { spawnSync } from 'node:child_process';

/**
 * `apt-get update` then `apt-get install` of Debian packages (as root), with apt-get's own output
 * on the terminal: it takes minutes, and its lines are the progress. `env` is added to its
 * environment. Whether both steps succeeded. The one install routine of `farm doctor --fix` and
 * the test tools' `--fix`.
 */
export function aptGetInstall(packages: readonly string[], env: Readonly<Record<string, string>> = {}): boolean {
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', ...env };
  for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env: aptEnv });
    if (result.error) process.stderr.write(`apt-get: ${result.error.message}\n`);
    if (result.status !== 0) return false;
  }
  return true;
}
