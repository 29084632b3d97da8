import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EM_AARCH64, EM_ARM, EM_X86_64 } from '../openamp/elf/elf-constants.js';
import { parseElf } from '../openamp/elf/parse-elf.js';
import { ensureFuseBridge, ensureRpmsgHelper } from './tools.js';

test('the rpmsg helper builds for the board ABIs (armhf for the STM32MP157 A7, aarch64) and the host, as static ELF executables', { timeout: 180_000 }, async () => {
  for (const [abi, machine, elfClass] of [
    ['armhf', EM_ARM, 32],
    ['aarch64', EM_AARCH64, 64],
    ['host', EM_X86_64, 64],
  ] as const) {
    const file = await ensureRpmsgHelper(abi);
    const image = parseElf(readFileSync(file), file);
    assert.equal(image.machine, machine, `${abi} helper machine`);
    assert.equal(image.class, elfClass, `${abi} helper class`);
    // A static executable has no PT_INTERP: it runs on whatever libc the board has (or none).
    assert.equal(image.section('.interp'), undefined, `${abi} helper names no dynamic loader`);
  }
  assert.match(await ensureFuseBridge(), /build\/tools\/host\/fuse-bridge$/);
});
