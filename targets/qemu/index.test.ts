import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firmwarePath } from '../../firmware/build.js';
import { SUITE_NAMES } from '../target.js';
import { qemuKinds } from './index.js';
import { PROGRAM_FOR_SUITE } from '../reference-firmware.js';

const kind = (name: string) => qemuKinds.find((definition) => definition.kind === name)!;
const names = async (name: string, firmware?: Record<string, string>): Promise<string[]> => {
  const definition = kind(name);
  const list = await definition.prerequisites(definition.parseParams(undefined, 'params'), { configDir: process.cwd(), ...(firmware ? { firmware } : {}) });
  return list.map((item) => item.name);
};
const allGiven = (machine: 'riscv64-virt' | 'cortex-m4' | 'versal-r5' | 'zynqmp-r5'): Record<string, string> =>
  Object.fromEntries(SUITE_NAMES.map((suite) => [suite, firmwarePath(machine, PROGRAM_FOR_SUITE[suite])]));

test('doctor lists the firmware compilers only for what setup must build', async () => {
  assert.deepEqual(await names('qemu-riscv64-virt'), [
    'qemu-system-riscv64 (QEMU)',
    'riscv64-unknown-elf-gcc (firmware build)',
    'make (firmware build)',
    'setpriv (children die with the farm)',
  ]);
  assert.deepEqual(await names('qemu-riscv64-virt', allGiven('riscv64-virt')), ['qemu-system-riscv64 (QEMU)', 'setpriv (children die with the farm)'], 'no stub, every image given: no compiler');
  assert.ok((await names('qemu-riscv64-virt', { echo: '/x/echo.elf' })).includes('riscv64-unknown-elf-gcc (firmware build)'), 'some suites still need the reference firmware');
  // Boot stubs are always built: their compiler only.
  assert.deepEqual(await names('qemu-versal-r5', allGiven('versal-r5')), ['qemu-system-aarch64 (QEMU)', 'aarch64-linux-gnu-gcc (firmware build)', 'make (firmware build)', 'setpriv (children die with the farm)']);
  assert.deepEqual(await names('qemu-zynqmp-r5', allGiven('zynqmp-r5')), ['qemu-system-aarch64 (QEMU)', 'aarch64-linux-gnu-gcc (firmware build)', 'make (firmware build)', 'setpriv (children die with the farm)']);
  assert.deepEqual(await names('qemu-cortex-m4', allGiven('cortex-m4')), ['qemu-system-arm (QEMU)', 'arm-none-eabi-gcc (firmware build)', 'make (firmware build)', 'setpriv (children die with the farm)']);
});

test('doctor for a QEMU target in a container: the engine, the image and debootstrap instead of the QEMU binary', async () => {
  const definition = kind('qemu-zynqmp-r5');
  const list = await definition.prerequisites(definition.parseParams({ container: 'qemu' }, 'params'), { configDir: process.cwd() });
  const names = list.map((item) => item.name);
  assert.ok(!names.includes('qemu-system-aarch64 (QEMU)'), 'QEMU comes with the image');
  for (const name of ['debootstrap (farm images build)', 'container engine (dockerd)', 'container image qemu']) assert.ok(names.includes(name), `${name} in ${names.join(', ')}`);
  const image = list.find((item) => item.name === 'container image qemu');
  assert.ok(image?.ok || image?.hint === 'farm images build qemu', 'a missing recipe image names the build command');
  const vendor = await definition.prerequisites(definition.parseParams({ container: 'vendor/qemu:1' }, 'params'), { configDir: process.cwd() });
  assert.ok(!vendor.some((item) => item.name.startsWith('debootstrap')), 'a vendor image is not built here');
  assert.match(vendor.find((item) => item.name === 'container image vendor/qemu:1')?.hint ?? '', /docker build \/ docker load/);
});
