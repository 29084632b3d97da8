/**
 * The embedded history store: one SQLite file (better-sqlite3), in WAL mode so that `farm serve`
 * reads while runs write, with a busy timeout so that parallel runs on one machine wait for each
 * other instead of failing. The schema is versioned with SQLite's user_version; the rows and
 * queries are sql-store.ts's, shared with the PostgreSQL store.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { InfrastructureError } from '../../base/errors.js';
import { SqlHistoryStore, type HistoryDialect, type SqlBackend, type SqlRunner, type SqlValue } from './sql-store.js';

/** Each entry takes the schema from version index to index + 1; append only. */
const SCHEMA_STEPS = [
  `
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
`,
  // The farm job a run was (the PostgreSQL store has the same column).
  'ALTER TABLE runs ADD COLUMN farm_job INTEGER;',
];
const SCHEMA_VERSION = SCHEMA_STEPS.length;

const SQLITE_DIALECT: HistoryDialect = {
  runs: 'runs',
  results: 'results',
  metrics: 'metrics',
  insertionOrder: 'rowid',
  runHasTarget: 'EXISTS (SELECT 1 FROM json_each(runs.targets) WHERE json_each.value = ?)',
  targetValue: (target) => target,
};

class SqliteBackend implements SqlBackend {
  readonly dialect = SQLITE_DIALECT;

  constructor(private readonly db: Database.Database) {}

  async all<R>(sql: string, values: readonly SqlValue[] = []): Promise<R[]> {
    return this.db.prepare(sql).all(...values) as R[];
  }

  async run(sql: string, values: readonly SqlValue[] = []): Promise<void> {
    this.db.prepare(sql).run(...values);
  }

  async transaction(work: (sql: SqlRunner) => Promise<void>): Promise<void> {
    // better-sqlite3 is synchronous: every statement of `work` runs before its promise settles,
    // so nothing else of this process can slip into the transaction.
    this.db.exec('BEGIN IMMEDIATE');
    try {
      await work(this);
      this.db.exec('COMMIT');
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function openDatabase(location: string, readonly: boolean): Database.Database {
  if (!readonly) mkdirSync(dirname(location), { recursive: true });
  const db = new Database(location, { readonly, fileMustExist: readonly, timeout: 10_000 });
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) throw new Error(`schema version ${version} is newer than this farm's (${SCHEMA_VERSION})`);
  if (readonly) {
    if (version === SCHEMA_VERSION) return db;
    // A file of an older farm: upgraded once (the file exists: nothing is created).
    db.close();
    return openDatabase(location, false);
  }
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    for (const step of SCHEMA_STEPS.slice(current)) db.exec(step);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
  return db;
}

export class SqliteHistoryStore extends SqlHistoryStore {
  constructor(location: string, options: { readonly readonly?: boolean } = {}) {
    let db: Database.Database;
    try {
      db = openDatabase(location, options.readonly ?? false);
    } catch (error) {
      throw new InfrastructureError(`run history ${location}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    super(new SqliteBackend(db), location);
  }
}
