/**
 * The farm's layering, checked by `npm run lint:deps` (the first step of `npm test`, so CI
 * fails on a violation). README.md, "Architecture", says the same in words; change both together.
 *
 * Layers, bottom to top (a layer imports only itself and layers below it):
 *
 *   base/        failure classes (base/errors.ts), child processes, run files, serial lines
 *   openamp/     the TypeScript OpenAMP stack (elf, rsc, virtio, rpmsg, remoteproc, doorbells, memory)
 *   firmware/    the reference firmware's build tool and constants         (base)
 *   qemu/        QMP client, machine profiles, one QEMU process           (base, openamp)
 *   containers/  image recipes, dockerode code                            (base)
 *   targets/     resources, drivers, strategies, target kinds, registry    (all of the above)
 *   reports/     JUnit, summaries, metrics                                 (base, targets/target.ts)
 *   farm/        CLI, config, fixtures, Playwright glue                    (all but suites/)
 *   suites/      Playwright specs                                          (farm/, reports/, base/, openamp/, targets/target.ts + protocols.ts)
 *   examples/    users' suites, standing for a lab's own repository        (nothing of ours: the package name 'openamp-farm' only)
 *
 * Inside targets/: shared parts (the files directly in targets/, and the folders named in
 * TARGET_PARTS) import no kind; a kind (any other folder, e.g. targets/qemu/) imports no other
 * kind; only targets/registry.ts (and the benchmarks) import kinds.
 *
 * Tests (*.test.ts, *.test-helper.ts, testing/ folders) sit outside the layers: nothing ships
 * with them and nothing but tests imports them, so they may import any layer. Cycles are
 * forbidden everywhere, tests included, and type-only imports count (they are edges of the
 * design even when the compiler erases them).
 */
const LAYERS = 'base|openamp|firmware|qemu|containers|targets|reports|farm|suites|examples';
/** Folders of targets/ that hold parts shared by kinds (not kinds themselves). */
const TARGET_PARTS = 'resources|drivers|strategies|openamp-host|ssh|power|flasher|bench';
const TEST_CODE = '(\\.test\\.ts|\\.test-helper\\.ts)$|(^|/)testing/';

/** `from` may import only the folders in `to` (besides npm packages and node: modules). */
const layer = (from, to, comment) => ({
  comment,
  from: { path: `^${from}/`, pathNot: TEST_CODE },
  to: { path: `^(${to})/` },
});

module.exports = {
  allowed: [
    { comment: 'npm packages and Node built-ins', from: {}, to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'core'] } },
    { comment: 'tests may import any layer', from: { path: TEST_CODE }, to: {} },
    layer('base', 'base', 'base/ is the bottom: it imports nothing of ours'),
    layer('openamp', 'base|openamp', 'the OpenAMP stack knows nothing of targets, QEMU or the farm'),
    layer('firmware', 'base|firmware', 'the firmware build tool'),
    layer('qemu', 'base|openamp|qemu', 'QEMU processes reach guest RAM through openamp/memory'),
    layer('containers', 'base|containers', 'container images and dockerode'),
    layer('targets', 'base|openamp|firmware|qemu|containers|targets', 'targets build on everything below them'),
    { comment: 'reports read the suite and target vocabulary of targets/target.ts', from: { path: '^reports/', pathNot: TEST_CODE }, to: { path: '^(base/|reports/|targets/target\\.ts$)' } },
    layer('farm', 'base|openamp|firmware|qemu|containers|targets|reports|farm', 'the CLI and fixtures glue everything together (but never import a suite)'),
    layer('examples', 'examples', "an example user suite reaches the farm only as a user's would: by the package name (its public API)"),
    { comment: 'suites see the fixtures, the Host protocol and the failure classes', from: { path: '^suites/', pathNot: TEST_CODE }, to: { path: '^(base/|openamp/|reports/|farm/|suites/|targets/(target|protocols)\\.ts$)' } },
  ],
  allowedSeverity: 'error',
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle: split the module both sides need, or invert one edge.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'kind-imports-other-kind',
      comment: 'A target kind imports only shared parts of targets/, never another kind: move what both need into a shared part.',
      severity: 'error',
      from: { path: `^targets/([^/]+)/`, pathNot: [`^targets/(${TARGET_PARTS})/`, TEST_CODE] },
      to: { path: '^targets/[^/]+/', pathNot: `^targets/($1|${TARGET_PARTS})/` },
    },
    {
      name: 'part-imports-kind',
      comment: 'Shared parts of targets/ (resources, drivers, strategies, the OpenAMP host...) must not depend on a kind.',
      severity: 'error',
      from: { path: `^targets/([^/]+\\.ts$|(${TARGET_PARTS.replace('|bench', '')})/)`, pathNot: ['^targets/registry\\.ts$', TEST_CODE] },
      to: { path: '^targets/[^/]+/', pathNot: `^targets/(${TARGET_PARTS.replace('|bench', '')})/` },
    },
    {
      name: 'only-farm-imports-registry',
      comment: 'The registry imports every kind: a kind or part importing it closes a cycle. Kinds import targets/kind.ts for the definition types.',
      severity: 'error',
      from: { path: '^targets/', pathNot: ['^targets/bench/', TEST_CODE] },
      to: { path: '^targets/registry\\.ts$' },
    },
    {
      name: 'no-test-code-in-production',
      comment: 'Shipped code must not import tests or test helpers.',
      severity: 'error',
      from: { path: `^(${LAYERS})/`, pathNot: TEST_CODE },
      to: { path: TEST_CODE },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing (the package importing itself by name resolves into dist/, which lint:deps runs before).',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '^openamp-farm(/|$)' },
    },
  ],
  options: {
    // A top-level folder outside LAYERS is not checked: farm/layering.test.ts fails on one
    // that holds TypeScript, so it gets a place here (or a reason to stay out).
    includeOnly: `^(${LAYERS})/`,
    exclude: { path: '(^|/)(node_modules|dist|build)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
  },
};
