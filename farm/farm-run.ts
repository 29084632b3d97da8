/**
 * `farm run --farm URL`: the CI side of a farm of many hosts. Enqueues the selected suites x
 * places (by name, or "any place with kind=/soc=/instrument=") as one run, heartbeats the run,
 * prints job progress and the agents' streamed output live (LISTEN/NOTIFY), and when every job
 * has ended writes the same reports a local run writes: junit.xml (every job's test suites; a
 * job that ended without a report is an <error>), metrics.json (the jobs' metrics merged, plus
 * the jobs), html/index.html (linking each job's Playwright report under jobs/), and the same
 * summary table and exit codes (0 all passed, 1 otherwise, 130 / 143 / 129 on SIGINT / SIGTERM / SIGHUP).
 *
 * Ctrl-C / SIGTERM cancels the run: queued jobs are cancelled, running jobs are stopped by their
 * agents, and the run waits (up to its TTL) to report them; a second signal leaves at once.
 * A client that vanishes stops heartbeating: its run is abandoned after one TTL and the same
 * happens.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { SUITE_NAMES } from '../targets/target.js';
import { readJunit } from '../reports/junit-reader.js';
import { reportPaths } from '../reports/paths.js';
import { formatTable, type SummaryRow } from '../reports/summary.js';
import { openClient, openPool, redactUrl, type Client, type Pool } from './db/connection.js';
import {
  createRun, endRun, failUnrunnable, jobsOfRun, listPlaces, matchingPlaces, runHeartbeat, runLogSince, sweep,
  type JobRequest, type JobWithReports,
} from './coordinator/coordinator.js';
import { FINAL_JOB_STATES, JOBS_CHANNEL, LOG_CHANNEL } from './coordinator/schema.js';
import { requireCurrentSchema } from './farm-db-commands.js';
import { UsageError } from './selection.js';
import { exitCodeForSignal, onStopSignals } from '../base/process/stop-signals.js';

export interface Requirement {
  readonly kind?: string;
  readonly soc?: string;
  readonly instruments: readonly string[];
}

export function parseRequirement(items: readonly string[]): Requirement | undefined {
  if (items.length === 0) return undefined;
  let kind: string | undefined;
  let soc: string | undefined;
  const instruments: string[] = [];
  for (const item of items) {
    const match = /^(kind|soc|instrument)=(.+)$/.exec(item);
    if (!match) throw new UsageError(`--require: "${item}": expected kind=NAME, soc=NAME or instrument=NAME`);
    const value = match[2] as string;
    if (match[1] === 'kind') kind = value;
    else if (match[1] === 'soc') soc = value;
    else instruments.push(value);
  }
  return { ...(kind ? { kind } : {}), ...(soc ? { soc } : {}), instruments };
}

/**
 * How long the CI side waits for an unreachable farm database before it gives up with a report of
 * the jobs as last seen: a gate must end even when the database does not come back.
 */
export const DB_OUTAGE_LIMIT_MS = 10 * 60_000;

export interface FarmRunOptions {
  readonly url: string;
  readonly places: readonly string[];
  readonly suites: readonly string[];
  readonly requirement: Requirement | undefined;
  readonly priority: number;
  readonly ttlMs: number;
  readonly queueTimeoutMs: number;
  readonly repeat: number | undefined;
  readonly retries: number | undefined;
  /** Kept in the farm database's run history with each job's results. */
  readonly firmwareRev?: string | undefined;
  readonly failOnRegression?: boolean;
  readonly maxAttempts: number;
  readonly outDir: string;
  readonly say?: (line: string) => void;
  /** Default DB_OUTAGE_LIMIT_MS. */
  readonly dbOutageLimitMs?: number;
}

const describeRequirement = (requirement: Requirement) =>
  [requirement.kind && `kind=${requirement.kind}`, requirement.soc && `soc=${requirement.soc}`, ...requirement.instruments.map((name) => `instrument=${name}`)].filter(Boolean).join(',');

