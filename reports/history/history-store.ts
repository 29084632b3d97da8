/**
 * The farm's run history: every run, every test attempt's result and every performance figure,
 * kept across runs so that flaky tests and performance regressions can be told from one-off
 * failures. Stores implement HistoryStore: an embedded SQLite file by default
 * (reports/history/sqlite-store.ts), or the farm's PostgreSQL database (postgres-store.ts), one
 * implementation over two SQL back ends (sql-store.ts); the interface is asynchronous for the
 * networked one.
 */

export type RunState = 'running' | 'passed' | 'failed' | 'interrupted' | 'timedout';

/** One `farm run`. */
export interface RunRow {
  readonly id: string;
  readonly startedAt: string;
  /** Null while the run is running. */
  readonly durationMs: number | null;
  readonly status: RunState;
  /** The farm's own version (package.json). */
  readonly farmVersion: string;
  /** Git revision of the firmware under test, when given (`--firmware-rev`, FARM_FIRMWARE_REV). */
  readonly firmwareRev: string | null;
  readonly hostname: string;
  /** The run's report directory (its live event log is there while it runs). */
  readonly outDir: string;
  /** The `farm run` process, to tell a running run from one that died without saying so. */
  readonly pid: number;
  readonly targets: readonly string[];
  /** Tests with a performance regression in this run. */
  readonly regressions: number;
  /** The farm job this run was (a `farm run --farm` job run by an agent), else null. */
  readonly farmJob?: number | null;
}

export type ResultOutcome = 'passed' | 'failed' | 'error' | 'skipped';

/** One finished attempt of one test. */
export interface ResultRow {
  readonly runId: string;
  readonly target: string;
  readonly kind: string | null;
  readonly suite: string;
  readonly title: string;
  readonly repeat: number;
  readonly attempt: number;
  readonly outcome: ResultOutcome;
  readonly failureClass: string | null;
  /** First line of the failure. */
  readonly message: string | null;
  readonly durationMs: number;
  readonly firmwareSha256: string | null;
  readonly firmwareLabel: string | null;
  readonly startedAt: string;
}

/** One performance figure of one run (a metric of metrics.ts, on one target). */
export interface MetricRow {
  readonly runId: string;
  readonly target: string;
  readonly metric: string;
  readonly value: number;
  readonly firmwareSha256: string | null;
  readonly startedAt: string;
}

export interface RunQuery {
  readonly limit?: number;
  readonly target?: string;
  readonly status?: RunState;
}

export interface ResultQuery {
  readonly runId?: string;
  readonly target?: string;
  /** Results of the latest `runs` runs only. */
  readonly runs?: number;
}

export interface MetricQuery {
  readonly target?: string;
  readonly metric?: string;
  /** Figures of the latest `runs` runs only. */
  readonly runs?: number;
  /** Figures of runs that started before this run (its baseline). */
  readonly before?: string;
}

export interface HistoryStore {
  /** Where the history is, for messages ("farm-history.sqlite", "postgres://farm@db/farm"). */
  readonly location: string;
  /** Records a run that has started (status running). */
  beginRun(run: RunRow): Promise<void>;
  /** Records how a run ended, with its results and figures. */
  finishRun(id: string, end: { status: RunState; durationMs: number | null; regressions: number }, results: readonly ResultRow[], metrics: readonly MetricRow[]): Promise<void>;
  /** Newest first. */
  runs(query?: RunQuery): Promise<RunRow[]>;
  run(id: string): Promise<RunRow | undefined>;
  /** Oldest first. */
  results(query?: ResultQuery): Promise<ResultRow[]>;
  /** Oldest first. */
  metrics(query?: MetricQuery): Promise<MetricRow[]>;
  close(): Promise<void>;
}
