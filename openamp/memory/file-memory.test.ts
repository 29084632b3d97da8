import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { InfrastructureError, MemoryAccessError } from '../../base/errors.js';
import { FileMemory } from './file-memory.js';
import { describeSharedMemoryContract } from './shared-memory-contract.test-helper.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'file-memory-test-'));
let counter = 0;
const freshPath = (): string => path.join(dir, `shm-${counter++}`);
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

describeSharedMemoryContract('FileMemory', (size) => {
  const file = freshPath();
  return { memory: FileMemory.create(file, size), cleanup: () => fs.rmSync(file, { force: true }) };
});

test('FileMemory.create makes the file exactly the size asked, extending or truncating', () => {
  const file = freshPath();
  const a = FileMemory.create(file, 0x1000);
  assert.equal(a.name, `file:${file}`);
  assert.equal(fs.statSync(file).size, 0x1000);
  a.close();
  fs.writeFileSync(file, Buffer.alloc(0x3000, 1));
  FileMemory.create(file, 0x2000).close();
  assert.equal(fs.statSync(file).size, 0x2000);
  FileMemory.create(file, 0x4000).close();
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.length, 0x4000);
  assert.equal(bytes[0x1fff], 1);
  assert.equal(bytes[0x2000], 0); // extended with zeros
  assert.throws(() => FileMemory.create(file, 0), InfrastructureError);
  assert.throws(() => FileMemory.create(path.join(dir, 'no-such-dir', 'x'), 16), InfrastructureError);
});

test('FileMemory.open uses the whole file or a prefix of it, and refuses what is not there', () => {
  const file = freshPath();
  fs.writeFileSync(file, Buffer.alloc(100));
  const whole = FileMemory.open(file);
  assert.equal(whole.size, 100);
  whole.close();
  const prefix = FileMemory.open(file, { size: 64 });
  assert.equal(prefix.size, 64);
  assert.throws(() => prefix.getU8(64), MemoryAccessError);
  prefix.close();
  assert.throws(() => FileMemory.open(file, { size: 101 }), InfrastructureError);
  assert.throws(() => FileMemory.open(freshPath()), InfrastructureError);
  const empty = freshPath();
  fs.writeFileSync(empty, '');
  assert.throws(() => FileMemory.open(empty), /empty/);
});

test('two FileMemory handles on one file see each other\'s writes at once', () => {
  const file = freshPath();
  const a = FileMemory.create(file, 4096);
  const b = FileMemory.open(file);
  try {
    a.storeU32(0x100, 0xdeadbeef);
    assert.equal(b.loadU32(0x100), 0xdeadbeef);
    b.write(0x200, new TextEncoder().encode('hello'));
    assert.equal(new TextDecoder().decode(a.read(0x200, 5)), 'hello');
    b.storeU16(0x300, 0x1234);
    assert.equal(a.getU16(0x300), 0x1234);
    a.fill(0x200, 5, 0);
    assert.deepEqual([...b.read(0x200, 5)], [0, 0, 0, 0, 0]);
  } finally {
    a.close();
    b.close();
  }
});

test('FileMemory: accesses after close throw instead of reaching a recycled fd; close is idempotent', () => {
  const file = freshPath();
  const memory = FileMemory.create(file, 64);
  memory.close();
  memory.close();
  assert.equal(memory.closed, true);
  assert.throws(() => memory.getU32(0), (e: unknown) => e instanceof MemoryAccessError && /closed/.test((e as Error).message));
  assert.throws(() => memory.write(0, new Uint8Array(1)), MemoryAccessError);
  assert.ok(fs.existsSync(file), 'a handle without unlinkOnClose leaves the file');
});

test('FileMemory unlinks on close only a file it created itself', () => {
  const ours = freshPath();
  FileMemory.create(ours, 64, { unlinkOnClose: true }).close();
  assert.equal(fs.existsSync(ours), false);
  const theirs = freshPath();
  fs.writeFileSync(theirs, Buffer.alloc(64));
  FileMemory.create(theirs, 64, { unlinkOnClose: true }).close();
  assert.equal(fs.existsSync(theirs), true);
});

