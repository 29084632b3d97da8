/** `farm run --farm` (runOnFarm) against a real PostgreSQL: the CI side never waits forever. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPgCluster, type PgCluster } from './db/throwaway-cluster.js';
import { openPool } from './db/connection.js';
import { migrate } from './db/migrate.js';
import { FARM_MIGRATIONS } from './farm-migrations.js';
import { registerAgent } from './coordinator/coordinator.js';
import { runOnFarm } from './farm-run.js';

let cluster: PgCluster | undefined;
const outDir = mkdtempSync(join(tmpdir(), 'farm-run-test-'));
after(async () => {
  await cluster?.remove();
  rmSync(outDir, { recursive: true, force: true });
});

test('a farm database gone for good: the CI side gives up after its outage limit with a report, exit code 1', async () => {
  cluster = await createPgCluster();
  const pool = openPool(cluster.url, { applicationName: 'farm-run test', max: 2 });
  await migrate(pool, FARM_MIGRATIONS);
  // A place whose agent never claims anything: the job stays queued.
  await registerAgent(pool, { name: 'idle', host: 'h', pid: 1, ttlMs: 60_000 }, [
    { name: 'p-idle', kind: 'sim', suites: ['echo'], soc: null, instruments: [], capabilities: [], config: {} },
  ]);
  await pool.end();

  const lines: string[] = [];
  const database = cluster;
  let stopped: Promise<void> | undefined;
  const run = runOnFarm({
    url: cluster.url, places: ['p-idle'], suites: ['echo'], requirement: undefined, priority: 0, ttlMs: 60_000,
    queueTimeoutMs: 3_600_000, repeat: undefined, retries: undefined, maxAttempts: 2, outDir, dbOutageLimitMs: 3000,
    say: (line) => {
      lines.push(line);
      // Once the run is queued, the database goes away for good.
      if (/run #\d+ on /.test(line)) stopped ??= database.stop();
    },
  });
  const startedAt = Date.now();
  const code = await Promise.race([run, new Promise<string>((resolve) => setTimeout(() => resolve('still waiting after 60 s'), 60_000).unref())]);
  await stopped;
  assert.equal(code, 1, lines.join('\n'));
  assert.ok(Date.now() - startedAt < 30_000, `gave up after ${Date.now() - startedAt} ms`);
  const output = lines.join('\n');
  assert.match(output, /farm database unreachable \(.*\); waiting for it up to 3 s/);
  assert.match(output, /farm database unreachable for \d+ s: giving up on run #\d+/);
  // The report says the job did not end: a gate reading it fails.
  const junit = readFileSync(join(outDir, 'junit.xml'), 'utf8');
  assert.match(junit, /<error/);
  assert.match(junit, /p-idle/);
});
