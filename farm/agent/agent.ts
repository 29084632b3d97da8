/**
 * `farm agent`: offers this host's targets (places) to the farm database and runs the jobs they
 * can run. One loop: heartbeat (renews the agent and the leases of its running jobs) and sweep
 * every third of the TTL; health checks of places that need one (Unknown, after a failure, after
 * maintenance, on schedule); then claims jobs for free Good places. LISTEN/NOTIFY wakes it at
 * once for new jobs and cancellations; a timer covers a lost notification connection.
 *
 * Faults: when the database is unreachable, running jobs go on and their results are kept and
 * retried until their lease would have expired (after which the coordinator has requeued the job
 * and the result is dropped); a job whose lease the heartbeat finds gone is stopped at once.
 * SIGINT / SIGTERM: running jobs are stopped and given back to the queue, the agent marked
 * stopped, and the process exits.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { KindRegistry } from '../../targets/registry.js';
import type { FarmConfig, TargetConfig } from '../config.js';
import { openClient, openPool, redactUrl, type Client, type Pool } from '../db/connection.js';
import { CAPABILITIES } from '../coordinator/capabilities.js';
import {
  appendJobLog, claimJob, finishJob, heartbeat, placesDueForCheck, recordHealthCheck, registerAgent, releaseJob, stopAgent, sweep,
  type Job, type JobReport,
} from '../coordinator/coordinator.js';
import { JOBS_CHANNEL } from '../coordinator/schema.js';
import { executeJob } from './job-execution.js';
import { healthCheck } from './health-check.js';

export interface AgentOptions {
  readonly url: string;
  readonly name: string;
  readonly config: FarmConfig;
  readonly registry: KindRegistry;
  readonly places: readonly TargetConfig[];
  readonly ttlMs: number;
  readonly healthIntervalMs: number;
  readonly maxInfraFailures: number;
  readonly workDir: string;
  readonly say: (line: string) => void;
  /** Bound of each health-check step. */
  readonly healthTimeoutMs?: number;
}

