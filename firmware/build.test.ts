/**
 * firmware/build.ts on a private copy of the firmware sources (FARM_REPO_DIR), so the test can
 * touch and break sources without disturbing anyone's firmware/build.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { InfrastructureError } from '../base/errors.js';
import { MissingToolError } from '../base/process/managed-process.js';
import { FIRMWARE_PROGRAMS, FirmwareBuildError, ensureFirmwareBuilt, firmwareBuildTools, firmwareBuildDir, firmwarePath, firmwareSourceDir, missingFirmwareTools } from './build.js';
import { withRestrictedPath } from '../base/process/restricted-path.test-helper.js';

const repo = fs.mkdtempSync(path.join(tmpdir(), 'firmware-build-test-'));
fs.cpSync(firmwareSourceDir(), path.join(repo, 'firmware'), {
  recursive: true,
  filter: (source) => !/\/firmware\/build(\/|$)/.test(source) && !source.endsWith('.ts') && !source.endsWith('.js'),
});
const savedRepo = process.env.FARM_REPO_DIR;
process.env.FARM_REPO_DIR = repo;
after(() => {
  if (savedRepo === undefined) delete process.env.FARM_REPO_DIR;
  else process.env.FARM_REPO_DIR = savedRepo;
  fs.rmSync(repo, { recursive: true, force: true });
});

const mtimes = (): number[] => FIRMWARE_PROGRAMS.map((program) => fs.statSync(firmwarePath('riscv64-virt', program)).mtimeMs);

test('ensureFirmwareBuilt builds every program, shares one build between concurrent callers, and leaves an up-to-date build alone', { timeout: 120_000 }, async () => {
  assert.equal(firmwareSourceDir(), path.join(repo, 'firmware'));
  const first = ensureFirmwareBuilt('riscv64-virt');
  assert.equal(ensureFirmwareBuilt('riscv64-virt'), first, 'a second caller joins the running build');
  assert.equal(await first, firmwareBuildDir('riscv64-virt'));
  assert.equal(firmwareBuildDir('riscv64-virt'), path.join(repo, 'firmware', 'build', 'riscv64-virt'));
  for (const program of FIRMWARE_PROGRAMS) {
    const elf = fs.readFileSync(firmwarePath('riscv64-virt', program));
    assert.deepEqual([...elf.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], `${program}.elf is an ELF file`);
    assert.equal(elf.readUInt16LE(18), 243, `${program}.elf is RISC-V`);
  }
  const built = mtimes();
  await ensureFirmwareBuilt('riscv64-virt');
  assert.deepEqual(mtimes(), built, 'nothing rebuilt when the sources did not change');

  // A changed source is rebuilt (make decides).
  const source = path.join(repo, 'firmware', 'apps', 'echo.c');
  const later = new Date(Date.now() + 2000);
  fs.utimesSync(source, later, later);
  await ensureFirmwareBuilt('riscv64-virt');
  assert.ok(mtimes()[0]! > built[0]!, 'echo.elf rebuilt after echo.c changed');
});

test('a missing cross compiler or make is an InfrastructureError naming the Debian package, before anything runs', { timeout: 30_000 }, async () => {
  await withRestrictedPath(['make'], async () => {
    assert.deepEqual(missingFirmwareTools('riscv64-virt'), [{ binary: 'riscv64-unknown-elf-gcc', debianPackage: 'gcc-riscv64-unknown-elf' }]);
    await assert.rejects(ensureFirmwareBuilt('riscv64-virt'), (error: unknown) => {
      assert.ok(error instanceof MissingToolError && error instanceof InfrastructureError, String(error));
      assert.equal(error.failureClass, 'infrastructure');
      assert.match(error.message, /riscv64-unknown-elf-gcc is not installed \(Debian package gcc-riscv64-unknown-elf;/);
      return true;
    });
    await assert.rejects(ensureFirmwareBuilt('versal-r5'), /arm-none-eabi-gcc is not installed \(Debian package gcc-arm-none-eabi;/);
  });
  await withRestrictedPath(['arm-none-eabi-gcc', 'make'], async () => {
    await assert.rejects(ensureFirmwareBuilt('versal-r5'), /aarch64-linux-gnu-gcc is not installed \(Debian package gcc-aarch64-linux-gnu;/);
  });
  await withRestrictedPath(['riscv64-unknown-elf-gcc'], async () => {
    await assert.rejects(ensureFirmwareBuilt('riscv64-virt'), /make is not installed \(Debian package make;/);
  });
  // The failed attempts are not cached: with the tools back it builds.
  assert.equal(await ensureFirmwareBuilt('riscv64-virt'), firmwareBuildDir('riscv64-virt'));
});

test('a compile error is a FirmwareBuildError carrying the compiler output', { timeout: 120_000 }, async () => {
  const source = path.join(repo, 'firmware', 'apps', 'matrix.c');
  const original = fs.readFileSync(source, 'utf8');
  fs.writeFileSync(source, `${original}\n#error farm build test: deliberately broken\n`);
  try {
    await assert.rejects(ensureFirmwareBuilt('riscv64-virt'), (error: unknown) => {
      assert.ok(error instanceof FirmwareBuildError && error instanceof InfrastructureError, String(error));
      assert.match(error.message, /building the riscv64-virt firmware failed \(make exit \d+\)/);
      assert.match(error.message, /farm build test: deliberately broken/);
      return true;
    });
  } finally {
    fs.writeFileSync(source, original);
  }
});

test('only what is asked for is built, with only the tools it needs: nothing needs nothing; a boot stub alone needs its own compiler', { timeout: 120_000 }, async () => {
  assert.deepEqual(firmwareBuildTools('riscv64-virt', { programs: [], bootStub: true }), [], 'riscv64-virt has no boot stub');
  assert.deepEqual(
    firmwareBuildTools('cortex-m4', { bootStub: true }).map((tool) => tool.binary),
    ['arm-none-eabi-gcc', 'make'],
  );
  assert.deepEqual(
    firmwareBuildTools('versal-r5', { bootStub: true }).map((tool) => tool.binary),
    ['aarch64-linux-gnu-gcc', 'make'],
    'the APU stub needs the aarch64 compiler, not the R5 one',
  );
  assert.deepEqual(
    firmwareBuildTools('versal-r5', { programs: ['echo'] }).map((tool) => tool.binary),
    ['arm-none-eabi-gcc', 'make'],
  );
  assert.deepEqual(firmwareBuildTools('versal-r5').map((tool) => tool.binary), ['arm-none-eabi-gcc', 'aarch64-linux-gnu-gcc', 'make']);

  // Prebuilt images for everything on a machine without a stub: no tool at all, not even make.
  await withRestrictedPath([], async () => {
    assert.equal(await ensureFirmwareBuilt('riscv64-virt', { programs: [], bootStub: true }), firmwareBuildDir('riscv64-virt'));
  });
  // The Versal stub alone builds without the R5 compiler, and builds no program.
  const stub = path.join(firmwareBuildDir('versal-r5'), 'apu-stub.elf');
  fs.rmSync(firmwareBuildDir('versal-r5'), { recursive: true, force: true });
  await withRestrictedPath(['aarch64-linux-gnu-gcc', 'make', 'mkdir', 'mv'], async () => {
    await ensureFirmwareBuilt('versal-r5', { programs: [], bootStub: true });
  });
  assert.ok(fs.existsSync(stub), 'apu-stub.elf built');
  assert.deepEqual(fs.readdirSync(firmwareBuildDir('versal-r5')), ['apu-stub.elf'], 'no program built');
  // One program: that one only.
  await withRestrictedPath(['arm-none-eabi-gcc', 'make', 'mkdir', 'mv'], async () => {
    await ensureFirmwareBuilt('versal-r5', { programs: ['matrix-multiply'] });
    await assert.rejects(ensureFirmwareBuilt('versal-r5', { programs: ['echo'], bootStub: true }), /aarch64-linux-gnu-gcc is not installed/);
  });
  assert.deepEqual(fs.readdirSync(firmwareBuildDir('versal-r5')).sort(), ['apu-stub.elf', 'matrix-multiply.elf']);
});
