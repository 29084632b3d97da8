import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureFirmwareBuilt, firmwareBuildDir, FirmwareBuildError, PREBUILT_ONLY_ENV } from './build.js';
import { ensureRpmsgHelper } from './tools.js';

/** Runs `body` with these environment variables, restoring them after. */
async function withEnv(env: Record<string, string>, body: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    await body();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

test(`${PREBUILT_ONLY_ENV}=1 (a read-only checkout in a container): what is built is used without make or a compiler; what is not is one error naming it and the build step`, { timeout: 300_000 }, async () => {
  // Built the ordinary way first.
  await ensureFirmwareBuilt('cortex-m4', { programs: ['echo'], bootStub: true });
  await ensureRpmsgHelper('host');
  // No PATH: had the prebuilt mode run make or looked for a compiler, this would fail.
  await withEnv({ [PREBUILT_ONLY_ENV]: '1', PATH: '/nonexistent' }, async () => {
    assert.equal(await ensureFirmwareBuilt('cortex-m4', { programs: ['echo'], bootStub: true }), firmwareBuildDir('cortex-m4'));
    assert.match(await ensureRpmsgHelper('host'), /firmware\/build\/tools\/host\/rpmsg-helper$/);
  });
  const emptyRepo = fs.mkdtempSync(path.join(os.tmpdir(), 'farm-prebuilt-test-'));
  try {
    fs.mkdirSync(path.join(emptyRepo, 'firmware'));
    fs.writeFileSync(path.join(emptyRepo, 'firmware', 'Makefile'), '');
    await withEnv({ [PREBUILT_ONLY_ENV]: '1', FARM_REPO_DIR: emptyRepo }, async () => {
      await assert.rejects(ensureFirmwareBuilt('cortex-m4', { programs: ['echo'] }), (error: unknown) => {
        assert.ok(error instanceof FirmwareBuildError);
        assert.equal(error.message, `${emptyRepo}/firmware/build/cortex-m4/echo.elf not built, and ${PREBUILT_ONLY_ENV}=1 forbids building here: build it where the tools are (make -C firmware MACHINES=cortex-m4)`);
        return true;
      });
      await assert.rejects(ensureRpmsgHelper('host'), /tools\/host\/rpmsg-helper not built, and FARM_PREBUILT_ONLY=1 forbids building here: build it where the tools are \(make -C firmware\/tools ABIS=host/);
    });
  } finally {
    fs.rmSync(emptyRepo, { recursive: true, force: true });
  }
});
