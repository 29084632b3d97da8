import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { propertyRuns } from '../testing/fuzz-runs.js';
import { RPMSG_NS_CREATE, RPMSG_NS_DESTROY } from './api.js';
import { NameServiceMessageError, RpmsgConfigError } from './errors.js';
import { decodeNsMessage, decodeRpmsgHeader, encodeNsMessage, encodeRpmsgHeader, encodeRpmsgName } from './wire.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
/** Names as the wire allows them: 1..31 bytes of UTF-8, no NUL. */
const channelName = fc
  .string({ minLength: 1, maxLength: 31, unit: 'grapheme' })
  .filter((s) => !s.includes('\0'))
  .filter((s) => {
    const n = new TextEncoder().encode(s).length;
    return n >= 1 && n <= 31;
  });

test('RPMsg header golden bytes: src, dst, reserved, len, flags little-endian and packed', () => {
  const bytes = new Uint8Array(16);
  encodeRpmsgHeader({ src: 0x400, dst: 0x35, reserved: 0, len: 40, flags: 0 }, bytes);
  assert.deepEqual([...bytes], [0x00, 0x04, 0, 0, 0x35, 0, 0, 0, 0, 0, 0, 0, 40, 0, 0, 0]);
});

test('NS message golden bytes: name[32], addr, flags; 40 bytes', () => {
  const message = encodeNsMessage({ name: 'rpmsg-openamp-demo-channel', addr: 0x400, flags: RPMSG_NS_DESTROY });
  assert.equal(message.length, 40);
  assert.equal(new TextDecoder().decode(message.subarray(0, 26)), 'rpmsg-openamp-demo-channel');
  assert.ok(message.subarray(26, 32).every((b) => b === 0));
  assert.deepEqual([...message.subarray(32)], [0x00, 0x04, 0, 0, 1, 0, 0, 0]);
});

test('property: RPMsg headers survive encode/decode at any offset', () => {
  fc.assert(
    fc.property(u32, u32, u32, u16, u16, fc.integer({ min: 0, max: 48 }), (src, dst, reserved, len, flags, offset) => {
      const bytes = new Uint8Array(offset + 16 + 8).fill(0xee);
      encodeRpmsgHeader({ src, dst, reserved, len, flags }, bytes, offset);
      assert.deepEqual(decodeRpmsgHeader(bytes, offset), { src, dst, reserved, len, flags });
      assert.ok(bytes.subarray(0, offset).every((b) => b === 0xee), 'nothing written before the header');
      assert.ok(bytes.subarray(offset + 16).every((b) => b === 0xee), 'nothing written after the header');
    }),
    { numRuns: propertyRuns('rpmsg wire: header round trip') },
  );
});

test('property: NS messages survive encode/decode', () => {
  fc.assert(
    fc.property(channelName, u32, fc.constantFrom(RPMSG_NS_CREATE, RPMSG_NS_DESTROY), (name, addr, flags) => {
      const message = encodeNsMessage({ name, addr, flags });
      assert.equal(message.length, 40);
      assert.deepEqual(decodeNsMessage(message), { name, addr, flags });
    }),
    { numRuns: propertyRuns('rpmsg wire: NS message round trip') },
  );
});

test('property: any received NS payload decodes to a valid announcement or a NameServiceMessageError', () => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ minLength: 40, maxLength: 40 }), fc.uint8Array({ maxLength: 80 })), (payload) => {
      let announcement;
      try {
        announcement = decodeNsMessage(payload);
      } catch (error) {
        assert.ok(error instanceof NameServiceMessageError, String(error));
        assert.ok(payload.length !== 40 || payload[0] === 0, 'only a wrong length or an empty name is refused');
        return;
      }
      assert.equal(payload.length, 40);
      assert.ok(announcement.name.length > 0);
      assert.ok(!announcement.name.includes('\0'));
      assert.ok(announcement.flags === RPMSG_NS_CREATE || announcement.flags === RPMSG_NS_DESTROY);
      assert.equal(announcement.flags, payload[36]! & 1);
      assert.equal(announcement.addr, new DataView(payload.buffer, payload.byteOffset).getUint32(32, true));
    }),
    { numRuns: propertyRuns('rpmsg wire: any received NS payload') },
  );
});

test('NS decode: a name without NUL is cut to 31 bytes; 39 and 41 bytes are refused', () => {
  const message = new Uint8Array(40).fill(0x41);
  assert.equal(decodeNsMessage(message).name, 'A'.repeat(31));
  assert.throws(() => decodeNsMessage(new Uint8Array(39).fill(0x41)), NameServiceMessageError);
  assert.throws(() => decodeNsMessage(new Uint8Array(41).fill(0x41)), NameServiceMessageError);
});

test('property: channel names of 32 bytes or more, empty, or with NUL are refused', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 64 }), (name) => {
      const length = new TextEncoder().encode(name).length;
      const valid = length >= 1 && length <= 31 && !name.includes('\0');
      if (valid) assert.equal(encodeRpmsgName(name).length, length);
      else assert.throws(() => encodeRpmsgName(name), RpmsgConfigError);
    }),
    { numRuns: propertyRuns('rpmsg wire: channel name limits') },
  );
});
