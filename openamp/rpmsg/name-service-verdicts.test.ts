import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { propertyRuns } from '../testing/fuzz-runs.js';
import { RPMSG_ADDR_ANY, RPMSG_NS_ADDR, RPMSG_NS_CREATE, RPMSG_NS_DESTROY, type NameServiceAnnouncement } from './api.js';
import { NameServiceLimitError, NameServiceMessageError } from './errors.js';
import { createRpmsgPair } from './test-machine.js';
import { encodeNsMessage } from './wire.js';

/** A pair whose remote sends raw NS messages (any address) from one endpoint. */
function nsPair(hostMaxChannels?: number) {
  const pair = createRpmsgPair({ num: 8, ...(hostMaxChannels === undefined ? {} : { hostMaxChannels }) });
  pair.pump();
  const heard: NameServiceAnnouncement[] = [];
  pair.host.onNameService((announcement) => heard.push(announcement));
  const raw = pair.remote.createEndpoint({ name: 'raw-ns', dest: RPMSG_NS_ADDR });
  const send = (name: string, addr: number, flags: typeof RPMSG_NS_CREATE | typeof RPMSG_NS_DESTROY = RPMSG_NS_CREATE): void => {
    raw.trySend(encodeNsMessage({ name, addr, flags }));
    pair.pump();
  };
  return { pair, heard, send };
}

test('NS of ADDR_ANY or 0x35 is refused as a protocol error naming the name and address; low addresses stay legal', () => {
  const { pair, heard, send } = nsPair();
  send('any-channel', RPMSG_ADDR_ANY);
  send('ns-channel', RPMSG_NS_ADDR);
  send('ti-style', 0x0d);
  assert.deepEqual(
    heard.map((a) => `${a.name}@${a.addr}`),
    ['ti-style@13'],
  );
  assert.equal(pair.hostErrors.length, 2);
  assert.ok(pair.hostErrors.every((error) => error instanceof NameServiceMessageError));
  assert.match(pair.hostErrors[0]!.message, /CREATE of "any-channel" at address 0xffffffff \(ADDR_ANY\) refused/);
  assert.match(pair.hostErrors[1]!.message, /CREATE of "ns-channel" at address 0x00000035 \(the name service itself\) refused/);
  assert.match(pair.hostErrors[0]!.message, /^vring0 \(remote -> host\) used\.ring\[\d+\] \(used\.idx \d+\), descriptor \d+, buffer at 0x[0-9a-f]{8}: /, 'where the message was');
  assert.equal(pair.host.announcedServices.has('any-channel'), false);
  pair.close();
});

test('property: every announced address but ANY and 0x35 binds, those two never do', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.constantFrom(RPMSG_ADDR_ANY, RPMSG_NS_ADDR, 0, 1, 0x34, 0x36, 0x3ff, 0x400), fc.integer({ min: 0, max: 0xffffffff })),
      fc.constantFrom(RPMSG_NS_CREATE, RPMSG_NS_DESTROY),
      (addr, flags) => {
        const { pair, heard, send } = nsPair();
        send('chan', addr, flags);
        const refused = addr === RPMSG_ADDR_ANY || addr === RPMSG_NS_ADDR;
        assert.equal(heard.length, refused ? 0 : 1);
        assert.equal(pair.hostErrors.length, refused ? 1 : 0);
        if (refused) assert.ok(pair.hostErrors[0] instanceof NameServiceMessageError);
        pair.close();
      },
    ),
    { numRuns: propertyRuns('rpmsg ns: announced addresses') },
  );
});

test('the channel cap: announcements past maxChannels are refused (one error each), a DESTROY frees a place', () => {
  const { pair, heard, send } = nsPair(3);
  for (let i = 0; i < 3; i++) send(`c${i}`, 0x400 + i);
  send('c0', 0x400); // the same channel again: not a new one
  send('c3', 0x403);
  assert.equal(pair.hostErrors.length, 1);
  assert.ok(pair.hostErrors[0] instanceof NameServiceLimitError);
  assert.match(pair.hostErrors[0]!.message, /CREATE of "c3" at 0x00000403 refused: the remote already has 3 channels, the most one device keeps \(3\)/);
  send('c1', 0x401, RPMSG_NS_DESTROY);
  send('c3', 0x403);
  assert.equal(pair.hostErrors.length, 1);
  assert.deepEqual(
    heard.map((a) => `${a.flags ? '-' : '+'}${a.name}`),
    ['+c0', '+c1', '+c2', '+c0', '-c1', '+c3'],
  );
  pair.close();
});
