/**
 * ping-pong: an example user suite. It runs on every target that runs open-amp's echo remote
 * (farm.yaml: `firmware: echo`), through the farm's public API only.
 */
import { expect, test, type HostEndpoint } from 'openamp-farm';

const CHANNEL = 'rpmsg-openamp-demo-channel';

async function roundTrip(endpoint: HostEndpoint, payload: Uint8Array): Promise<Uint8Array> {
  await endpoint.send(payload);
  const reply = await endpoint.receive({ timeoutMs: 5000 });
  return reply.data;
}

test('the remote announces the demo channel and answers one ping @smoke', async ({ host, suite, firmware }) => {
  expect(suite).toBe('ping-pong');
  expect(firmware.sha256).toMatch(/^[0-9a-f]{64}$/);
  const channel = await host.waitForChannel(CHANNEL, { timeoutMs: 10_000 });
  expect(channel.remoteAddr).toBeGreaterThanOrEqual(0x400);
  const endpoint = await host.openEndpoint({ name: CHANNEL });
  const ping = new TextEncoder().encode('ping from a user suite');
  expect(await roundTrip(endpoint, ping)).toEqual(ping);
  await endpoint.close();
});

test('64 pings of growing size come back unchanged and in order', { tag: '@nightly' }, async ({ host }) => {
  await host.waitForChannel(CHANNEL, { timeoutMs: 10_000 });
  const endpoint = await host.openEndpoint({ name: CHANNEL });
  for (let size = 1; size <= 64; size++) {
    const payload = Uint8Array.from({ length: size * 7 }, (_, index) => (index * 31 + size) & 0xff);
    expect(await roundTrip(endpoint, payload), `ping ${size}`).toEqual(payload);
  }
  await endpoint.close();
});
