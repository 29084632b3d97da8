/**
 * The run history in the farm's PostgreSQL database (the multi-host farm's, farm/db/): the same
 * rows as the SQLite store, in tables of module "history" created by HISTORY_MIGRATIONS through
 * the farm database's migration mechanism. The pool is typed structurally (what `pg`'s Pool
 * offers), so this layer needs neither `pg` nor the farm layer that opens the connection.
 */
import type { HistoryStore, MetricQuery, MetricRow, ResultQuery, ResultRow, RunQuery, RunRow, RunState } from './history-store.js';

/** The part of pg's Pool this store uses. */
export interface SqlPool {
  query<R>(text: string, values?: readonly unknown[]): Promise<{ rows: R[] }>;
  connect(): Promise<SqlClient>;
}
export interface SqlClient {
  query<R>(text: string, values?: readonly unknown[]): Promise<{ rows: R[] }>;
  release(): void;
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

interface RunDbRow {
  id: string;
  started_at: string;
  duration_ms: number | null;
  status: RunState;
  farm_version: string;
  firmware_rev: string | null;
  hostname: string;
  out_dir: string;
  pid: number;
  targets: string[];
  regressions: number;
}

const toRun = (row: RunDbRow): RunRow => ({
  id: row.id,
  startedAt: row.started_at,
  durationMs: row.duration_ms,
  status: row.status,
  farmVersion: row.farm_version,
  firmwareRev: row.firmware_rev,
  hostname: row.hostname,
  outDir: row.out_dir,
  pid: row.pid,
  targets: row.targets,
  regressions: row.regressions,
});

const RESULT_COLUMNS = `run_id AS "runId", target, kind, suite, title, repeat, attempt, outcome, failure_class AS "failureClass", message,
  duration_ms AS "durationMs", firmware_sha256 AS "firmwareSha256", firmware_label AS "firmwareLabel", started_at AS "startedAt"`;
const METRIC_COLUMNS = `run_id AS "runId", target, metric, value, firmware_sha256 AS "firmwareSha256", started_at AS "startedAt"`;

/** Builds "WHERE a = $1 AND b = $2" from conditions with `?` placeholders. */
class Where {
  readonly values: unknown[] = [];
  private readonly parts: string[] = [];
  add(condition: string, ...values: unknown[]): void {
    let text = condition;
    for (const value of values) {
      this.values.push(value);
      text = text.replace('?', `$${this.values.length}`);
    }
    this.parts.push(text);
  }
  toString(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

export class PostgresHistoryStore implements HistoryStore {
  constructor(
    private readonly pool: SqlPool,
    /** The database URL without its password, for messages. */
    readonly location: string,
    private readonly onClose: () => Promise<void> = async () => {},
  ) {}

  async beginRun(run: RunRow): Promise<void> {
    await this.pool.query(
      `INSERT INTO farm_history_runs (id, started_at, duration_ms, status, farm_version, firmware_rev, hostname, out_dir, pid, targets, regressions)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)`,
      [run.id, run.startedAt, run.durationMs, run.status, run.farmVersion, run.firmwareRev, run.hostname, run.outDir, run.pid, JSON.stringify(run.targets), run.regressions],
    );
  }

  async finishRun(id: string, end: { status: RunState; durationMs: number | null; regressions: number }, results: readonly ResultRow[], metrics: readonly MetricRow[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('UPDATE farm_history_runs SET status = $1, duration_ms = $2, regressions = $3 WHERE id = $4', [end.status, end.durationMs, end.regressions, id]);
      // Finishing twice must not double the rows.
      if (results.length) await client.query('DELETE FROM farm_history_results WHERE run_id = $1', [id]);
      if (metrics.length) await client.query('DELETE FROM farm_history_metrics WHERE run_id = $1', [id]);
      if (results.length) {
        // One statement for all rows: json_to_recordset of the rows as JSON.
        await client.query(
          `INSERT INTO farm_history_results (run_id, target, kind, suite, title, repeat, attempt, outcome, failure_class, message, duration_ms, firmware_sha256, firmware_label, started_at)
           SELECT $1, r.target, r.kind, r.suite, r.title, r.repeat, r.attempt, r.outcome, r."failureClass", r.message, r."durationMs", r."firmwareSha256", r."firmwareLabel", r."startedAt"
           FROM json_to_recordset($2::json) AS r(target text, kind text, suite text, title text, repeat integer, attempt integer, outcome text, "failureClass" text, message text,
             "durationMs" double precision, "firmwareSha256" text, "firmwareLabel" text, "startedAt" text)`,
          [id, JSON.stringify(results)],
        );
      }
      if (metrics.length) {
        await client.query(
          `INSERT INTO farm_history_metrics (run_id, target, metric, value, firmware_sha256, started_at)
           SELECT $1, m.target, m.metric, m.value, m."firmwareSha256", m."startedAt"
           FROM json_to_recordset($2::json) AS m(target text, metric text, value double precision, "firmwareSha256" text, "startedAt" text)`,
          [id, JSON.stringify(metrics)],
        );
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async runs(query: RunQuery = {}): Promise<RunRow[]> {
    const where = new Where();
    if (query.target !== undefined) where.add('targets @> ?::jsonb', JSON.stringify([query.target]));
    if (query.status !== undefined) where.add('status = ?', query.status);
    const sql = `SELECT * FROM farm_history_runs ${where.toString()} ORDER BY started_at DESC, seq DESC LIMIT ${Math.max(1, Math.floor(query.limit ?? 100))}`;
    return (await this.pool.query<RunDbRow>(sql, where.values)).rows.map(toRun);
  }

  async run(id: string): Promise<RunRow | undefined> {
    const row = (await this.pool.query<RunDbRow>('SELECT * FROM farm_history_runs WHERE id = $1', [id])).rows[0];
    return row ? toRun(row) : undefined;
  }

  async results(query: ResultQuery = {}): Promise<ResultRow[]> {
    const where = new Where();
    if (query.runId !== undefined) where.add('run_id = ?', query.runId);
    if (query.target !== undefined) where.add('target = ?', query.target);
    if (query.runs !== undefined) where.add("run_id IN (SELECT id FROM farm_history_runs WHERE status <> 'running' ORDER BY started_at DESC LIMIT ?)", query.runs);
    return (await this.pool.query<ResultRow>(`SELECT ${RESULT_COLUMNS} FROM farm_history_results ${where.toString()} ORDER BY started_at, seq`, where.values)).rows;
  }

  async metrics(query: MetricQuery = {}): Promise<MetricRow[]> {
    const conditions: [string, unknown][] = [];
    if (query.target !== undefined) conditions.push(['target = ?', query.target]);
    if (query.metric !== undefined) conditions.push(['metric = ?', query.metric]);
    if (query.before !== undefined) conditions.push(['started_at < ?', query.before]);
    const where = new Where();
    for (const [condition, value] of conditions) where.add(condition, value);
    if (query.runs !== undefined) {
      // The latest N runs that have figures of this selection.
      const inner = conditions.length ? `WHERE ${conditions.map(([condition]) => condition).join(' AND ')}` : '';
      where.add(`run_id IN (SELECT run_id FROM farm_history_metrics ${inner} GROUP BY run_id ORDER BY MAX(started_at) DESC LIMIT ?)`, ...conditions.map(([, value]) => value), query.runs);
    }
    return (await this.pool.query<MetricRow>(`SELECT ${METRIC_COLUMNS} FROM farm_history_metrics ${where.toString()} ORDER BY started_at, seq`, where.values)).rows;
  }

  async close(): Promise<void> {
    await this.onClose();
  }
}
