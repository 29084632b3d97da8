#!/usr/bin/env node
/**
 * `node dist/containers/with-engine.js COMMAND [ARGS...]`: runs COMMAND with the container
 * engine up, starting dockerd first (as root) when it is not running and stopping it after, so
 * `npm run test:containers` needs no engine started by hand. Exits with COMMAND's code.
 */
import { spawn } from 'node:child_process';
import { useEngine } from './engine-lease.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command) {
    process.stderr.write('usage: with-engine COMMAND [ARGS...]\n');
    return 2;
  }
  const engine = await useEngine((line) => process.stderr.write(`with-engine: ${line}\n`));
  try {
    const child = spawn(command, args, { stdio: 'inherit' });
    // Ctrl-C reaches the whole foreground process group, COMMAND included: forwarding it too
    // would be a second Ctrl-C (farm's "kill at once"). Stay alive to stop the engine after.
    process.on('SIGINT', () => {});
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    return await new Promise<number>((resolve) => {
      child.once('error', (error) => {
        process.stderr.write(`with-engine: ${command}: ${error.message}\n`);
        resolve(127);
      });
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + 2 : 1)));
    });
  } finally {
    await engine.release();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`with-engine: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
