/** Helpers for tests that spawn the real `farm` CLI against the test-only fake kind. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processRunning } from '../../base/process/process-alive.js';
import { EXTRA_KINDS_ENV } from '../../targets/registry.js';
import { INCOMPLETE_TYPE, INTERRUPTED_TYPE, NOT_RUN_MESSAGE, SKIP_REASON_PROPERTY } from '../../reports/junit-reporter.js';
import { readJunit } from '../../reports/junit-reader.js';

export const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));
export const FAKE_KIND_MODULE = fileURLToPath(new URL('./fake-target.js', import.meta.url));

export interface Workspace {
  readonly dir: string;
  write(name: string, text: string): string;
  remove(): void;
}

export function workspace(): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'farm-cli-test-'));
  return {
    dir,
    write: (name, text) => {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The CLI outlived its deadline and was killed with everything under it (see startCli). */
  readonly timedOut: boolean;
}

/**
 * How long a CLI started by a test may run before the harness kills it. A test must never wait
 * forever on a process (CI has a hard limit for the whole run): past this, the CLI and every
 * process under it get SIGKILL and the result says so in `timedOut` and in stderr, so the test's
 * assertion on the exit code fails with the CLI's output instead of hanging.
 */
export const CLI_DEADLINE_MS = 300_000;

export function startCli(
  args: readonly string[],
  cwd: string,
  deadlineMs = CLI_DEADLINE_MS,
): { child: ChildProcess; result: Promise<CliResult>; output: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, [EXTRA_KINDS_ENV]: FAKE_KIND_MODULE, FORCE_COLOR: '0', CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const watchdog = setTimeout(() => {
    timedOut = true;
    const pid = child.pid;
    if (pid === undefined) return;
    stderr += `\n[test harness] farm ${args.join(' ')}: still running after ${deadlineMs / 1000} s: killed with every process under it\n`;
    for (const victim of [...descendants(pid), pid]) {
      try {
        process.kill(victim, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }, deadlineMs);
  // The deadline never keeps the test process alive by itself.
  watchdog.unref();
  const result = new Promise<CliResult>((resolve) =>
    child.once('close', (code, signal) => {
      clearTimeout(watchdog);
      resolve({ code, signal, stdout, stderr, timedOut });
    }),
  );
  return { child, result, output: () => stdout };
}

export function runCli(args: readonly string[], cwd: string, deadlineMs = CLI_DEADLINE_MS): Promise<CliResult> {
  return startCli(args, cwd, deadlineMs).result;
}

/** Every live descendant of `pid` (Linux /proc). */
export function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(fields[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const current = queue.shift() as number;
    for (const [child, parent] of parents) {
      if (parent === current && !found.includes(child)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** The process exists and is not a zombie. */
export const isAlive = processRunning;

/**
 * Files in /dev/shm and /tmp named for one of `pids` (`farm-<kind>-<pid>-<random>`, see
 * base/process/run-files.ts) or starting with `prefix`: what a run of those processes created there.
 */
export function runFiles(pids: readonly number[], prefix?: string): string[] {
  const found: string[] = [];
  for (const dir of ['/dev/shm', '/tmp']) {
    for (const name of readdirSync(dir)) {
      const pid = /^farm-[a-z0-9-]+?-(\d+)-[0-9a-f]{8}(\.|$)/.exec(name)?.[1];
      if ((prefix !== undefined && name.startsWith(prefix)) || (pid !== undefined && pids.includes(Number(pid)))) found.push(join(dir, name));
    }
  }
  return found;
}

/**
 * Every process seen under `pid` (and `pid`) while the tracker runs, looked at every
 * `intervalMs`, with the run files named for them; for "nothing of this run is left" checks
 * that other runs on the machine do not disturb.
 */
export function trackRun(pid: number, intervalMs = 20): { readonly pids: ReadonlySet<number>; readonly filesSeen: ReadonlySet<string>; look(): void; stop(): void } {
  const pids = new Set<number>([pid]);
  const filesSeen = new Set<string>();
  const look = (): void => {
    for (const child of descendants(pid)) pids.add(child);
    for (const file of runFiles([...pids])) filesSeen.add(file);
  };
  look();
  const timer = setInterval(look, intervalMs);
  timer.unref();
  return { pids, filesSeen, look, stop: () => clearInterval(timer) };
}

/**
 * Every test case of a JUnit file as "target|classname|name|outcome", outcome one of passed,
 * failure, error, skipped, and for a run that stopped: interrupted (cut off mid-test: <error
 * type="interrupted">), not-run (<skipped/> whose skip.reason says "run interrupted: not run") or
 * incomplete (the "(run) did not finish" testcase of a run that has not ended).
 */
export function junitAllCases(xml: string): string[] {
  return readJunit(xml).suites.flatMap((suite) =>
    suite.cases.map((testCase) => {
      const outcome = testCase.failure
        ? 'failure'
        : testCase.error?.attributes.type === INTERRUPTED_TYPE
          ? 'interrupted'
          : testCase.error?.attributes.type === INCOMPLETE_TYPE
            ? 'incomplete'
          : testCase.error
            ? 'error'
            : testCase.skipped && testCase.properties.get(SKIP_REASON_PROPERTY) === NOT_RUN_MESSAGE
              ? 'not-run'
              : testCase.skipped
                ? 'skipped'
                : 'passed';
      return `${suite.attributes.name}|${testCase.attributes.classname}|${testCase.attributes.name}|${outcome}`;
    }),
  );
}

/** The test cases of a JUnit file that finished (see junitAllCases), as "target|classname|name|outcome". */
export function junitCases(xml: string): string[] {
  return junitAllCases(xml).filter((entry) => !/\|(interrupted|not-run|incomplete)$/.test(entry));
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
