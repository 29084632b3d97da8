/**
 * Versioned schema migrations of the farm database. A migration is an id, the module that owns
 * it and its SQL; `migrate` applies, in list order, those not yet recorded in
 * farm_schema_migrations, each in its own transaction, under an advisory lock so that two
 * `farm db init` (or agents starting together) never apply one twice. An applied migration
 * whose SQL changed since is refused: migrations are append-only; change a schema with a new one.
 */
import { createHash } from 'node:crypto';
import { InfrastructureError } from '../../base/errors.js';
import type { Pool } from './connection.js';

export interface Migration {
  /** Unique, never reused: "<module>-<NNN>-<what>", e.g. "coordinator-001-places-jobs-leases". */
  readonly id: string;
  /** Owning module ("coordinator", "history"). */
  readonly module: string;
  readonly sql: string;
}

// Any constant: the key of the advisory lock that serialises migrations.
const MIGRATION_LOCK_KEY = 0x0fa2_3d81;

const checksum = (sql: string) => createHash('sha256').update(sql).digest('hex');

export interface MigrationReport {
  readonly applied: readonly string[];
  readonly alreadyApplied: readonly string[];
}

export async function migrate(pool: Pool, migrations: readonly Migration[]): Promise<MigrationReport> {
  const ids = new Set<string>();
  for (const migration of migrations) {
    if (ids.has(migration.id)) throw new InfrastructureError(`migration ${migration.id} is listed twice`);
    ids.add(migration.id);
  }
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS farm_schema_migrations (
      id text PRIMARY KEY,
      module text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Map<string, string>(
      (await client.query<{ id: string; checksum: string }>('SELECT id, checksum FROM farm_schema_migrations')).rows.map((row) => [row.id, row.checksum]),
    );
    const applied: string[] = [];
    const alreadyApplied: string[] = [];
    for (const migration of migrations) {
      const sum = checksum(migration.sql);
      const recorded = done.get(migration.id);
      if (recorded !== undefined) {
        if (recorded !== sum) {
          throw new InfrastructureError(`migration ${migration.id} (${migration.module}) was applied with other SQL than this farm's: migrations are append-only, add a new one`);
        }
        alreadyApplied.push(migration.id);
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(migration.sql);
        await client.query('INSERT INTO farm_schema_migrations (id, module, checksum) VALUES ($1, $2, $3)', [migration.id, migration.module, sum]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new InfrastructureError(`migration ${migration.id} (${migration.module}) failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
      applied.push(migration.id);
    }
    return { applied, alreadyApplied };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}

/** Ids of the migrations the database lacks (an empty list: the schema is current). */
export async function pendingMigrations(pool: Pool, migrations: readonly Migration[]): Promise<string[]> {
  const exists = await pool.query<{ present: boolean }>("SELECT to_regclass('farm_schema_migrations') IS NOT NULL AS present");
  if (!exists.rows[0]?.present) return migrations.map((migration) => migration.id);
  const done = new Set((await pool.query<{ id: string }>('SELECT id FROM farm_schema_migrations')).rows.map((row) => row.id));
  return migrations.filter((migration) => !done.has(migration.id)).map((migration) => migration.id);
}