interface RunningJob {
  readonly job: Job;
  readonly abort: AbortController;
  /** When the lease runs out unless renewed (our clock). */
  leaseUntil: number;
  lost: boolean;
  log: string[];
  partialLine: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class FarmAgent {
  private readonly pool: Pool;
  private listener: Client | undefined;
  private readonly running = new Map<number, RunningJob>();
  /** Places running a job or a health check. */
  private readonly busy = new Set<string>();
  private readonly tasks = new Set<Promise<void>>();
  private stopping = false;
  private wakeUp: () => void = () => undefined;
  private dbDownSince: number | undefined;
  private nextHeartbeat = 0;
  private lastLogFlush = 0;

  constructor(private readonly options: AgentOptions) {
    this.pool = openPool(options.url, { applicationName: `farm agent ${options.name}`, max: 4 });
  }

  private say(line: string): void {
    this.options.say(line);
  }

  async register(): Promise<void> {
    await registerAgent(
      this.pool,
      { name: this.options.name, host: hostname(), pid: process.pid, ttlMs: this.options.ttlMs },
      this.options.places.map((place) => ({
        name: place.name,
        kind: place.kind,
        suites: place.suites,
        soc: place.place?.soc ?? null,
        instruments: place.place?.instruments ?? [],
        capabilities: CAPABILITIES,
        // Not the params: they may name credentials (kept on the agent's host only).
        config: { kind: place.kind, suites: place.suites, place: place.place ?? null },
      })),
    );
    this.say(`registered with ${redactUrl(this.options.url)}: places ${this.options.places.map((place) => place.name).join(', ')} (lease ${this.options.ttlMs / 1000} s)`);
  }

  private async listen(): Promise<void> {
    if (this.listener) return;
    const client = await openClient(this.options.url, `farm agent ${this.options.name} (listen)`);
    client.on('notification', (message) => {
      if (message.channel !== JOBS_CHANNEL || !message.payload) return;
      try {
        const event = JSON.parse(message.payload) as { id: number; state: string; cancel: boolean };
        const running = this.running.get(event.id);
        if (running && event.cancel) this.cancel(running, 'its run was cancelled');
        if (event.state === 'queued') this.wakeUp();
      } catch {
        // not ours
      }
    });
    const lost = () => {
      if (this.listener === client) this.listener = undefined;
    };
    client.on('error', lost);
    client.on('end', lost);
    await client.query(`LISTEN ${JOBS_CHANNEL}`);
    if (this.stopping) {
      // stop() came while we connected: it closes only the listener it saw.
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
  }

  private cancel(running: RunningJob, why: string): void {
    if (running.abort.signal.aborted) return;
    this.say(`job #${running.job.id} (${running.job.suite} on ${running.job.place}): stopping: ${why}`);
    running.abort.abort();
  }

  /** Runs until stop(). */
  run(): Promise<void> {
    this.loop ??= this.loopUntilStopped();
    return this.loop;
  }

  /** The run loop, once started: stop() waits for its last tick before it closes the connections. */
  private loop: Promise<void> | undefined;

  private async loopUntilStopped(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.tick();
        if (this.dbDownSince !== undefined) {
          this.say(`farm database reachable again after ${Math.round((Date.now() - this.dbDownSince) / 1000)} s`);
          this.dbDownSince = undefined;
        }
      } catch (error) {
        if (this.dbDownSince === undefined) {
          this.dbDownSince = Date.now();
          this.say(`farm database unreachable (${error instanceof Error ? error.message : String(error)}); running jobs go on, retrying`);
        }
      }
      if (this.stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(1000, Math.max(50, this.nextHeartbeat - Date.now())));
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private async tick(): Promise<void> {
    const { ttlMs } = this.options;
    if (Date.now() >= this.nextHeartbeat) {
      const ids = [...this.running.keys()];
      const sentAt = Date.now();
      const beat = await heartbeat(this.pool, this.options.name, ids, ttlMs);
      for (const id of ids) {
        const running = this.running.get(id);
        if (!running) continue;
        if (beat.lost.includes(id)) {
          running.lost = true;
          this.cancel(running, 'its lease was lost (expired while this agent could not renew it)');
        } else {
          running.leaseUntil = sentAt + ttlMs;
        }
        if (beat.cancel.includes(id)) this.cancel(running, 'its run was cancelled');
      }
      const swept = await sweep(this.pool, this.options.maxInfraFailures);
      for (const entry of swept.expired) this.say(`lease of job #${entry.id} on ${entry.place} (agent ${entry.agent}) expired: job ${entry.state === 'queued' ? 'requeued' : entry.state}`);
      this.nextHeartbeat = sentAt + ttlMs / 3;
    }
    await this.listen().catch(() => undefined);
    if (Date.now() - this.lastLogFlush >= 500) await this.flushLogs();
    if (this.stopping) return;
    const due = await placesDueForCheck(this.pool, this.options.name, this.options.healthIntervalMs);
    for (const name of due) {
      if (this.busy.has(name)) continue;
      const place = this.options.places.find((candidate) => candidate.name === name);
      if (place) this.track(this.checkHealth(place));
    }
    for (;;) {
      const free = this.options.places.map((place) => place.name).filter((name) => !this.busy.has(name) && !due.includes(name));
      if (free.length === 0 || this.stopping) break;
      const job = await claimJob(this.pool, this.options.name, free, ttlMs);
      if (!job) break;
      this.track(this.runJob(job));
    }
  }

  private track(task: Promise<void>): void {
    this.tasks.add(task);
    void task.finally(() => {
      this.tasks.delete(task);
      this.wakeUp();
    });
  }

  private async checkHealth(place: TargetConfig): Promise<void> {
    this.busy.add(place.name);
    try {
      this.say(`${place.name}: health check`);
      const results = await healthCheck(place, this.options.config, this.options.registry, this.options.workDir, this.options.healthTimeoutMs ?? 20_000);
      const health = await recordHealthCheck(this.pool, place.name, results);
      this.say(`${place.name}: ${health} (${results.map((result) => `${result.capability} ${result.ok ? 'ok' : `FAILED: ${result.detail}`}`).join('; ')})`);
    } catch (error) {
      this.say(`${place.name}: health check not recorded: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      this.busy.delete(place.name);
    }
  }

  private async flushLogs(): Promise<void> {
    this.lastLogFlush = Date.now();
    for (const running of this.running.values()) {
      if (running.log.length === 0) continue;
      const lines = running.log.splice(0, running.log.length);
      try {
        await appendJobLog(this.pool, running.job.id, lines);
      } catch (error) {
        // Kept for the next flush, bounded: a long outage drops the oldest lines.
        running.log.unshift(...lines.slice(-2000));
        throw error;
      }
    }
  }

  private async runJob(job: Job): Promise<void> {
    const placeName = job.place as string;
    const place = this.options.places.find((candidate) => candidate.name === placeName) as TargetConfig;
    this.busy.add(placeName);
    const running: RunningJob = { job, abort: new AbortController(), leaseUntil: Date.now() + this.options.ttlMs, lost: false, log: [], partialLine: '' };
    this.running.set(job.id, running);
    const outDir = join(this.options.workDir, `job-${job.id}-${job.attempts}`);
    mkdirSync(outDir, { recursive: true });
    this.say(`job #${job.id}: ${job.suite} on ${placeName} (run ${job.run_id}, attempt ${job.attempts}/${job.max_attempts})`);
    let report: JobReport;
    try {
      report = await executeJob(job, place, this.options.config, outDir, {
        signal: running.abort.signal,
        historyUrl: this.options.url,
        onOutput: (text) => {
          const lines = (running.partialLine + text).split('\n');
          running.partialLine = lines.pop() ?? '';
          running.log.push(...lines);
          if (running.log.length > 5000) running.log.splice(0, running.log.length - 5000);
        },
      });
    } catch (error) {
      report = { outcome: 'infra-error', exitCode: null, summary: 'agent error', error: `agent could not run the job: ${error instanceof Error ? error.message : String(error)}`, junit: null, metrics: null, html: null };
    }
    if (running.partialLine) running.log.push(running.partialLine);
    try {
      await this.report(running, report);
    } finally {
      this.running.delete(job.id);
      this.busy.delete(placeName);
      rmSync(outDir, { recursive: true, force: true });
    }
  }

  /** Records the job's end, retrying through a database outage while the lease can still hold. */
  private async report(running: RunningJob, report: JobReport): Promise<void> {
    const { job } = running;
    for (;;) {
      if (running.lost) {
        this.say(`job #${job.id}: result dropped (${report.outcome}): the lease was lost and the coordinator requeued or ended the job`);
        return;
      }
      try {
        await this.flushLogs().catch(() => undefined);
        const stoppingAgent = this.stopping && report.outcome === 'cancelled';
        if (stoppingAgent) {
          await releaseJob(this.pool, job.id, this.options.name, `agent ${this.options.name} stopped`);
          this.say(`job #${job.id}: given back to the queue (agent stopping)`);
          return;
        }
        const result = await finishJob(this.pool, job.id, this.options.name, report, this.options.maxInfraFailures);
        if (!result.recorded) {
          this.say(`job #${job.id}: result dropped (${report.outcome}): the lease had expired`);
        } else {
          this.say(`job #${job.id}: ${report.outcome} (${report.summary})${result.state === 'queued' ? ': requeued for another attempt' : ''}${result.quarantined ? `; place ${job.place} is now Bad (quarantined)` : ''}`);
        }
        return;
      } catch (error) {
        if (Date.now() > running.leaseUntil) {
          running.lost = true;
          continue;
        }
        await sleep(500);
      }
    }
  }

  /** Stops the jobs, gives them back, marks the agent stopped. */
  stop(): Promise<void> {
    this.stopped ??= this.stopNow();
    return this.stopped;
  }

  private stopped: Promise<void> | undefined;

  private async stopNow(): Promise<void> {
    this.stopping = true;
    this.wakeUp();
    for (const running of this.running.values()) this.cancel(running, 'the agent is stopping');
    await Promise.allSettled([...this.tasks]);
    // A tick still under way (claiming a job, connecting the listener) ends before the pool and
    // the listener close; a connection it opened after this point would keep the process alive.
    await this.loop?.catch(() => undefined);
    // A job it claimed in its last moments is stopped and given back too.
    for (const running of this.running.values()) this.cancel(running, 'the agent is stopping');
    await Promise.allSettled([...this.tasks]);
    await stopAgent(this.pool, this.options.name).catch(() => undefined);
    await this.listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
