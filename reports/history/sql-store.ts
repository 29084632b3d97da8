/**
 * The history store's one implementation over SQL: the row shapes, the statements and the
 * queries, shared by the embedded SQLite file (sqlite-store.ts) and the farm's PostgreSQL
 * database (postgres-store.ts). A back end only runs statements (`?` placeholders; PostgreSQL's
 * turns them into $n) and says how its dialect differs: table names, the column that orders rows
 * inserted in the same instant, and how to ask whether a run's target list holds a name.
 */
import type { HistoryStore, MetricQuery, MetricRow, ResultQuery, ResultRow, RunQuery, RunRow, RunState } from './history-store.js';

export type SqlValue = string | number | null;

export interface SqlRunner {
  all<R>(sql: string, values?: readonly SqlValue[]): Promise<R[]>;
  run(sql: string, values?: readonly SqlValue[]): Promise<void>;
}

export interface HistoryDialect {
  readonly runs: string;
  readonly results: string;
  readonly metrics: string;
  /** Orders rows of the same timestamp by insertion: SQLite's rowid, a bigserial column in PostgreSQL. */
  readonly insertionOrder: string;
  /** A condition with one `?`, bound to targetValue(name): the run's targets include the name. */
  readonly runHasTarget: string;
  targetValue(target: string): SqlValue;
}

export interface SqlBackend extends SqlRunner {
  readonly dialect: HistoryDialect;
  /** Runs `work` in one transaction: all of it or nothing. */
  transaction(work: (sql: SqlRunner) => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** A run as both back ends return it (targets: JSON text in SQLite, parsed jsonb in PostgreSQL). */
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
  targets: string | string[];
  regressions: number;
  farm_job: number | null;
}

const RUN_COLUMNS = 'id, started_at, duration_ms, status, farm_version, firmware_rev, hostname, out_dir, pid, targets, regressions, farm_job';
const RESULT_FIELDS = [
  ['run_id', 'runId'], ['target', 'target'], ['kind', 'kind'], ['suite', 'suite'], ['title', 'title'], ['repeat', 'repeat'], ['attempt', 'attempt'],
  ['outcome', 'outcome'], ['failure_class', 'failureClass'], ['message', 'message'], ['duration_ms', 'durationMs'], ['firmware_sha256', 'firmwareSha256'],
  ['firmware_label', 'firmwareLabel'], ['started_at', 'startedAt'],
] as const satisfies readonly (readonly [string, keyof ResultRow])[];
const METRIC_FIELDS = [
  ['run_id', 'runId'], ['target', 'target'], ['metric', 'metric'], ['value', 'value'], ['firmware_sha256', 'firmwareSha256'], ['started_at', 'startedAt'],
] as const satisfies readonly (readonly [string, keyof MetricRow])[];
/** Selected under the rows' own names: the same row objects from both back ends. */
const selectAs = (fields: readonly (readonly [string, string])[]) => fields.map(([column, field]) => `${column} AS "${field}"`).join(', ');

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
  targets: typeof row.targets === 'string' ? (JSON.parse(row.targets) as string[]) : row.targets,
  regressions: row.regressions,
  farmJob: row.farm_job,
});

/** "WHERE a AND b" of conditions with `?` placeholders, and their values in order. */
class Conditions {
  readonly values: SqlValue[] = [];
  private readonly parts: string[] = [];
  add(condition: string, ...values: SqlValue[]): this {
    this.parts.push(condition);
    this.values.push(...values);
    return this;
  }
  toString(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}

// A multi-row INSERT per chunk: few round trips to a remote database, and well under both
// back ends' limits on bound values (SQLite 32766, PostgreSQL 65535).
const ROWS_PER_INSERT = 500;

async function insertRows<T>(sql: SqlRunner, table: string, fields: readonly (readonly [string, keyof T])[], rows: readonly T[]): Promise<void> {
  const placeholders = `(${fields.map(() => '?').join(', ')})`;
  for (let at = 0; at < rows.length; at += ROWS_PER_INSERT) {
    const chunk = rows.slice(at, at + ROWS_PER_INSERT);
    const values = chunk.flatMap((row) => fields.map(([, field]) => (row[field] ?? null) as SqlValue));
    await sql.run(`INSERT INTO ${table} (${fields.map(([column]) => column).join(', ')}) VALUES ${chunk.map(() => placeholders).join(', ')}`, values);
  }
}

export class SqlHistoryStore implements HistoryStore {
  constructor(
    private readonly db: SqlBackend,
    /** Where the history is, for messages (a file, or a database URL without its password). */
    readonly location: string,
  ) {}

