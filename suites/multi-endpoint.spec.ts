/**
 * multi-endpoint: ST's multi-services demo. Three announced channels (rpmsg-client-sample,
 * rpmsg-tty, rpmsg-raw), the fixed endpoint 0x1, host endpoints of the host's own, and a
 * channel the host announces. Every reply must carry the right prefix, come from the right
 * address and land on the right endpoint.
 */
import { test } from '../farm/fixtures.js';
import type { Host, HostEndpoint, NameServiceEvent } from '../targets/target.js';
import { hex } from '../base/errors.js';
import { quoteRemote } from '../base/remote-text.js';
import { check, concatBytes, expectAddress, expectBytes, expectNoMessage, text } from './support/verdict.js';

const CLIENT_SAMPLE = 'rpmsg-client-sample';
const TTY = 'rpmsg-tty';
const RAW = 'rpmsg-raw';
const FIXED_ADDR = 0x1;
const CHANNEL_TIMEOUT = { timeoutMs: 10_000 };

const hex4 = (addr: number) => `0x${addr.toString(16).padStart(4, '0')}`;
const latin1 = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

/** Checks a tty reply: "TTY <n>: " (older firmware) or "TTY 0x%04x: " with the tty's address, then the message. */
function expectTtyReply(reply: Uint8Array, message: Uint8Array, ttyAddr: number, what: string): void {
  const match = /^TTY (0x[0-9a-f]{4}|\d+): /.exec(latin1(reply.subarray(0, 20)));
  check(match !== null, `${what}: reply ${quoteRemote(latin1(reply.subarray(0, 24)))} lacks the "TTY <n>: " prefix`);
  const id = match[1] as string;
  if (id.startsWith('0x')) check(id === hex4(ttyAddr), `${what}: prefix names ${id}, the tty endpoint is ${hex4(ttyAddr)}`);
  expectBytes(reply.subarray(match[0].length), message, `${what}: payload after the prefix`);
}

/** The remote's greeting on a host-announced channel: "bound", NUL-terminated in ST's demo (6 bytes in seed 003). */
function expectBound(data: Uint8Array): void {
  const bound = text('bound');
  const expected = data.length === bound.length + 1 ? concatBytes(bound, new Uint8Array(1)) : bound;
  expectBytes(data, expected, 'first message on the host-announced channel');
}

async function roundTrip(endpoint: HostEndpoint, message: Uint8Array, dest?: number) {
  await endpoint.send(message, dest === undefined ? undefined : { dest });
  return endpoint.receive({ timeoutMs: 5000 });
}

function recordNameService(host: Host): { events: NameServiceEvent[]; stop: () => void } {
  const events: NameServiceEvent[] = [];
  const stop = host.onNameService((event) => events.push(event));
  return { events, stop };
}

/**
 * Linux binds its own rpmsg_client_sample driver to the channel as soon as it is announced:
 * the kernel sends the "hello world!"s, so the record of the exchange is its log (seed 003
 * demo 1): "new channel: 0x<local> -> 0x<remote>!", "incoming msg <n> (src: 0x<remote>)" for
 * n = 1..100 in order, "goodbye!"; then the remote's NS DESTROY removes the channel.
 */
