/**
 * The board's own tools as tests: each command of a target's farm.yaml `commands:` (kinds that
 * run them: qemu-linux) is one test, run in farm.yaml's order, passing when the command's exit
 * status and every expected verdict line are right ("Test Results: Error count = 0"). The steps
 * build on each other (insmod, then load_fw-shared, then the demo), so the tests are serial: after
 * a failure the later ones are skipped, never run against a half-set-up board.
 *
 * Not a built-in suite: a farm file names it (`suites: [{ name: board-commands, path:
 * <farm>/dist/suites/board-commands.spec.js, firmware: echo }]`; farm.riscv-linux.yaml).
 */
import { expect, test } from '../farm/fixtures.js';
import { plannedBoardCommandNames, plannedBoardCommandTimeout } from '../farm/board-commands.js';
import { readRunPlan } from '../farm/run-plan.js';
import { ATTACHMENT } from '../reports/attachments.js';

test.describe.configure({ mode: 'serial' });

const plan = readRunPlan();

for (const name of plannedBoardCommandNames(plan)) {
  test(name, async ({ target }, testInfo) => {
    const own = plannedBoardCommandNames({ targets: plan.targets.filter((planned) => planned.name === target.name) });
    const run = target.boardCommand?.bind(target);
    test.skip(run === undefined || !own.includes(name), `target ${target.name} (${target.kind}) has no board command ${JSON.stringify(name)}`);
    if (!run) return;
    // The command's own deadline decides; the test's must not cut it short.
    const commandTimeout = plannedBoardCommandTimeout(plan, name);
    if (commandTimeout !== undefined && testInfo.timeout > 0) test.setTimeout(Math.max(testInfo.timeout, commandTimeout + 30_000));
    try {
      const report = await run(name);
      await testInfo.attach('board-command-output', { body: report.output, contentType: 'text/plain' });
      for (const verdict of report.verdicts) testInfo.annotations.push({ type: verdict.ok ? 'verdict' : 'verdict-failed', description: `/${verdict.pattern}/: ${verdict.detail}` });
      expect(report.failures, `${report.on === 'ssh' ? '$' : 'remote console:'} ${report.command ?? '(watching)'}\n${report.output.slice(-2000)}`).toEqual([]);
    } finally {
      await testInfo.attach(ATTACHMENT.console, { body: target.takeConsole(), contentType: 'text/plain' });
    }
  });
}
