import { InfrastructureError } from '../openamp/errors.js';

/**
 * A value in farm.yaml is wrong. `field` is the path of the offending field in the file
 * ("targets[0].params.machine"); the config loader turns it into file:line:col, so kinds only
 * need to name the field. A lab mistake, hence infrastructure.
 */
export class ConfigError extends InfrastructureError {
  constructor(
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

/** A ConfigError placed in its file: `message` is the one line the CLI prints. */
export class ConfigFileError extends InfrastructureError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${file}:${line}:${column}: ${field ? `${field}: ` : ''}${detail}`);
  }
}