test('FileMemory reports a file that shrank under it as a MemoryAccessError, not stale bytes', () => {
  const file = freshPath();
  // The mapping is in whole pages: past the end but inside the file's last page the kernel
  // shows zeros (still in bounds, no fault); a page the file no longer reaches is an error.
  const memory = FileMemory.create(file, 3 * 4096);
  try {
    fs.truncateSync(file, 4096);
    assert.equal(memory.getU32(0), 0);
    assert.throws(() => memory.getU32(8192), (e: unknown) => e instanceof MemoryAccessError && /shorter/.test((e as Error).message));
    assert.throws(() => memory.read(4000, 200), MemoryAccessError);
    assert.throws(() => memory.storeU32(4096, 1), MemoryAccessError);
  } finally {
    memory.close();
  }
});

// The real thing: another process maps the file MAP_SHARED (as QEMU and open-amp do) while we
// map it too. The python side writes through its mapping, waits for us, then reads
// through its mapping what we wrote, all while the mapping stays live.
const MMAP_PEER = `
import mmap, struct, sys
with open(sys.argv[1], 'r+b') as f:
    m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    print('saw', hex(struct.unpack_from('<I', m, 0x100)[0]), flush=True)
    struct.pack_into('<I', m, 0x200, 0x12345678)
    m[0x300:0x305] = b'peer!'
    print('wrote', flush=True)
    sys.stdin.readline()
    print('saw', hex(struct.unpack_from('<I', m, 0x104)[0]), m[0x400:0x403].decode(), flush=True)
    m.close()
`;
const hasPython = spawnSync('python3', ['-c', 'import mmap'], { stdio: 'ignore' }).status === 0;

test('FileMemory and a second process mapping the file MAP_SHARED see each other\'s writes', { skip: !hasPython && 'python3 with mmap is not installed' }, async () => {
  const file = freshPath();
  const memory = FileMemory.create(file, 0x1000, { unlinkOnClose: true });
  const peer = spawn('python3', ['-c', MMAP_PEER, file], { stdio: ['pipe', 'pipe', 'inherit'] });
  const killer = setTimeout(() => peer.kill('SIGKILL'), 10_000);
  try {
    memory.storeU32(0x100, 0xa5a5_0001);
    const lines = createInterface({ input: peer.stdout })[Symbol.asyncIterator]();
    const next = async (): Promise<string> => {
      const line = await lines.next();
      assert.equal(line.done, false, 'peer exited early');
      return line.value as string;
    };
    assert.equal(await next(), 'saw 0xa5a50001');
    assert.equal(await next(), 'wrote');
    assert.equal(memory.loadU32(0x200), 0x12345678);
    assert.equal(new TextDecoder().decode(memory.read(0x300, 5)), 'peer!');
    memory.storeU32(0x104, 0xbeef_cafe);
    memory.write(0x400, new TextEncoder().encode('ts!'));
    peer.stdin.write('go\n');
    assert.equal(await next(), 'saw 0xbeefcafe ts!');
    const code = await new Promise<number | null>((resolve) => (peer.exitCode !== null ? resolve(peer.exitCode) : peer.once('exit', resolve)));
    assert.equal(code, 0);
  } finally {
    clearTimeout(killer);
    if (peer.exitCode === null) peer.kill('SIGKILL');
    memory.close();
  }
  assert.equal(fs.existsSync(file), false);
});

test('FileMemory sees writes a second node process makes through its own handle, and vice versa', async () => {
  const file = freshPath();
  const memory = FileMemory.create(file, 0x1000, { unlinkOnClose: true });
  const moduleUrl = new URL('./file-memory.js', import.meta.url).href;
  memory.storeU32(0x10, 41);
  const script = `
    const { FileMemory } = await import(${JSON.stringify(moduleUrl)});
    const m = FileMemory.open(process.argv[1]);
    m.storeU32(0x20, m.loadU32(0x10) + 1);
    m.close();
  `;
  try {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(memory.loadU32(0x20), 42);
  } finally {
    memory.close();
  }
});
