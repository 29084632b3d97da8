import * as fs from 'node:fs';
import type Docker from 'dockerode';
import { spawn } from 'node:child_process';
import { connectEngine, ContainerEngineError, START_ENGINE_HINT } from './engine.js';
import { findExecutable } from '../base/process/managed-process.js';
import { runFileStem } from '../base/process/run-files.js';

export interface EngineLease {
  readonly docker: Docker;
  /** True when this lease started dockerd (release stops it). */
  readonly started: boolean;
  /** Stops the dockerd this lease started (nothing when the engine was already running). */
  release(): Promise<void>;
}

/**
 * The container engine for tests and `npm run test:containers`: the running one, or (as root,
 * docker.io installed) a dockerd started here and stopped by release(). Throws one line with
 * the fix when neither is possible.
 */
export async function useEngine(log: (line: string) => void = () => {}): Promise<EngineLease> {
  try {
    return { docker: await connectEngine({ timeoutMs: 2000 }), started: false, release: async () => {} };
  } catch (error) {
    if (!(error instanceof ContainerEngineError)) throw error;
    if (!findExecutable('dockerd') || process.getuid?.() !== 0) throw error;
  }
  const logFile = `/tmp/${runFileStem('dockerd')}.log`;
  const output = fs.openSync(logFile, 'a');
  // Its own process group: a Ctrl-C of the test run reaches release(), not dockerd directly.
  const daemon = spawn('dockerd', [], { stdio: ['ignore', output, output], detached: true });
  fs.closeSync(output);
  const exited = new Promise<void>((resolve) => daemon.once('exit', () => resolve()));
  daemon.once('error', () => {});
  log(`started dockerd (pid ${daemon.pid}, log ${logFile})`);
  const release = async (): Promise<void> => {
    if (daemon.exitCode === null && daemon.pid !== undefined) {
      daemon.kill('SIGTERM');
      const timer = setTimeout(() => daemon.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(logFile, { force: true });
    log('stopped dockerd');
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return { docker: await connectEngine({ timeoutMs: 1000 }), started: true, release };
    } catch {
      if (daemon.exitCode !== null || Date.now() > deadline) {
        const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
        await release();
        throw new ContainerEngineError(`dockerd did not come up (${tail || 'no output'}); ${START_ENGINE_HINT}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
