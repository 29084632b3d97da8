/** `farm db init|status`, `farm places` and `farm health`: the farm database from the command line. */
import { hostname } from 'node:os';
import { databaseError, FARM_DB_ENV, openPool, redactUrl, type Pool } from './db/connection.js';
import { migrate, pendingMigrations } from './db/migrate.js';
import { FARM_MIGRATIONS } from './farm-migrations.js';
import { healthHistory, listPlaces, setHealth } from './coordinator/coordinator.js';
import { UsageError } from './selection.js';
import { FarmError } from '../base/errors.js';

const out = (line = '') => process.stdout.write(`${line}\n`);

/** The database URL from --farm or $FARM_DB; a UsageError naming both when neither is set. */
export function farmUrl(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const url = option ?? env[FARM_DB_ENV];
  if (!url) throw new UsageError(`no farm database: give --farm postgres://USER@HOST:PORT/DB or set ${FARM_DB_ENV}`);
  return url;
}

/** Runs `work` with a pool on `url`; connection failures become one line naming the database. */
export async function withFarmDb<T>(url: string, who: string, work: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = openPool(url, { applicationName: `farm ${who} ${hostname()}`, max: 2 });
  try {
    return await work(pool);
  } catch (error) {
    if (error instanceof FarmError) throw error;
    throw databaseError(url, error);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** Fails with a clear line when the schema is older than this farm (`farm db init` not run). */
export async function requireCurrentSchema(pool: Pool, url: string): Promise<void> {
  const pending = await pendingMigrations(pool, FARM_MIGRATIONS);
  if (pending.length) throw new UsageError(`farm database ${redactUrl(url)} lacks migrations ${pending.join(', ')}: run \`farm db init --farm ...\` first`);
}

export async function dbCommand(action: string, url: string): Promise<number> {
  if (action !== 'init' && action !== 'status') throw new UsageError(`farm db: unknown action "${action}" (init or status)`);
  return withFarmDb(url, 'db', async (pool) => {
    if (action === 'status') {
      const pending = await pendingMigrations(pool, FARM_MIGRATIONS);
      out(`farm database ${redactUrl(url)}: ${FARM_MIGRATIONS.length - pending.length} of ${FARM_MIGRATIONS.length} migrations applied`);
      for (const id of pending) out(`  pending: ${id}`);
      return pending.length ? 1 : 0;
    }
    const report = await migrate(pool, FARM_MIGRATIONS);
    for (const id of report.applied) out(`applied ${id}`);
    out(`farm database ${redactUrl(url)}: schema current (${report.applied.length} applied now, ${report.alreadyApplied.length} before)`);
    return 0;
  });
}

function table(header: string[], rows: string[][]): void {
  const widths = header.map((_, column) => Math.max(header[column]?.length ?? 0, ...rows.map((row) => row[column]?.length ?? 0)));
  const render = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  out(render(header));
  rows.forEach((row) => out(render(row)));
}

export async function placesCommand(url: string): Promise<number> {
  return withFarmDb(url, 'places', async (pool) => {
    await requireCurrentSchema(pool, url);
    const places = await listPlaces(pool);
    if (places.length === 0) {
      out('no places: start `farm agent --farm ...` on the hosts the targets hang off');
      return 0;
    }
    table(
      ['place', 'agent', 'kind', 'soc', 'instruments', 'suites', 'health', 'quarantined', 'job'],
      places.map((place) => [
        place.name,
        `${place.agent}${place.agent_online ? '' : ' (offline)'}`,
        place.kind,
        place.soc ?? '-',
        place.instruments.join(',') || '-',
        place.suites.join(','),
        `${place.health}${place.check_due && (place.health === 'Good' || place.health === 'Unknown') ? ' (check due)' : ''}`,
        place.blocked_suites.length ? `${place.blocked_suites.join(',')} (bad: ${place.bad_capabilities.join(',')})` : '-',
        place.running_job === null ? '-' : `#${place.running_job}`,
      ]),
    );
    return 0;
  });
}

export async function healthCommand(url: string, place: string | undefined, set: string | undefined, reason: string | undefined, limitText: string | undefined): Promise<number> {
  const limit = limitText === undefined ? 20 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit: expected an integer >= 1, got "${limitText}"`);
  return withFarmDb(url, 'health', async (pool) => {
    await requireCurrentSchema(pool, url);
    if (set !== undefined) {
      if (!place) throw new UsageError('--set: name the PLACE (farm health PLACE --set ...)');
      if (set !== 'Maintenance' && set !== 'Retired' && set !== 'Unknown') {
        throw new UsageError(`--set: expected Maintenance, Retired or Unknown, got "${set}" (Good comes only from a passing health check)`);
      }
      if (!reason) throw new UsageError('--set: say why with --reason TEXT (it goes into the health history)');
      if (!(await setHealth(pool, place, set, reason))) throw new UsageError(`no place "${place}" (farm places lists them)`);
      out(`${place}: ${set}${set === 'Unknown' ? ' (a health check runs before its next job)' : ''}`);
      return 0;
    }
    const places = await listPlaces(pool);
    if (place && !places.some((entry) => entry.name === place)) throw new UsageError(`no place "${place}" (farm places lists them)`);
    for (const entry of places.filter((candidate) => !place || candidate.name === place)) {
      out(`${entry.name}: ${entry.health}${entry.bad_capabilities.length ? `, bad capabilities: ${entry.bad_capabilities.join(', ')} (quarantined suites: ${entry.blocked_suites.join(', ')})` : ''}; ${entry.infra_failures} infrastructure failure(s) in a row; last check ${entry.last_check_at?.toISOString() ?? 'never'}`);
    }
    out('');
    for (const event of await healthHistory(pool, place, limit)) {
      out(`${event.at.toISOString()}  ${event.place}  ${event.health.padEnd(11)}  ${event.reason}`);
    }
    return 0;
  });
}
