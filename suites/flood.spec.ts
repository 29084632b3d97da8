/**
 * flood: one-way floods of 496-byte messages in each direction (as open-amp's
 * msg-test-rpmsg-flood-ping), every message counted and checked at the far end: the reference
 * echo takes [sink, count] / [source, count, size] words (openamp/remote/control-words.ts,
 * firmware/core/fw.h). A farm run floods 2,000 messages each way; FARM_FLOOD_MESSAGES sets more
 * (`npm run bench:flood`). Messages/s and MB/s go to metrics.json.
 */
import { test } from '../farm/fixtures.js';
import { ATTACHMENT } from '../reports/attachments.js';
import { DEMO_CHANNEL } from './support/echo.js';
import { floodFromRemote, floodMessages, floodToRemote, type FloodFigures } from './support/flood.js';
import { expectNoMessage } from './support/verdict.js';

const MESSAGE_TIMEOUT_MS = 10_000;

async function record(figures: FloodFigures, testInfo: { annotations: { type: string; description?: string }[]; attach(name: string, options: { body: string; contentType: string }): Promise<void> }): Promise<void> {
  testInfo.annotations.push({
    type: 'flood',
    description: `${figures.direction}: ${figures.messages} messages in ${(figures.seconds * 1000).toFixed(0)} ms, ${Math.round(figures.messagesPerSecond)} msgs/s, ${figures.megabytesPerSecond.toFixed(1)} MB/s`,
  });
  await testInfo.attach(ATTACHMENT.floodMetrics, { body: JSON.stringify(figures), contentType: 'application/json' });
}

test('host -> remote: every flooded message reaches the remote in order and intact', async ({ host }, testInfo) => {
  const count = floodMessages();
  test.setTimeout(Math.max(30_000, count * 2));
  const channel = await host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 10_000 });
  const endpoint = await host.openEndpoint({ name: DEMO_CHANNEL });
  const figures = await floodToRemote(endpoint, channel.remoteAddr, count, MESSAGE_TIMEOUT_MS);
  await expectNoMessage(endpoint, 100, 'after the flood sink report');
  await endpoint.close();
  await record(figures, testInfo);
});

test('remote -> host: every message the remote floods arrives in order and intact', async ({ host }, testInfo) => {
  const count = floodMessages();
  test.setTimeout(Math.max(30_000, count * 2));
  const channel = await host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 10_000 });
  const endpoint = await host.openEndpoint({ name: DEMO_CHANNEL });
  const figures = await floodFromRemote(endpoint, channel.remoteAddr, count, MESSAGE_TIMEOUT_MS);
  await expectNoMessage(endpoint, 100, 'after the last flood message');
  await endpoint.close();
  await record(figures, testInfo);
});
