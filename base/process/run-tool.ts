import { execa } from 'execa';
import { InfrastructureError } from '../errors.js';
import { MissingToolError, findExecutable } from './managed-process.js';

export interface ToolRun {
  /** Who runs it, for messages: "board1: power on". */
  readonly what: string;
  /** The executable then its arguments (no shell: arguments are passed as they are). */
  readonly argv: readonly string[];
  readonly timeoutMs: number;
  readonly debianPackage?: string;
}

/** How much of a failed tool's output an error quotes. */
const QUOTED_OUTPUT = 2000;

/**
 * Runs a configured tool (power switch, flasher) to completion: its stdout on success; an
 * InfrastructureError naming `what`, the command line and the tool's own output on a non-zero
 * exit, a missing binary or the deadline.
 */
export async function runTool(run: ToolRun): Promise<string> {
  const [file, ...args] = run.argv;
  if (!file) throw new InfrastructureError(`${run.what}: empty command line`);
  if (!findExecutable(file)) throw new MissingToolError(file, run.debianPackage);
  const result = await execa(file, args, { reject: false, stdin: 'ignore', timeout: run.timeoutMs, killSignal: 'SIGKILL', all: true });
  const line = run.argv.join(' ');
  if (result.timedOut) throw new InfrastructureError(`${run.what}: \`${line}\` did not finish within ${run.timeoutMs} ms`);
  if (result.exitCode !== 0) {
    const output = String(result.all ?? '').trim().slice(-QUOTED_OUTPUT);
    throw new InfrastructureError(`${run.what}: \`${line}\` failed (${result.exitCode === undefined ? `signal ${result.signal}` : `exit ${result.exitCode}`})${output ? `: ${output}` : ''}`);
  }
  return String(result.stdout);
}
