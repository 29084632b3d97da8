import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EM_ARM } from '../openamp/elf/elf-constants.js';
import { KindRegistry } from '../targets/registry.js';
import { linuxProcessKind } from '../targets/linux-process/index.js';
import { simKind } from '../targets/sim/index.js';
import { buildSimFirmware } from '../targets/sim/sim-firmware.js';
import { ConfigFileError } from '../base/errors.js';
import { parseFarmConfig } from './config.js';
import { inspectFarm } from './inventory.js';
import { selectRun, UsageError } from './selection.js';

const registry = new KindRegistry([simKind, linuxProcessKind]);
const dir = mkdtempSync(join(tmpdir(), 'farm-inventory-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function load(name: string, text: string) {
  const file = join(dir, name);
  writeFileSync(file, text);
  return parseFarmConfig(text, file, registry, dir);
}

test('doctor resolves a relative linux-process command against the farm file, not skipping it', async () => {
  const config = load('lp.yaml', `targets:\n  - name: lp\n    kind: linux-process\n    params: { commands: { echo: [./my-echo, '{shm}', '{socket}'] } }\n`);
  const line = async () => (await inspectFarm(config, registry))[0]?.prerequisites.find((item) => item.name === 'echo remote ./my-echo');
  assert.equal((await line())?.ok, false, 'a missing ./my-echo is reported');
  writeFileSync(join(dir, 'my-echo'), '#!/bin/sh\n');
  chmodSync(join(dir, 'my-echo'), 0o755);
  const found = await line();
  assert.equal(found?.ok, true);
  assert.equal(found?.detail, join(dir, 'my-echo'));
});

test('linux-process with firmware: images is a config error at its line, pointing at params.commands', () => {
  assert.throws(
    () => load('lpfw.yaml', `targets:\n  - name: lp\n    kind: linux-process\n    firmware:\n      echo: echo.elf\n`),
    (error: unknown) =>
      error instanceof ConfigFileError &&
      error.message === 'lpfw.yaml:5:7: targets[0].firmware.echo: a linux-process target runs commands, not images: move targets.lp.firmware.echo to params.commands.echo'.replace('lpfw.yaml', error.file),
  );
});

test('doctor reads firmware files: not an ELF, or an ELF for another machine, is reported', async () => {
  writeFileSync(join(dir, 'notes.txt'), 'this is not firmware\n');
  writeFileSync(join(dir, 'arm.elf'), buildSimFirmware({ program: 'echo', machine: EM_ARM }));
  writeFileSync(join(dir, 'good.elf'), buildSimFirmware({ program: 'echo' }));
  const config = load(
    'fw.yaml',
    `targets:\n  - name: s\n    kind: sim\n    firmware:\n      echo: notes.txt\n      lifecycle: arm.elf\n      matrix-multiply: good.elf\n      multi-endpoint: missing.elf\n`,
  );
  const lines = (await inspectFarm(config, registry))[0]?.prerequisites ?? [];
  const line = (suite: string) => lines.find((item) => item.name === `firmware for ${suite}`);
  // Files that exist but are wrong are invalid, with what is wrong; "build it" is no fix for them.
  assert.equal(line('echo')?.ok, false);
  assert.equal(line('echo')?.invalid, true);
  assert.match(line('echo')?.detail ?? '', /notes\.txt.*ELF/);
  assert.equal(line('echo')?.hint, 'replace it with an ELF32 EM_RISCV image, or point targets.s.firmware.echo in fw.yaml at one');
  assert.equal(line('lifecycle')?.ok, false);
  assert.equal(line('lifecycle')?.invalid, true);
  assert.match(line('lifecycle')?.detail ?? '', /arm\.elf: built for EM_ARM.*EM_RISCV/);
  assert.doesNotMatch(line('lifecycle')?.hint ?? '', /build it/);
  assert.equal(line('matrix-multiply')?.ok, true, line('matrix-multiply')?.detail);
  assert.match(line('matrix-multiply')?.detail ?? '', /ELF32 EM_RISCV/);
  assert.equal(line('multi-endpoint')?.ok, false);
  assert.equal(line('multi-endpoint')?.invalid, undefined, 'a file that is not there is missing');
  assert.equal(line('multi-endpoint')?.hint, 'build it, or fix targets.s.firmware.multi-endpoint in fw.yaml', 'the hint names the real file');
});

test('farm run with a missing firmware file fails up front with one line', () => {
  const config = load('missing.yaml', `targets:\n  - name: s\n    kind: sim\n    firmware: { echo: nowhere.elf }\n`);
  assert.throws(
    () => selectRun(config, { targets: [], suites: ['echo'] }, dir),
    (error: unknown) => error instanceof UsageError && /^targets\.s\.firmware\.echo: \S*nowhere\.elf does not exist \(build it, or fix the path in missing\.yaml/.test(error.message),
  );
  // A suite not selected does not need its file.
  assert.equal(selectRun(config, { targets: [], suites: ['lifecycle'] }, dir).plan.targets.length, 1);
});
