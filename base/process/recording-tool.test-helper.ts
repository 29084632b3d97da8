/**
 * A stand-in for an external tool (uhubctl, a PDU CLI, a flasher) in tests: a small shell
 * script that records its argv, prints a configured output and exits with a configured code,
 * so a test asserts the exact command line the driver built.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RecordingTool {
  /** Absolute path of the script. */
  readonly path: string;
  /** Every invocation's argv (without the script itself), oldest first. */
  calls(): string[][];
  /** What the next invocations print on stdout and exit with. */
  respond(stdout: string, exitCode?: number): void;
  remove(): void;
}

export function recordingTool(name: string): RecordingTool {
  const dir = mkdtempSync(join(tmpdir(), 'farm-tool-'));
  const path = join(dir, name);
  const log = join(dir, 'calls');
  const reply = join(dir, 'stdout');
  const code = join(dir, 'exit');
  // One call per line: arguments NUL-separated (so spaces inside an argument are preserved).
  writeFileSync(
    path,
    `#!/bin/sh\nfor a in "$@"; do printf '%s\\0' "$a"; done >> '${log}'\necho >> '${log}'\n` + `[ -f '${reply}' ] && cat '${reply}'\nexit "$(cat '${code}' 2>/dev/null || echo 0)"\n`,
  );
  chmodSync(path, 0o755);
  return {
    path,
    calls: () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .split('\n')
            .filter((line) => line !== '')
            .map((line) => line.split('\0').slice(0, -1))
        : [],
    respond: (stdout, exitCode = 0) => {
      writeFileSync(reply, stdout);
      writeFileSync(code, String(exitCode));
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
