import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firmwareImageFromFile, sha256Hex } from './firmware-image.js';

test('sha256Hex is the lower-case hex SHA-256', () => {
  const bytes = new Uint8Array([1, 2, 3]);
  assert.equal(sha256Hex(bytes), createHash('sha256').update(bytes).digest('hex'));
});

test('firmwareImageFromFile names the image by its file and hashes its bytes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'firmware-image-'));
  try {
    const path = join(dir, 'echo.elf');
    const bytes = new Uint8Array([0x7f, 0x45, 0x4c, 0x46]);
    await writeFile(path, bytes);
    assert.deepEqual(await firmwareImageFromFile('t0', 'echo', path), { label: 'echo.elf', path, sha256: sha256Hex(bytes) });
    await assert.rejects(firmwareImageFromFile('t0', 'lifecycle', join(dir, 'missing.elf')), (error: Error) => {
      assert.equal(error.name, 'InfrastructureError[infrastructure]');
      assert.match(error.message, /^t0: cannot read firmware .*missing\.elf for lifecycle: ENOENT/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
