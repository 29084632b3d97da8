/**
 * The farm database connection (PostgreSQL, through `pg`): one place that opens pools, says
 * which database it talks to without its password, and turns connection failures into
 * InfrastructureErrors. Every module that keeps state in the farm database (the coordinator,
 * run history) connects through here.
 */
import pg from 'pg';
import { InfrastructureError } from '../../base/errors.js';

// bigserial ids and counts as numbers: the farm's never come near 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Client = pg.Client;

export const FARM_DB_ENV = 'FARM_DB';

/** The URL for messages: user and host kept, the password never. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparsable database URL>';
  }
}

export function checkDatabaseUrl(url: string, option = '--farm'): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InfrastructureError(`${option}: not a URL: expected postgres://USER@HOST:PORT/DATABASE`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new InfrastructureError(`${option}: ${redactUrl(url)}: expected a postgres:// URL`);
  }
  return url;
}

export interface PoolOptions {
  /** Who connects, shown in pg_stat_activity ("farm agent lab-3"). */
  readonly applicationName: string;
  readonly max?: number;
}

export function openPool(url: string, options: PoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString: checkDatabaseUrl(url),
    application_name: options.applicationName.slice(0, 63),
    max: options.max ?? 4,
    connectionTimeoutMillis: 5000,
    // A statement that hangs (a database that stopped answering) must not hang the farm.
    query_timeout: 30_000,
  });
  // An idle client losing its connection (database restart) must not crash the process: the
  // pool drops it and the next query connects anew.
  pool.on('error', () => undefined);
  return pool;
}

/** A dedicated connection (LISTEN needs one that stays open). */
export async function openClient(url: string, applicationName: string): Promise<Client> {
  const client = new pg.Client({ connectionString: checkDatabaseUrl(url), application_name: applicationName.slice(0, 63), connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw databaseError(url, error);
  }
  return client;
}

export function databaseError(url: string, error: unknown): InfrastructureError {
  const message = error instanceof Error ? error.message : String(error);
  return new InfrastructureError(`farm database ${redactUrl(url)}: ${message}`, { cause: error });
}

/** Runs `work` in one transaction on a client of `pool`; rolls back on any error. */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // A checked-out client has no listener of the pool's: a connection lost between two queries
  // (the database restarting) would be an unhandled 'error' event that ends the process. Here it
  // fails the next query instead, and the client is not given back to the pool.
  const ignore = (): void => undefined;
  client.on('error', ignore);
  let failure: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', ignore);
    client.release(failure);
  }
}