async function checkKernelClientSample(host: Host): Promise<void> {
  const readLog = host.kernelLog?.bind(host);
  check(readLog !== undefined, 'the target says its kernel runs rpmsg_client_sample, but its host reads no kernel log');
  const deadline = Date.now() + 10_000;
  let lines: readonly string[] = [];
  while (Date.now() < deadline) {
    lines = (await readLog()).filter((line) => line.includes('rpmsg_client_sample'));
    if (lines.some((line) => line.endsWith('goodbye!')) && !host.channels().some((channel) => channel.name === CLIENT_SAMPLE)) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const opened = lines.map((line) => /new channel: (0x[0-9a-f]+) -> (0x[0-9a-f]+)!/.exec(line)).find((match) => match !== null);
  check(opened !== undefined, `no "new channel" line from rpmsg_client_sample within 10 s (kernel log: ${lines.slice(-3).join(' | ') || 'nothing from it'})`);
  const remote = Number(opened[2]);
  const incoming = lines.map((line) => /incoming msg (\d+) \(src: (0x[0-9a-f]+)\)/.exec(line)).filter((match) => match !== null);
  check(incoming.length === 100, `rpmsg_client_sample logged ${incoming.length} incoming messages, expected 100`);
  incoming.forEach((match, index) => {
    check(Number(match[1]) === index + 1, `incoming message ${index + 1} is numbered ${match[1]}`);
    expectAddress(Number(match[2]), remote, `incoming message ${index + 1} source`);
  });
  check(lines.some((line) => line.endsWith('goodbye!')), 'rpmsg_client_sample did not say goodbye! after 100 messages');
  check(!host.channels().some((channel) => channel.name === CLIENT_SAMPLE), 'rpmsg-client-sample still listed after 100 messages (no NS DESTROY)');
}

test('rpmsg-client-sample echoes 100 "hello world!" then destroys its endpoint', async ({ host, capabilities }) => {
  if (capabilities.kernelClientSample) {
    await checkKernelClientSample(host);
    return;
  }
  const ns = recordNameService(host);
  try {
    const channel = await host.waitForChannel(CLIENT_SAMPLE, CHANNEL_TIMEOUT);
    const endpoint = await host.openEndpoint({ name: CLIENT_SAMPLE });
    const hello = text('hello world!');
    for (let count = 1; count <= 100; count++) {
      const reply = await roundTrip(endpoint, hello);
      expectAddress(reply.src, channel.remoteAddr, `message ${count} source`);
      expectBytes(reply.data, hello, `message ${count}`);
    }
    const deadline = Date.now() + 5000;
    while (!ns.events.some((event) => event.kind === 'destroy' && event.name === CLIENT_SAMPLE) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const destroy = ns.events.find((event) => event.kind === 'destroy' && event.name === CLIENT_SAMPLE);
    check(destroy !== undefined, 'no NS DESTROY of rpmsg-client-sample within 5 s after 100 messages');
    expectAddress(destroy.addr, channel.remoteAddr, 'NS DESTROY address');
    check(!host.channels().some((candidate) => candidate.name === CLIENT_SAMPLE), 'rpmsg-client-sample still listed after its destroy');
    await endpoint.close();
  } finally {
    ns.stop();
  }
});

test('rpmsg-tty replies with its "TTY" prefix and the message', async ({ host }) => {
  const channel = await host.waitForChannel(TTY, CHANNEL_TIMEOUT);
  const endpoint = await host.openEndpoint({ name: TTY });
  for (const message of ['hello tty', 'second line', 'x'.repeat(200)].map(text)) {
    const reply = await roundTrip(endpoint, message);
    expectAddress(reply.src, channel.remoteAddr, 'tty reply source');
    expectTtyReply(reply.data, message, channel.remoteAddr, 'tty reply');
  }
  await endpoint.close();
});

test('rpmsg-raw replies "from ept <addr>: " and the message', async ({ host }) => {
  const channel = await host.waitForChannel(RAW, CHANNEL_TIMEOUT);
  const endpoint = await host.openEndpoint({ name: RAW });
  for (const message of ['raw bytes', '\u0000\u0001\u00ff binary'].map((value) => new Uint8Array(Buffer.from(value, 'latin1')))) {
    const reply = await roundTrip(endpoint, message);
    expectAddress(reply.src, channel.remoteAddr, 'raw reply source');
    expectBytes(reply.data, concatBytes(text(`from ept ${hex4(channel.remoteAddr)}: `), message), 'raw reply');
  }
  await endpoint.close();
});

test('host endpoints 100, 101, 103 each get their own reply from fixed endpoint 0x1', async ({ host }) => {
  await host.waitForChannel(RAW, CHANNEL_TIMEOUT);
  const addresses = [100, 101, 103];
  const endpoints = await Promise.all(
    addresses.map((localAddr) => host.openEndpoint({ name: `host-ept-${localAddr}`, localAddr, remoteAddr: FIXED_ADDR })),
  );
  // Send all first, then collect: a reply delivered to the wrong endpoint shows up as a mismatch.
  for (const endpoint of endpoints) await endpoint.send(text(`ping from ${endpoint.localAddr}`));
  for (const endpoint of endpoints) {
    const reply = await endpoint.receive({ timeoutMs: 5000 });
    const what = `reply to endpoint ${endpoint.localAddr}`;
    expectAddress(reply.src, FIXED_ADDR, `${what} source`);
    expectAddress(reply.dst, endpoint.localAddr, `${what} destination`);
    expectBytes(reply.data, text(`from ept 0x0001: ping from ${endpoint.localAddr}`), what);
  }
  for (const endpoint of endpoints) await expectNoMessage(endpoint, 50, `endpoint ${endpoint.localAddr}`);
  for (const endpoint of endpoints) await endpoint.close();

  for (const endpoint of endpoints) {
    const stale = await endpoint.send(text('after close')).then(
      () => true,
      () => false,
    );
    check(!stale, `endpoint ${endpoint.localAddr} still sends after close`);
  }
  // The addresses were released: they can be taken again.
  const again = await host.openEndpoint({ name: 'host-ept-100', localAddr: 100, remoteAddr: FIXED_ADDR });
  const reply = await roundTrip(again, text('again'));
  expectBytes(reply.data, text('from ept 0x0001: again'), 'reply to the re-created endpoint 100');
  await again.close();
});

test('a host-announced rpmsg-tty channel is bound by the remote, usable, and released', async ({ host, capabilities }) => {
  test.skip(capabilities.hostAnnouncedChannels === false, 'the host cannot announce a channel and use it as an addressed endpoint (capabilities.hostAnnouncedChannels)');
  // As ST's demo requires: the remote learns the host's end of the announced rpmsg-tty only
  // from a first message on it, and a second rpmsg-tty announced before that is mis-bound.
  const announcedTty = await host.waitForChannel(TTY, CHANNEL_TIMEOUT);
  const firstTty = await host.openEndpoint({ name: TTY });
  const hello = text('hello tty');
  const established = await roundTrip(firstTty, hello);
  expectAddress(established.src, announcedTty.remoteAddr, 'tty reply source');
  expectTtyReply(established.data, hello, announcedTty.remoteAddr, 'tty reply');

  if (capabilities.kernelClientSample) {
    // The host's kernel runs rpmsg_client_sample at every boot; once it is done the remote frees
    // that endpoint's address and may give it to the endpoint it binds to our channel (ST's demo:
    // "bound" from 0x400). Wait until the sample's channel is gone, so that the address is not
    // taken for an existing one below.
    const deadline = Date.now() + 10_000;
    while (host.channels().some((channel) => channel.name === CLIENT_SAMPLE) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    check(!host.channels().some((channel) => channel.name === CLIENT_SAMPLE), 'rpmsg-client-sample still listed 10 s into the test: the kernel\'s sample did not finish');
  }
  const known = new Set(host.channels().map((channel) => channel.remoteAddr));
  const endpoint = await host.openEndpoint({ name: TTY, localAddr: 257, announce: true });
  const bound = await endpoint.receive({ timeoutMs: 5000 });
  expectBound(bound.data);
  expectAddress(bound.dst, 257, '"bound" destination');
  check(!known.has(bound.src) && bound.src !== FIXED_ADDR, `"bound" came from ${hex(bound.src)}, an existing endpoint, not a new one`);
  const message = text('hello dynamic tty');
  const reply = await roundTrip(endpoint, message, bound.src);
  expectAddress(reply.src, bound.src, 'dynamic tty reply source');
  expectTtyReply(reply.data, message, bound.src, 'dynamic tty reply');
  await endpoint.close();
  const stale = await endpoint.send(text('after close'), { dest: bound.src }).then(
    () => true,
    () => false,
  );
  check(!stale, 'the host-announced endpoint still sends after NS DESTROY');
  await firstTty.close();
});
