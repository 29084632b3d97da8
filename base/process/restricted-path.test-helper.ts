/**
 * Tests that a missing tool is reported (and that a build asks for no more tools than it needs)
 * by running code with PATH holding only links to the tools it may use.
 */
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findExecutable } from './managed-process.js';

/** Runs `body` with PATH holding only links to `tools` (found on the real PATH). */
export async function withRestrictedPath<T>(tools: readonly string[], body: () => Promise<T>): Promise<T> {
  const bin = mkdtempSync(join(tmpdir(), 'farm-path-'));
  for (const tool of tools) {
    const found = findExecutable(tool);
    if (!found) throw new Error(`test set-up: ${tool} is not on PATH`);
    symlinkSync(found, join(bin, tool));
  }
  const saved = process.env.PATH;
  process.env.PATH = bin;
  try {
    return await body();
  } finally {
    process.env.PATH = saved;
    rmSync(bin, { recursive: true, force: true });
  }
}
