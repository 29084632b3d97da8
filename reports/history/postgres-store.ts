/**
 * The run history in the farm's PostgreSQL database (the multi-host farm's, farm/db/): the same
 * rows and queries as the SQLite store (sql-store.ts), in tables of module "history" created by
 * HISTORY_MIGRATIONS, which farm/farm-migrations.ts appends to the farm database's migrations
 * (`farm db init`). The pool is typed structurally (what `pg`'s Pool offers), so this layer
 * needs neither `pg` nor the farm layer that opens the connection (farm/history-store-open.ts).
 */
import { SqlHistoryStore, type HistoryDialect, type SqlBackend, type SqlRunner, type SqlValue } from './sql-store.js';

/** The part of pg's Pool this store uses. */
export interface SqlPool {
  query<R>(text: string, values?: readonly unknown[]): Promise<{ rows: R[] }>;
  connect(): Promise<SqlClient>;
}
export interface SqlClient {
  query<R>(text: string, values?: readonly unknown[]): Promise<{ rows: R[] }>;
  release(err?: Error): void;
  on?(event: 'error', listener: (error: Error) => void): unknown;
  off?(event: 'error', listener: (error: Error) => void): unknown;
}

/** Same shape as farm/db/migrate.ts's Migration: append-only, never edited once released. */
export const HISTORY_MIGRATIONS: readonly { readonly id: string; readonly module: string; readonly sql: string }[] = [
  {
    id: 'history-001-runs-results-metrics',
    module: 'history',
    sql: `
CREATE TABLE farm_history_runs (
  id text PRIMARY KEY,
  started_at text NOT NULL,
  duration_ms double precision,
  status text NOT NULL,
  farm_version text NOT NULL,
  firmware_rev text,
  hostname text NOT NULL,
  out_dir text NOT NULL,
  pid integer NOT NULL,
  targets jsonb NOT NULL,
  regressions integer NOT NULL DEFAULT 0,
  farm_job bigint,
  seq bigserial
);
CREATE INDEX farm_history_runs_started ON farm_history_runs (started_at);
CREATE TABLE farm_history_results (
  run_id text NOT NULL REFERENCES farm_history_runs (id) ON DELETE CASCADE,
  target text NOT NULL,
  kind text,
  suite text NOT NULL,
  title text NOT NULL,
  repeat integer NOT NULL,
  attempt integer NOT NULL,
  outcome text NOT NULL,
  failure_class text,
  message text,
  duration_ms double precision NOT NULL,
  firmware_sha256 text,
  firmware_label text,
  started_at text NOT NULL,
  seq bigserial
);
CREATE INDEX farm_history_results_test ON farm_history_results (target, suite, title, firmware_sha256);
CREATE INDEX farm_history_results_run ON farm_history_results (run_id);
CREATE TABLE farm_history_metrics (
  run_id text NOT NULL REFERENCES farm_history_runs (id) ON DELETE CASCADE,
  target text NOT NULL,
  metric text NOT NULL,
  value double precision NOT NULL,
  firmware_sha256 text,
  started_at text NOT NULL,
  seq bigserial
);
CREATE INDEX farm_history_metrics_series ON farm_history_metrics (target, metric, started_at);
`,
  },
];

const POSTGRES_DIALECT: HistoryDialect = {
  runs: 'farm_history_runs',
  results: 'farm_history_results',
  metrics: 'farm_history_metrics',
  insertionOrder: 'seq',
  runHasTarget: 'targets @> ?::jsonb',
  targetValue: (target) => JSON.stringify([target]),
};

/** `?` placeholders as PostgreSQL's $1, $2, ... (the shared statements hold no other `?`). */
function numbered(sql: string): string {
  let index = 0;
  return sql.replace(/\?/g, () => `$${++index}`);
}

class PostgresRunner implements SqlRunner {
  constructor(private readonly db: { query<R>(text: string, values?: readonly unknown[]): Promise<{ rows: R[] }> }) {}

  async all<R>(sql: string, values: readonly SqlValue[] = []): Promise<R[]> {
    return (await this.db.query<R>(numbered(sql), values)).rows;
  }

  async run(sql: string, values: readonly SqlValue[] = []): Promise<void> {
    await this.db.query(numbered(sql), values);
  }
}

class PostgresBackend extends PostgresRunner implements SqlBackend {
  readonly dialect = POSTGRES_DIALECT;

  constructor(
    private readonly pool: SqlPool,
    private readonly onClose: () => Promise<void>,
  ) {
    super(pool);
  }

  async transaction(work: (sql: SqlRunner) => Promise<void>): Promise<void> {
    const client = await this.pool.connect();
    // A connection lost while checked out must fail this transaction, not end the process.
    const ignore = (): void => undefined;
    client.on?.('error', ignore);
    let failure: Error | undefined;
    try {
      await client.query('BEGIN');
      await work(new PostgresRunner(client));
      await client.query('COMMIT');
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.off?.('error', ignore);
      client.release(failure);
    }
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}

export class PostgresHistoryStore extends SqlHistoryStore {
  constructor(
    pool: SqlPool,
    /** The database URL without its password, for messages. */
    location: string,
    onClose: () => Promise<void> = async () => {},
  ) {
    super(new PostgresBackend(pool, onClose), location);
  }
}
