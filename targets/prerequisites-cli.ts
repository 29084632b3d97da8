import { aptGetInstall } from '../base/process/apt-get.js';
import type { Prerequisite } from './target.js';

/**
 * `--check` / `--fix` of a test tool (a board double, a test image): lists `list()`'s
 * prerequisites on stdout and returns the exit code, 0 when all hold. With `fix`, as root, it
 * first apt-gets the Debian packages of the missing ones (`env` is added to apt-get's
 * environment); not root, it prints the command to run and returns 1. `what` names the tool in
 * that line.
 */
export function checkPrerequisitesCli(what: string, list: () => Prerequisite[], fix: boolean, env: Readonly<Record<string, string>> = {}): number {
  let items = list();
  const missing = (): string[] => [...new Set(items.filter((item) => !item.ok).flatMap((item) => item.debianPackages ?? []))];
  if (fix && missing().length > 0) {
    if (process.getuid?.() !== 0) {
      process.stderr.write(`${what}: not root; run: sudo apt-get install -y ${missing().join(' ')}\n`);
      return 1;
    }
    if (!aptGetInstall(missing(), env)) return 1;
    items = list();
  }
  for (const item of items) process.stdout.write(`  ${item.ok ? 'ok  ' : 'MISSING'} ${item.name}: ${item.detail}${item.ok || !item.hint ? '' : ` (${item.hint})`}\n`);
  return items.every((item) => item.ok) ? 0 : 1;
}