/** The jobs of the run: checked against the places the database knows, so a typo fails now. */
async function planJobs(pool: Pool, options: FarmRunOptions, notes: string[]): Promise<JobRequest[]> {
  const jobOptions = {
    ...(options.repeat !== undefined ? { repeat: options.repeat } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.firmwareRev ? { firmwareRev: options.firmwareRev } : {}),
    ...(options.failOnRegression ? { failOnRegression: true } : {}),
  };
  const places = (await listPlaces(pool)).filter((place) => place.health !== 'Retired');
  // Built-in suites, and the user suites some place's farm file defines.
  const known = [...new Set([...SUITE_NAMES, ...places.flatMap((place) => place.suites)])];
  for (const suite of options.suites) {
    if (!known.includes(suite)) throw new UsageError(`--suite: unknown suite "${suite}" (known in the farm: ${known.join(', ')})`);
  }
  const jobs: JobRequest[] = [];
  if (options.requirement) {
    if (options.places.length) throw new UsageError('--require and --target: choose places by name or by requirement, not both');
    const requirement = options.requirement;
    const suites = options.suites.length ? options.suites : SUITE_NAMES;
    for (const suite of suites) {
      const request: JobRequest = { suite, ...(requirement.kind ? { kind: requirement.kind } : {}), ...(requirement.soc ? { soc: requirement.soc } : {}), instruments: requirement.instruments, options: jobOptions, maxAttempts: options.maxAttempts };
      if ((await matchingPlaces(pool, request)).length === 0) {
        if (options.suites.length) throw new UsageError(`--require ${describeRequirement(requirement)}: no place of the farm runs suite ${suite} (farm places lists them)`);
        continue;
      }
      jobs.push(request);
    }
    if (jobs.length === 0) throw new UsageError(`--require ${describeRequirement(requirement)}: no place of the farm matches (farm places lists them)`);
    return jobs;
  }
  const placeNames = places.map((place) => place.name);
  for (const name of options.places) {
    if (!placeNames.includes(name)) throw new UsageError(`--target: no place "${name}" in the farm (places: ${placeNames.join(', ') || 'none; start farm agent on the hosts'})`);
  }
  const chosen = options.places.length ? places.filter((place) => options.places.includes(place.name)) : places;
  for (const place of chosen) {
    const suites = options.suites.length ? place.suites.filter((suite) => options.suites.includes(suite)) : place.suites;
    const dropped = options.suites.filter((suite) => !place.suites.includes(suite));
    if (dropped.length) notes.push(`place ${place.name} (${place.kind}) does not run ${dropped.join(', ')}`);
    const blocked = suites.filter((suite) => place.blocked_suites.includes(suite));
    if (blocked.length) notes.push(`place ${place.name}: ${blocked.join(', ')} quarantined (bad capability ${place.bad_capabilities.join(', ')}): queued, runs once a health check passes`);
    if (place.health === 'Bad' || place.health === 'Maintenance') notes.push(`place ${place.name} is ${place.health}: its jobs wait for it to return to service`);
    for (const suite of suites) jobs.push({ suite, place: place.name, instruments: [], options: jobOptions, maxAttempts: options.maxAttempts });
  }
  if (jobs.length === 0) throw new UsageError(`nothing to run: no selected place runs the selected suites${notes.length ? ` (${notes.join('; ')})` : ''}`);
  return jobs;
}

const isFinal = (job: JobWithReports) => FINAL_JOB_STATES.includes(job.state);
const label = (job: JobWithReports) =>
  `${job.want_place ?? `any[${[job.want_kind && `kind=${job.want_kind}`, job.want_soc && `soc=${job.want_soc}`, ...job.want_instruments.map((name) => `instrument=${name}`)].filter(Boolean).join(',')}]`} ${job.suite}`;

