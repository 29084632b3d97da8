import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKindRegistry } from '../registry.js';
import { micropythonOpenampKind } from './index.js';

test('micropython-openamp is a registered kind running all four suites', async () => {
  const registry = await loadKindRegistry();
  assert.equal(registry.get('micropython-openamp'), micropythonOpenampKind);
  assert.deepEqual([...micropythonOpenampKind.suites], ['echo', 'matrix-multiply', 'multi-endpoint', 'lifecycle']);
});

test('doctor: a missing serial port fails with a hint; with every image given, no firmware build tools are asked for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'farm-mpy-kind-'));
  try {
    const params = micropythonOpenampKind.parseParams({ port: 'serial/by-id/usb-board-if00', flasher: { tool: 'dfu-util', probeSerial: '0041003B' } }, 'p');
    const all = { echo: '/x.elf', 'matrix-multiply': '/x.elf', 'multi-endpoint': '/x.elf', lifecycle: '/x.elf' } as const;
    const lines = await micropythonOpenampKind.prerequisites(params, { configDir: dir, firmware: all });
    const port = lines.find((line) => line.name === 'board serial port');
    assert.ok(port && !port.ok);
    assert.equal(port.detail, `${join(dir, 'serial/by-id/usb-board-if00')} does not exist`);
    assert.match(port.hint ?? '', /by-id/);
    assert.ok(lines.some((line) => line.name.startsWith('dfu-util (flasher, probe 0041003B)')));
    assert.ok(!lines.some((line) => line.name.includes('firmware build')));
    const withReference = await micropythonOpenampKind.prerequisites(params, { configDir: dir });
    assert.ok(withReference.some((line) => line.name === 'arm-none-eabi-gcc (reference M4 firmware build)'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
