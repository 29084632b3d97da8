import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SabMemory } from '../memory/sab-memory.js';
import { AddressSpace } from '../memory/shared-memory.js';
import { readTraceText } from '../rsc/trace-buffer.js';
import { TraceWriter } from './trace-writer.js';

function setup(length: number) {
  const memory = SabMemory.allocate(0x1000);
  memory.fill(0, 0x1000, 0x58); // garbage the writer must terminate
  const space = new AddressSpace([{ name: 'ddr', da: 0x2000, pa: 0x2000, size: 0x1000, memory, offset: 0 }]);
  const trace = { da: 0x2100, len: length };
  return { memory, space, trace, writer: new TraceWriter(space, trace.da, trace.len) };
}

test('lines are readable up to the first NUL, as Linux reads trace buffers', () => {
  const { space, trace, writer } = setup(64);
  assert.equal(readTraceText(space, trace), '');
  writer.writeLine('booting echo');
  writer.writeLine('echo: running');
  assert.equal(readTraceText(space, trace), 'booting echo\necho: running\n');
});

test('the writer wraps to the start and never writes past its buffer', () => {
  const { memory, space, trace, writer } = setup(32);
  for (let i = 0; i < 20; i++) writer.writeLine(`line ${i}`);
  const text = readTraceText(space, trace);
  assert.ok(text.endsWith('line 19\n'), text);
  assert.ok(text.length < 32);
  // The byte after the buffer is untouched.
  assert.equal(memory.getU8(0x100 + 32), 0x58);
  writer.writeLine('x'.repeat(100));
  assert.equal(readTraceText(space, trace), 'x'.repeat(30) + '\n');
});