  private get t(): HistoryDialect {
    return this.db.dialect;
  }

  async beginRun(run: RunRow): Promise<void> {
    await this.db.run(
      `INSERT INTO ${this.t.runs} (${RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [run.id, run.startedAt, run.durationMs, run.status, run.farmVersion, run.firmwareRev, run.hostname, run.outDir, run.pid, JSON.stringify(run.targets), run.regressions, run.farmJob ?? null],
    );
  }

  async finishRun(id: string, end: { status: RunState; durationMs: number | null; regressions: number }, results: readonly ResultRow[], metrics: readonly MetricRow[]): Promise<void> {
    await this.db.transaction(async (sql) => {
      await sql.run(`UPDATE ${this.t.runs} SET status = ?, duration_ms = ?, regressions = ? WHERE id = ?`, [end.status, end.durationMs, end.regressions, id]);
      // Finishing twice (the CLI after a runner that already finished) must not double the rows.
      if (results.length) await sql.run(`DELETE FROM ${this.t.results} WHERE run_id = ?`, [id]);
      if (metrics.length) await sql.run(`DELETE FROM ${this.t.metrics} WHERE run_id = ?`, [id]);
      await insertRows(sql, this.t.results, RESULT_FIELDS, results.map((row) => ({ ...row, runId: id })));
      await insertRows(sql, this.t.metrics, METRIC_FIELDS, metrics.map((row) => ({ ...row, runId: id })));
    });
  }

  async runs(query: RunQuery = {}): Promise<RunRow[]> {
    const where = new Conditions();
    if (query.target !== undefined) where.add(this.t.runHasTarget, this.t.targetValue(query.target));
    if (query.status !== undefined) where.add('status = ?', query.status);
    const limit = Math.max(1, Math.floor(query.limit ?? 100));
    const rows = await this.db.all<RunDbRow>(`SELECT ${RUN_COLUMNS} FROM ${this.t.runs} ${where} ORDER BY started_at DESC, ${this.t.insertionOrder} DESC LIMIT ?`, [...where.values, limit]);
    return rows.map(toRun);
  }

  async run(id: string): Promise<RunRow | undefined> {
    const row = (await this.db.all<RunDbRow>(`SELECT ${RUN_COLUMNS} FROM ${this.t.runs} WHERE id = ?`, [id]))[0];
    return row ? toRun(row) : undefined;
  }

  async results(query: ResultQuery = {}): Promise<ResultRow[]> {
    const where = new Conditions();
    if (query.runId !== undefined) where.add('run_id = ?', query.runId);
    if (query.target !== undefined) where.add('target = ?', query.target);
    if (query.runs !== undefined) {
      where.add(`run_id IN (SELECT id FROM ${this.t.runs} WHERE status <> 'running' ORDER BY started_at DESC LIMIT ?)`, query.runs);
    }
    return this.db.all<ResultRow>(`SELECT ${selectAs(RESULT_FIELDS)} FROM ${this.t.results} ${where} ORDER BY started_at, ${this.t.insertionOrder}`, where.values);
  }

  async metrics(query: MetricQuery = {}): Promise<MetricRow[]> {
    const selection = new Conditions();
    if (query.target !== undefined) selection.add('target = ?', query.target);
    if (query.metric !== undefined) selection.add('metric = ?', query.metric);
    if (query.before !== undefined) selection.add('started_at < ?', query.before);
    const where = new Conditions().add(selection.toString().replace(/^WHERE /, '') || '1 = 1', ...selection.values);
    if (query.runs !== undefined) {
      // The latest N runs that have figures of this selection.
      where.add(`run_id IN (SELECT run_id FROM ${this.t.metrics} ${selection} GROUP BY run_id ORDER BY MAX(started_at) DESC LIMIT ?)`, ...selection.values, query.runs);
    }
    return this.db.all<MetricRow>(`SELECT ${selectAs(METRIC_FIELDS)} FROM ${this.t.metrics} ${where} ORDER BY started_at, ${this.t.insertionOrder}`, where.values);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