export async function runOnFarm(options: FarmRunOptions): Promise<number> {
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const dbOutageLimitMs = options.dbOutageLimitMs ?? DB_OUTAGE_LIMIT_MS;
  const pool = openPool(options.url, { applicationName: `farm run ${hostname()}`, max: 3 });
  let listener: Client | undefined;
  let signalled: NodeJS.Signals | undefined;
  let wake: () => void = () => undefined;
  let leaveNow = false;
  let stopListening: () => void = () => undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      leaveNow = true;
      process.stderr.write(`farm: second ${signal}: leaving now; the run's lease expires within ${options.ttlMs / 1000} s and its jobs are stopped then\n`);
    } else {
      signalled = signal;
      process.stderr.write(`farm: ${signal}: cancelling the run (queued jobs cancelled, running jobs stopped by their agents; again to leave at once)\n`);
    }
    wake();
  };
  try {
    await requireCurrentSchema(pool, options.url);
    const notes: string[] = [];
    const requests = await planJobs(pool, options, notes);
    for (const note of notes) say(`farm: note: ${note}`);
    const { runId, jobIds } = await createRun(pool, `${hostname()} pid ${process.pid}`, options.ttlMs, options.priority, requests);
    stopListening = onStopSignals(onSignal);
    say(`farm: run #${runId} on ${redactUrl(options.url)}: ${jobIds.length} job(s) queued, priority ${options.priority}`);

    const connectListener = async () => {
      if (listener) return;
      const client = await openClient(options.url, `farm run ${hostname()} (listen)`);
      client.on('notification', () => wake());
      const lost = () => {
        if (listener === client) listener = undefined;
      };
      client.on('error', lost);
      client.on('end', lost);
      await client.query(`LISTEN ${JOBS_CHANNEL}; LISTEN ${LOG_CHANNEL}`);
      listener = client;
    };

    const seen = new Map<number, string>();
    let logId = 0;
    let nextBeat = 0;
    let cancelSent = false;
    let cancelDeadline = Infinity;
    let dbDownSince: number | undefined;
    let gaveUp = false;
    let jobs: JobWithReports[] = [];
    const started = Date.now();
    for (;;) {
      try {
        if (signalled && !cancelSent) {
          await endRun(pool, runId, 'cancelled');
          cancelSent = true;
          cancelDeadline = Date.now() + options.ttlMs;
        }
        if (Date.now() >= nextBeat) {
          const state = await runHeartbeat(pool, runId);
          if (state === 'abandoned') say(`farm: run #${runId} was abandoned by the farm (this client missed its heartbeats for ${options.ttlMs / 1000} s)`);
          await sweep(pool);
          nextBeat = Date.now() + options.ttlMs / 3;
        }
        if (Date.now() - started >= options.queueTimeoutMs) await failUnrunnable(pool, runId, options.queueTimeoutMs);
        await connectListener().catch(() => undefined);
        for (const line of await runLogSince(pool, runId, logId)) {
          logId = line.id;
          say(`  [#${line.job_id}] ${line.text}`);
        }
        jobs = await jobsOfRun(pool, runId);
        if (dbDownSince !== undefined) {
          say(`farm: database reachable again after ${Math.round((Date.now() - dbDownSince) / 1000)} s`);
          dbDownSince = undefined;
        }
      } catch (error) {
        if (dbDownSince === undefined) {
          dbDownSince = Date.now();
          say(`farm: farm database unreachable (${error instanceof Error ? error.message : String(error)}); waiting for it up to ${Math.round(dbOutageLimitMs / 1000)} s (jobs go on on their agents)`);
        } else if (Date.now() - dbDownSince > dbOutageLimitMs) {
          gaveUp = true;
          say(`farm: farm database unreachable for ${Math.round((Date.now() - dbDownSince) / 1000)} s: giving up on run #${runId} (its jobs are abandoned once its lease of ${options.ttlMs / 1000} s runs out); the report shows the jobs as last seen`);
          break;
        }
      }
      for (const job of jobs) {
        const state = `${job.state}/${job.attempts}`;
        if (seen.get(job.id) === state) continue;
        seen.set(job.id, state);
        const done = jobs.filter(isFinal).length;
        const where = job.place ? ` on ${job.place} (agent ${job.agent})` : '';
        const retried = job.history.length > 0 && (job.state === 'queued' || job.state === 'running') ? ` again (${job.history.at(-1) ?? ''})` : '';
        const detail = retried ? retried : isFinal(job) ? `${job.summary ? `: ${job.summary}` : ''}${job.error && job.state !== 'passed' ? ` -- ${job.error}` : ''}` : '';
        say(`farm: [${done}/${jobs.length}] job #${job.id} ${label(job)}: ${job.state}${job.state === 'running' ? where : ''}${detail}`);
      }
      if (jobs.length && jobs.every(isFinal)) break;
      if (leaveNow || Date.now() > cancelDeadline) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (jobs.length && jobs.every(isFinal)) await endRun(pool, runId, 'finished').catch(() => undefined);
    const withReports = gaveUp ? lastSeen(jobs, jobIds, requests, runId) : await jobsOfRun(pool, runId, true).catch(() => jobs);
    const failedOrUnfinished = writeFarmReports(options.outDir, runId, withReports, Date.now() - started, say);
    if (signalled) return exitCodeForSignal(signalled);
    return failedOrUnfinished || gaveUp ? 1 : 0;
  } finally {
    stopListening();
    await listener?.end().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}

/**
 * The jobs of a run the client gave up on, as last seen: those it never saw (the database went
 * before the first look) stand as queued, and none has a final word, so the report errs.
 */
function lastSeen(jobs: readonly JobWithReports[], jobIds: readonly number[], requests: readonly JobRequest[], runId: number): JobWithReports[] {
  const unknown = 'farm database unreachable: the job\'s end is unknown to this client';
  return jobIds.map((id, index) => {
    const seen = jobs.find((job) => job.id === id);
    if (seen) return isFinal(seen) ? seen : { ...seen, error: unknown };
    const request = requests[index] as JobRequest;
    return {
      id, run_id: runId, priority: 0, suite: request.suite, want_place: request.place ?? null, want_kind: request.kind ?? null, want_soc: request.soc ?? null,
      want_instruments: [...(request.instruments ?? [])], options: request.options, state: 'queued', attempts: 0, max_attempts: request.maxAttempts,
      place: null, agent: null, lease_expires_at: null, cancel_requested: false, queued_at: new Date(), started_at: null, finished_at: null,
      exit_code: null, summary: null, error: unknown, history: [], junit: null, metrics: null, html: null,
    };
  });
}

const xmlEscape = (text: string) => text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/** Writes junit.xml, metrics.json, html/index.html and jobs/; prints the table. Returns whether anything did not pass. */
export function writeFarmReports(outDir: string, runId: number, jobs: readonly JobWithReports[], durationMs: number, say: (line: string) => void): boolean {
  const paths = reportPaths(outDir);
  mkdirSync(outDir, { recursive: true });
  for (const stale of [paths.junit, paths.metrics]) rmSync(stale, { force: true });
  rmSync(join(outDir, 'jobs'), { recursive: true, force: true });
  const suitesXml: string[] = [];
  const totals = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  const rows: SummaryRow[] = [];
  const merged: Record<string, unknown[]> = {};
  const links: string[] = [];
  for (const job of jobs) {
    const jobDir = join(outDir, 'jobs', `${job.id}-${job.place ?? job.want_place ?? 'unassigned'}-${job.suite}`);
    mkdirSync(jobDir, { recursive: true });
    const row: SummaryRow = { target: job.place ?? job.want_place ?? '(none)', suite: job.suite, passed: 0, failed: 0, error: 0, skipped: 0, flaky: 0, regressed: 0, durationMs: 0 };
    let parsed = false;
    if (job.junit) {
      writeFileSync(join(jobDir, 'junit.xml'), job.junit);
      try {
        const file = readJunit(job.junit);
        for (const suite of file.suites) {
          for (const entry of suite.cases) {
            if (entry.failure) row.failed++;
            else if (entry.error) row.error++;
            else if (entry.skipped) row.skipped++;
            else row.passed++;
            row.durationMs += Math.round(Number(entry.attributes.time ?? 0) * 1000);
          }
        }
        const body = /<testsuites[^>]*>([\s\S]*)<\/testsuites>/.exec(job.junit)?.[1];
        if (body !== undefined) {
          suitesXml.push(body.trim());
          parsed = true;
        }
      } catch {
        parsed = false;
      }
    }
    // A job whose report is not the final word (it ended without one, or did not pass in a way
    // its report shows) gets a test case of its own saying so: the file never looks green.
    const needsOwnCase = !parsed || (job.state !== 'passed' && job.state !== 'failed');
    if (needsOwnCase) {
      row.error++;
      const message = `${job.state}: ${job.error ?? 'the job did not end'}`;
      suitesXml.push(`<testsuite name="${xmlEscape(row.target)}" tests="1" failures="0" errors="1" skipped="0" time="0">
  <properties><property name="farm.job" value="${job.id}"/><property name="farm.state" value="${xmlEscape(job.state)}"/></properties>
  <testcase classname="${xmlEscape(`${row.target}.${job.suite}`)}" name="farm job #${job.id} (${xmlEscape(job.suite)})" time="0">
    <error type="${job.state === 'cancelled' ? 'interrupted' : 'infrastructure'}" message="${xmlEscape(message)}"/>
    <system-out>${xmlEscape(job.history.join('\n'))}</system-out>
  </testcase>
</testsuite>`);
    }
    totals.tests += row.passed + row.failed + row.error + row.skipped;
    totals.failures += row.failed;
    totals.errors += row.error;
    totals.skipped += row.skipped;
    rows.push(row);
    if (job.metrics && typeof job.metrics === 'object') {
      writeFileSync(join(jobDir, 'metrics.json'), `${JSON.stringify(job.metrics, null, 2)}\n`);
      for (const [key, value] of Object.entries(job.metrics as Record<string, unknown>)) {
        if (Array.isArray(value)) (merged[key] ??= []).push(...value);
      }
    }
    if (job.html) {
      mkdirSync(join(jobDir, 'html'), { recursive: true });
      writeFileSync(join(jobDir, 'html', 'index.html'), job.html);
      links.push(`<li><a href="${xmlEscape(relative(paths.html, join(jobDir, 'html', 'index.html')))}">job #${job.id}: ${xmlEscape(row.target)} ${xmlEscape(job.suite)}</a>: ${xmlEscape(job.state)}</li>`);
    } else {
      links.push(`<li>job #${job.id}: ${xmlEscape(row.target)} ${xmlEscape(job.suite)}: ${xmlEscape(job.state)}${job.error ? ` (${xmlEscape(job.error)})` : ''}</li>`);
    }
  }
  writeFileSync(
    paths.junit,
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="farm run #${runId}" tests="${totals.tests}" failures="${totals.failures}" errors="${totals.errors}" skipped="${totals.skipped}" time="${(durationMs / 1000).toFixed(3)}">\n${suitesXml.join('\n')}\n</testsuites>\n`,
  );
  const allPassed = jobs.every((job) => job.state === 'passed');
  const interrupted = jobs.some((job) => job.state === 'cancelled' || !FINAL_JOB_STATES.includes(job.state));
  writeFileSync(
    paths.metrics,
    `${JSON.stringify({
      status: allPassed ? 'passed' : interrupted ? 'interrupted' : 'failed',
      run: { farmRun: runId, durationMs },
      ...merged,
      jobs: jobs.map((job) => ({ id: job.id, place: job.place, suite: job.suite, state: job.state, attempts: job.attempts, summary: job.summary, error: job.error, history: job.history })),
    }, null, 2)}\n`,
  );
  mkdirSync(paths.html, { recursive: true });
  writeFileSync(join(paths.html, 'index.html'), `<!doctype html>\n<meta charset="utf-8">\n<title>farm run #${runId}</title>\n<h1>farm run #${runId}</h1>\n<ul>\n${links.join('\n')}\n</ul>\n`);
  say('');
  say(formatTable(rows));
  say('');
  say(`JUnit    ${relative(process.cwd(), paths.junit) || paths.junit}`);
  say(`HTML     ${relative(process.cwd(), join(paths.html, 'index.html'))}`);
  say(`metrics  ${relative(process.cwd(), paths.metrics)}`);
  return !allPassed;
}
