/**
 * A CommonJS package loaded on first use instead of when the module naming it is imported.
 * dockerode, ssh2 and serialport take 100-400 ms each to import; imported statically, every
 * `farm` command and every test worker paid for them through the kind registry, whether the
 * run touched a container, an SSH board or a serial port or not.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A function returning the package `name` (`require(name)`), loading it the first time it is called. */
export function lazyRequire<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
