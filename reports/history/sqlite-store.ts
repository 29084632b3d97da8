/**
 * The embedded history store: one SQLite file (better-sqlite3), in WAL mode so that `farm serve`
 * reads while runs write, with a busy timeout so that parallel runs on one machine wait for each
 * other instead of failing. The schema is versioned with SQLite's user_version.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { InfrastructureError } from '../../base/errors.js';
import type { HistoryStore, MetricQuery, MetricRow, ResultQuery, ResultRow, RunQuery, RunRow, RunState } from './history-store.js';

const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  duration_ms INTEGER,
  status TEXT NOT NULL,
  farm_version TEXT NOT NULL,
  firmware_rev TEXT,
  hostname TEXT NOT NULL,
  out_dir TEXT NOT NULL,
  pid INTEGER NOT NULL,
  targets TEXT NOT NULL,
  regressions INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_started ON runs (started_at);
CREATE TABLE IF NOT EXISTS results (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  target TEXT NOT NULL,
  kind TEXT,
  suite TEXT NOT NULL,
  title TEXT NOT NULL,
  repeat INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  failure_class TEXT,
  message TEXT,
  duration_ms REAL NOT NULL,
  firmware_sha256 TEXT,
  firmware_label TEXT,
  started_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_test ON results (target, suite, title, firmware_sha256);
CREATE INDEX IF NOT EXISTS results_run ON results (run_id);
CREATE TABLE IF NOT EXISTS metrics (
  run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  target TEXT NOT NULL,
  metric TEXT NOT NULL,
  value REAL NOT NULL,
  firmware_sha256 TEXT,
  started_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS metrics_series ON metrics (target, metric, started_at);
`;

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
  targets: string;
  regressions: number;
}

interface ResultDbRow {
  run_id: string;
  target: string;
  kind: string | null;
  suite: string;
  title: string;
  repeat: number;
  attempt: number;
  outcome: ResultRow['outcome'];
  failure_class: string | null;
  message: string | null;
  duration_ms: number;
  firmware_sha256: string | null;
  firmware_label: string | null;
  started_at: string;
}

interface MetricDbRow {
  run_id: string;
  target: string;
  metric: string;
  value: number;
  firmware_sha256: string | null;
  started_at: string;
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
  targets: JSON.parse(row.targets) as string[],
  regressions: row.regressions,
});

const toResult = (row: ResultDbRow): ResultRow => ({
  runId: row.run_id,
  target: row.target,
  kind: row.kind,
  suite: row.suite,
  title: row.title,
  repeat: row.repeat,
  attempt: row.attempt,
  outcome: row.outcome,
  failureClass: row.failure_class,
  message: row.message,
  durationMs: row.duration_ms,
  firmwareSha256: row.firmware_sha256,
  firmwareLabel: row.firmware_label,
  startedAt: row.started_at,
});

const toMetric = (row: MetricDbRow): MetricRow => ({
  runId: row.run_id,
  target: row.target,
  metric: row.metric,
  value: row.value,
  firmwareSha256: row.firmware_sha256,
  startedAt: row.started_at,
});

export class SqliteHistoryStore implements HistoryStore {
  private readonly db: Database.Database;

  constructor(readonly location: string, options: { readonly readonly?: boolean } = {}) {
    try {
      if (!options.readonly) mkdirSync(dirname(location), { recursive: true });
      this.db = new Database(location, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false, timeout: 10_000 });
      if (!options.readonly) {
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('foreign_keys = ON');
        const version = this.db.pragma('user_version', { simple: true }) as number;
        if (version > SCHEMA_VERSION) throw new Error(`schema version ${version} is newer than this farm's (${SCHEMA_VERSION})`);
        this.db.exec(SCHEMA);
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }
    } catch (error) {
      throw new InfrastructureError(`run history ${location}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  async beginRun(run: RunRow): Promise<void> {
    this.db
      .prepare(
        `INSERT INTO runs (id, started_at, duration_ms, status, farm_version, firmware_rev, hostname, out_dir, pid, targets, regressions)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(run.id, run.startedAt, run.durationMs, run.status, run.farmVersion, run.firmwareRev, run.hostname, run.outDir, run.pid, JSON.stringify(run.targets), run.regressions);
  }

  async finishRun(
    id: string,
    end: { status: RunState; durationMs: number | null; regressions: number },
    results: readonly ResultRow[],
    metrics: readonly MetricRow[],
  ): Promise<void> {
    const insertResult = this.db.prepare(
      `INSERT INTO results (run_id, target, kind, suite, title, repeat, attempt, outcome, failure_class, message, duration_ms, firmware_sha256, firmware_label, started_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertMetric = this.db.prepare('INSERT INTO metrics (run_id, target, metric, value, firmware_sha256, started_at) VALUES (?, ?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      this.db.prepare('UPDATE runs SET status = ?, duration_ms = ?, regressions = ? WHERE id = ?').run(end.status, end.durationMs, end.regressions, id);
      // Finishing twice (the CLI after a runner that already finished) must not double the rows.
      if (results.length) this.db.prepare('DELETE FROM results WHERE run_id = ?').run(id);
      if (metrics.length) this.db.prepare('DELETE FROM metrics WHERE run_id = ?').run(id);
      for (const r of results) {
        insertResult.run(id, r.target, r.kind, r.suite, r.title, r.repeat, r.attempt, r.outcome, r.failureClass, r.message, r.durationMs, r.firmwareSha256, r.firmwareLabel, r.startedAt);
      }
      for (const m of metrics) insertMetric.run(id, m.target, m.metric, m.value, m.firmwareSha256, m.startedAt);
    })();
  }

  async runs(query: RunQuery = {}): Promise<RunRow[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.target !== undefined) {
      where.push('EXISTS (SELECT 1 FROM json_each(runs.targets) WHERE json_each.value = ?)');
      args.push(query.target);
    }
    if (query.status !== undefined) {
      where.push('status = ?');
      args.push(query.status);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC, rowid DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, query.limit ?? 100) as RunDbRow[]).map(toRun);
  }

  async run(id: string): Promise<RunRow | undefined> {
    const row = this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id) as RunDbRow | undefined;
    return row ? toRun(row) : undefined;
  }

  async results(query: ResultQuery = {}): Promise<ResultRow[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.runId !== undefined) {
      where.push('run_id = ?');
      args.push(query.runId);
    }
    if (query.target !== undefined) {
      where.push('target = ?');
      args.push(query.target);
    }
    if (query.runs !== undefined) {
      where.push("run_id IN (SELECT id FROM runs WHERE status != 'running' ORDER BY started_at DESC LIMIT ?)");
      args.push(query.runs);
    }
    const sql = `SELECT * FROM results ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at, rowid`;
    return (this.db.prepare(sql).all(...args) as ResultDbRow[]).map(toResult);
  }

  async metrics(query: MetricQuery = {}): Promise<MetricRow[]> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (query.target !== undefined) {
      where.push('target = ?');
      args.push(query.target);
    }
    if (query.metric !== undefined) {
      where.push('metric = ?');
      args.push(query.metric);
    }
    if (query.before !== undefined) {
      where.push('started_at < ?');
      args.push(query.before);
    }
    if (query.runs !== undefined) {
      // The latest N runs that have figures of this selection.
      const inner = `SELECT run_id FROM metrics ${where.length ? `WHERE ${where.join(' AND ')}` : ''} GROUP BY run_id ORDER BY MAX(started_at) DESC LIMIT ?`;
      where.push(`run_id IN (${inner})`);
      args.push(...args, query.runs);
    }
    const sql = `SELECT * FROM metrics ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at, rowid`;
    return (this.db.prepare(sql).all(...args) as MetricDbRow[]).map(toMetric);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
