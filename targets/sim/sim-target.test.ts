import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../base/errors.js';
import { EM_RISCV, RESOURCE_TABLE_SECTION } from '../../openamp/elf/elf-constants.js';
import { parseElf } from '../../openamp/elf/parse-elf.js';
import { DEMO_CHANNEL } from '../../openamp/remote/program.js';
import { decodeBootRecord } from '../../openamp/remote/boot-record.js';
import { parseResourceTable } from '../../openamp/rsc/parse-resource-table.js';
import { FW_RSC_ADDR_ANY } from '../../openamp/rsc/rsc-layout.js';
import type { TargetLog } from '../target.js';
import { simKind } from './index.js';
import { sha256Hex } from '../firmware-image.js';
import { buildSimFirmware } from './sim-firmware.js';
import { SIM_DATA_DA, SIM_TEXT_DA } from './sim-machine.js';

test('sim firmware: deterministic ELF32 RISC-V image with boot record and resource table in PT_LOADs', () => {
  const bytes = buildSimFirmware({ program: 'multi-services', vringNum: 64, bufferSize: 256 });
  assert.equal(sha256Hex(bytes), sha256Hex(buildSimFirmware({ program: 'multi-services', vringNum: 64, bufferSize: 256 })));
  assert.notEqual(sha256Hex(bytes), sha256Hex(buildSimFirmware({ program: 'echo', vringNum: 64, bufferSize: 256 })));
  const image = parseElf(bytes, 'multi.elf');
  assert.equal(image.machine, EM_RISCV);
  assert.equal(image.class, 32);
  assert.equal(image.entry, SIM_TEXT_DA);
  const boot = decodeBootRecord(image.loadSegments[0]!.bytes(), 'text');
  assert.deepEqual(boot.program, 'multi-services');
  assert.equal(boot.bufferSize, 256);
  const section = image.section(RESOURCE_TABLE_SECTION)!;
  assert.equal(section.addr, SIM_DATA_DA);
  assert.equal(boot.resourceTableDa, section.addr);
  assert.equal(boot.resourceTableSize, section.size);
  const data = image.loadSegments[1]!;
  assert.ok(data.paddr <= section.addr && section.addr + section.size <= data.paddr + data.filesz, 'table inside a PT_LOAD');
  const table = parseResourceTable(section.bytes(), 'multi.elf');
  assert.equal(table.vdevs.length, 1);
  assert.deepEqual(
    table.vdevs[0]!.vrings.map((v) => [v.da, v.num]),
    [
      [FW_RSC_ADDR_ANY, 64],
      [FW_RSC_ADDR_ANY, 64],
    ],
  );
  assert.deepEqual(table.carveouts.map((c) => [c.name, c.da, c.len]), [['vdev0buffer', FW_RSC_ADDR_ANY, 128 * 256]]);
  const trace = table.traces[0]!;
  assert.ok(trace.da >= section.addr + section.size && trace.da + trace.len <= data.paddr + data.memsz, 'trace in the zero-filled part');
});

test('sim params: defaults, validation with the field path', () => {
  assert.deepEqual(simKind.parseParams(undefined, 'targets[0].params'), {
    memorySize: 4 * 1024 * 1024,
    vringNum: 256,
    bufferSize: 512,
    remoteSpinMicros: 50,
    hostSpinMicros: 20,
    stallTimeoutMs: 250,
    replyDelayUs: 0,
  });
  assert.equal(simKind.parseParams({ vringNum: 64 }, 'p').vringNum, 64);
  assert.throws(() => simKind.parseParams({ vringNum: 100 }, 'targets[1].params'), (e: unknown) => e instanceof ConfigError && e.field === 'targets[1].params.vringNum');
  assert.throws(() => simKind.parseParams({ memory: 5 }, 'p'), (e: unknown) => e instanceof ConfigError && /unknown parameter/.test(e.message));
  assert.throws(() => simKind.parseParams({ bufferSize: 'big' }, 'p'), ConfigError);
  assert.throws(() => simKind.parseParams([], 'p'), ConfigError);
  assert.throws(() => simKind.parseParams({ memorySize: 2 * 1024 * 1024, vringNum: 1024, bufferSize: 4096 }, 'p'), /cannot hold/);
});

test('sim kind: prerequisites hold here', async () => {
  const prerequisites = await simKind.prerequisites(simKind.parseParams(undefined, 'p'), { configDir: process.cwd() });
  assert.ok(prerequisites.every((p) => p.ok));
});

test('sim target: setup writes the images, a suite runs, teardown leaves nothing running', async () => {
  const workDir = await mkdtemp(join(tmpdir(), 'sim-target-test-'));
  const consoleLines: string[] = [];
  const log: TargetLog = { info: () => {}, console: (_stream, text) => consoleLines.push(text) };
  const target = simKind.create('sim0', simKind.parseParams({ vringNum: 32 }, 'p'), { configDir: workDir, firmware: {}, workDir });
  try {
    await target.setup(log);
    const image = await target.firmwareFor('multi-endpoint');
    assert.equal(image.path, join(workDir, 'firmware', 'sim', 'multi-services-n32-b512.elf'));
    assert.equal(image.sha256, sha256Hex(await readFile(image.path!)));
    assert.equal((await target.firmwareFor('lifecycle')).sha256, (await target.firmwareFor('echo')).sha256);

    await target.host.start(await target.firmwareFor('echo'));
    await target.host.waitForChannel(DEMO_CHANNEL);
    const endpoint = await target.host.openEndpoint({ name: DEMO_CHANNEL });
    await endpoint.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual((await endpoint.receive()).data, new Uint8Array([1, 2, 3]));
    // The remote core's console lines cross from its thread as messages of their own: the echo
    // (read by the host's spin right after the send) can be back before them.
    let consoleText = target.takeConsole();
    for (const deadline = Date.now() + 5000; !/echo: running/.test(consoleText) && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      consoleText += target.takeConsole();
    }
    assert.match(consoleText, /echo: running/);
    assert.equal(target.takeConsole(), '', 'console is handed out once');
    assert.ok(consoleLines.length > 0);
    assert.equal(target.properties()['target.kind'], 'sim');
  } finally {
    await target.teardown();
    await target.teardown();
    await rm(workDir, { recursive: true, force: true });
  }
  assert.equal(target.host.state, 'offline');
  assert.equal((target as unknown as { soc: { coreRunning: boolean } }).soc.coreRunning, false);
});

test('sim target: firmware from farm.yaml replaces the generated image', async () => {
  const workDir = await mkdtemp(join(tmpdir(), 'sim-target-test-'));
  const custom = join(workDir, 'custom.elf');
  const { writeFile } = await import('node:fs/promises');
  const bytes = buildSimFirmware({ program: 'matrix-multiply' });
  await writeFile(custom, bytes);
  const target = simKind.create('sim1', simKind.parseParams(undefined, 'p'), { configDir: workDir, firmware: { echo: custom }, workDir });
  try {
    const image = await target.firmwareFor('echo');
    assert.deepEqual(image, { label: 'custom.elf', path: custom, sha256: sha256Hex(bytes) });
  } finally {
    await target.teardown();
    await rm(workDir, { recursive: true, force: true });
  }
});
