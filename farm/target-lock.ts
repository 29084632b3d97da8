/**
 * Local per-target locks for `farm run` without a farm database: one file per target under a
 * per-user runtime directory, created atomically (O_EXCL) and holding the holder's pid, the
 * kernel's start time of that pid, its host and command. A lock whose pid is gone, or whose pid
 * now belongs to another process (start time differs), is stale and is broken by the next run,
 * so a SIGKILLed run never leaves a target locked.
 *
 * A target is identified by its name within its farm file (the file's real path; the built-in
 * farm is one file of its own): two runs of the same farm.yaml contend, runs of unrelated farm
 * files that happen to reuse a name do not.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { InfrastructureError } from '../base/errors.js';

export const LOCK_DIR_ENV = 'FARM_LOCK_DIR';

/** A target held by another run, and we were told not to wait (or waited past the deadline). */
export class TargetBusyError extends InfrastructureError {}

export interface LockHolder {
  readonly pid: number;
  /** Kernel start time of `pid` (clock ticks since boot, /proc/PID/stat field 22). */
  readonly startTicks: string;
  readonly host: string;
  readonly command: string;
  /** ISO time the lock was taken. */
  readonly since: string;
  readonly target: string;
  readonly farmFile: string;
}

export function defaultLockDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env[LOCK_DIR_ENV]) return env[LOCK_DIR_ENV];
  const uid = process.getuid?.() ?? 0;
  const runtime = env.XDG_RUNTIME_DIR;
  return runtime ? join(runtime, 'openamp-farm', 'locks') : join('/tmp', `openamp-farm-${uid}`, 'locks');
}

/** Start time of a live process, or undefined when there is none with that pid. */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return undefined;
    return fields[19];
  } catch {
    return undefined;
  }
}

function lockFileName(target: string, farmFile: string): string {
  const scope = createHash('sha256').update(farmFile).digest('hex').slice(0, 12);
  const safe = target.replace(/[^A-Za-z0-9._-]/g, '_');
  return `${safe}.${scope}.lock`;
}

function readHolder(file: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockHolder>;
    if (typeof parsed.pid !== 'number' || typeof parsed.startTicks !== 'string') return undefined;
    return parsed as LockHolder;
  } catch {
    return undefined;
  }
}

function holderIsAlive(holder: LockHolder | undefined): boolean {
  if (!holder) return false;
  return processStartTicks(holder.pid) === holder.startTicks;
}

export function describeHolder(holder: LockHolder): string {
  const where = holder.host === hostname() ? '' : ` on ${holder.host}`;
  return `pid ${holder.pid}${where} (${holder.command}), since ${holder.since}`;
}

export interface HeldLock {
  readonly target: string;
  release(): void;
}

export interface LockRequest {
  readonly target: string;
  /** The farm file's path, or null for the built-in farm. */
  readonly farmFile: string | null;
}

function scopeOf(farmFile: string | null): string {
  if (farmFile === null) return '<built-in farm>';
  try {
    return realpathSync(farmFile);
  } catch {
    return farmFile;
  }
}

/**
 * One attempt: takes the lock, or returns its live holder. A stale lock (unreadable, pid gone
 * or reused) is moved aside under a unique name and removed; if what was moved aside turns out
 * to be a fresh lock another process took in between, it is put back (link fails when yet
 * another one exists, which then holds it).
 */
export function tryLock(request: LockRequest, dir = defaultLockDir()): HeldLock | LockHolder {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const farmFile = scopeOf(request.farmFile);
  const file = join(dir, lockFileName(request.target, farmFile));
  const startTicks = processStartTicks(process.pid);
  if (startTicks === undefined) throw new InfrastructureError('cannot read this process\'s start time from /proc');
  const mine: LockHolder = {
    pid: process.pid,
    startTicks,
    host: hostname(),
    command: process.argv.slice(1).map((arg) => arg.replace(/^.*\/dist\/farm\/cli\.js$/, 'farm')).join(' ').slice(0, 200),
    since: new Date().toISOString(),
    target: request.target,
    farmFile,
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      try {
        writeSync(fd, JSON.stringify(mine));
      } finally {
        closeSync(fd);
      }
      let released = false;
      return {
        target: request.target,
        release: () => {
          if (released) return;
          released = true;
          // Only our own lock: a lock broken as stale and retaken by someone else stays theirs.
          const holder = readHolder(file);
          if (holder?.pid === mine.pid && holder.startTicks === mine.startTicks) rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readHolder(file);
    // A lock being written right now reads as empty: give its writer a moment.
    if (holder === undefined && attempt < 2) continue;
    if (holder && holderIsAlive(holder)) return holder;
    const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      renameSync(file, aside);
    } catch {
      continue; // someone else broke it first
    }
    const moved = readHolder(aside);
    if (moved && holderIsAlive(moved)) {
      try {
        linkSync(aside, file);
      } catch {
        // a third process took the lock meanwhile; the one we moved holds nothing now
      }
    }
    rmSync(aside, { force: true });
  }
  const holder = readHolder(file);
  if (holder) return holder;
  throw new InfrastructureError(`cannot take the lock of target ${request.target} in ${dir}`);
}

function isHeld(result: HeldLock | LockHolder): result is HeldLock {
  return typeof (result as HeldLock).release === 'function';
}

export interface AcquireOptions {
  /** Refuse a busy target at once instead of waiting. */
  readonly noWait: boolean;
  /** How long to wait for busy targets in all. */
  readonly waitMs: number;
  /** How often to say we are still waiting. */
  readonly progressEveryMs?: number;
  readonly dir?: string;
  readonly say: (line: string) => void;
  /** Checked while waiting; true stops the wait (a signal). */
  readonly cancelled?: () => boolean;
}

/**
 * Takes the locks of all `requests` (in name order, so two runs over overlapping targets never
 * hold one each and wait for each other's), waiting for busy ones up to `waitMs`. On refusal or
 * timeout, releases what it took and throws TargetBusyError naming the target and its holder.
 */
export async function acquireTargetLocks(requests: readonly LockRequest[], options: AcquireOptions): Promise<HeldLock[]> {
  const held: HeldLock[] = [];
  const sorted = [...requests].sort((a, b) => a.target.localeCompare(b.target));
  const deadline = Date.now() + options.waitMs;
  const progressEvery = options.progressEveryMs ?? 10_000;
  try {
    for (const request of sorted) {
      let lastSaid = 0;
      const waitStart = Date.now();
      for (;;) {
        const result = tryLock(request, options.dir);
        if (isHeld(result)) {
          held.push(result);
          if (lastSaid) options.say(`target ${request.target} is free now (waited ${Math.round((Date.now() - waitStart) / 1000)} s)`);
          break;
        }
        const busy = `target ${request.target} is busy: held by ${describeHolder(result)}`;
        if (options.noWait) throw new TargetBusyError(`${busy}; not waiting (--no-wait)`);
        if (Date.now() >= deadline) throw new TargetBusyError(`${busy}; gave up after waiting ${Math.round(options.waitMs / 1000)} s (--lock-wait)`);
        if (options.cancelled?.()) throw new TargetBusyError(`${busy}; stopped waiting (signal)`);
        if (lastSaid === 0 || Date.now() - lastSaid >= progressEvery) {
          options.say(`${busy}; waiting (${Math.round((Date.now() - waitStart) / 1000)} s so far, up to ${Math.round((deadline - Date.now()) / 1000)} s more; --no-wait to refuse)`);
          lastSaid = Date.now();
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    return held;
  } catch (error) {
    for (const lock of held) lock.release();
    throw error;
  }
}
