import * as os from 'node:os';

/**
 * Labels on every container the farm starts: which run and target it belongs to, and which
 * process owns it, so that a later run can remove containers whose owner is gone (the farm was
 * SIGKILLed) as it removes their files (base/process/run-files.ts).
 */
export const CONTAINER_LABELS = {
  /** The farm run (FARM_RUN_ID, set by `farm run` for its workers; else this process). */
  run: 'org.openamp-farm.run',
  target: 'org.openamp-farm.target',
  /** The process that started the container and removes it (a Playwright worker, `farm up`, a test). */
  pid: 'org.openamp-farm.pid',
  /** The `farm` CLI process of the run (FARM_PID), when there is one. */
  farmPid: 'org.openamp-farm.farm-pid',
  /** The machine of that pid: a pid means nothing on another host sharing the engine. */
  host: 'org.openamp-farm.host',
} as const;

export const RUN_ID_ENV = 'FARM_RUN_ID';
export const FARM_PID_ENV = 'FARM_PID';

export function containerLabels(target: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return {
    [CONTAINER_LABELS.run]: env[RUN_ID_ENV] ?? `pid-${process.pid}`,
    [CONTAINER_LABELS.target]: target,
    [CONTAINER_LABELS.pid]: String(process.pid),
    [CONTAINER_LABELS.farmPid]: env[FARM_PID_ENV] ?? String(process.pid),
    [CONTAINER_LABELS.host]: os.hostname(),
  };
}
