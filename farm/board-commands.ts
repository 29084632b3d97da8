/**
 * The board's own commands of the run's targets (farm.yaml `params.commands[].name` of kinds
 * that run them, e.g. qemu-linux), known when a spec file loads, before any target is up:
 * suites/board-commands.spec.ts declares one test per name. The kind validated the list when the
 * farm file was loaded; here only the names are read, in farm.yaml's order, each once.
 */
import type { RunPlan } from './run-plan.js';

export function plannedBoardCommandNames(plan: Pick<RunPlan, 'targets'>): string[] {
  const names: string[] = [];
  for (const target of plan.targets) {
    const params = target.params as { commands?: unknown } | null | undefined;
    if (!params || typeof params !== 'object' || !Array.isArray(params.commands)) continue;
    for (const command of params.commands as unknown[]) {
      const name = (command as { name?: unknown } | null)?.name;
      if (typeof name === 'string' && !names.includes(name)) names.push(name);
    }
  }
  return names;
}
