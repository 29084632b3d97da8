/**
 * The board's own commands of the run's targets (farm.yaml `params.commands[].name` of kinds
 * that run them, e.g. qemu-linux), known when a spec file loads, before any target is up:
 * suites/board-commands.spec.ts declares one test per name. The kind validated the list when the
 * farm file was loaded; here only the names are read, in farm.yaml's order, each once.
 */
import type { RunPlan } from './run-plan.js';

function plannedCommands(plan: Pick<RunPlan, 'targets'>): { name: string; timeoutMs: number | undefined }[] {
  const commands: { name: string; timeoutMs: number | undefined }[] = [];
  for (const target of plan.targets) {
    const params = target.params as { commands?: unknown } | null | undefined;
    if (!params || typeof params !== 'object' || !Array.isArray(params.commands)) continue;
    for (const command of params.commands as unknown[]) {
      const { name, timeoutMs } = (command ?? {}) as { name?: unknown; timeoutMs?: unknown };
      if (typeof name === 'string') commands.push({ name, timeoutMs: typeof timeoutMs === 'number' ? timeoutMs : undefined });
    }
  }
  return commands;
}

export function plannedBoardCommandNames(plan: Pick<RunPlan, 'targets'>): string[] {
  return [...new Set(plannedCommands(plan).map((command) => command.name))];
}

/** The longest timeout farm.yaml gives command `name` on any target (ms), if any: the test's own timeout must outlast it. */
export function plannedBoardCommandTimeout(plan: Pick<RunPlan, 'targets'>, name: string): number | undefined {
  const timeouts = plannedCommands(plan).filter((command) => command.name === name && command.timeoutMs !== undefined).map((command) => command.timeoutMs as number);
  return timeouts.length ? Math.max(...timeouts) : undefined;
}
