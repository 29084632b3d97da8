/**
 * Opens the run history where it is: a SQLite file, or the farm database (a postgres:// URL,
 * the multi-host farm's `--farm` / FARM_DB), whose history tables `farm db init` creates.
 */
import { hostname } from 'node:os';
import { FarmError } from '../base/errors.js';
import type { HistoryStore } from '../reports/history/history-store.js';
import { HISTORY_MIGRATIONS, PostgresHistoryStore } from '../reports/history/postgres-store.js';
import { SqliteHistoryStore } from '../reports/history/sqlite-store.js';
import { isDatabaseUrl } from '../reports/history/run-history.js';
import { databaseError, openPool, redactUrl } from './db/connection.js';
import { pendingMigrations } from './db/migrate.js';
import { UsageError } from './selection.js';


/** Where the history is, for messages: a database URL without its password. */
export const describeHistoryLocation = (location: string): string => (isDatabaseUrl(location) ? redactUrl(location) : location);

/**
 * The store at `location`. A database must have the history's tables (`farm db init`); it is
 * reached at once, so a wrong URL or a database that is down fails here with one line naming it.
 */
export async function openHistoryStore(location: string, options: { readonly readonly?: boolean; readonly who?: string } = {}): Promise<HistoryStore> {
  if (!isDatabaseUrl(location)) return new SqliteHistoryStore(location, options);
  const pool = openPool(location, { applicationName: `farm ${options.who ?? 'history'} ${hostname()}`, max: 3 });
  try {
    const pending = (await pendingMigrations(pool, HISTORY_MIGRATIONS)).filter((id) => HISTORY_MIGRATIONS.some((migration) => migration.id === id));
    if (pending.length) throw new UsageError(`farm database ${redactUrl(location)} has no run history tables yet (lacks ${pending.join(', ')}): run \`farm db init --farm ...\``);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error instanceof FarmError || error instanceof UsageError ? error : databaseError(location, error);
  }
  return new PostgresHistoryStore(pool, redactUrl(location), () => pool.end());
}
