/**
 * echo: open-amp's rpmsg-ping against the rpmsg-echo remote. 480 payloads of 17..496 bytes,
 * one at a time; every echo must come back byte-identical, in order, none lost or duplicated.
 */
import { test } from '../farm/fixtures.js';
import { ATTACHMENT, type EchoMetrics } from '../reports/attachments.js';
import { DEMO_CHANNEL, echoRound, percentile, range } from './support/echo.js';
import { expectNoMessage } from './support/verdict.js';

test('echoes 480 payloads of 17..496 bytes unchanged and in order', async ({ host }, testInfo) => {
  const started = performance.now();
  const channel = await host.waitForChannel(DEMO_CHANNEL, { timeoutMs: 10_000 });
  const announceMs = performance.now() - started;
  const endpoint = await host.openEndpoint({ name: DEMO_CHANNEL });
  const stats = await echoRound(endpoint, channel.remoteAddr, range(1, 480));
  await expectNoMessage(endpoint, 100, 'after the last echo');
  await endpoint.close();

  const metrics: EchoMetrics = {
    count: stats.count,
    bytes: stats.bytes,
    p50Us: percentile(stats.roundTripsUs, 50),
    p99Us: percentile(stats.roundTripsUs, 99),
    msgsPerSec: stats.count / (stats.roundTripsUs.reduce((sum, us) => sum + us, 0) / 1e6),
    announceMs,
  };
  testInfo.annotations.push({
    type: 'echo',
    description: `${metrics.count} messages, ${metrics.bytes} bytes, round trip p50 ${metrics.p50Us.toFixed(1)} µs, p99 ${metrics.p99Us.toFixed(1)} µs`,
  });
  await testInfo.attach(ATTACHMENT.echoMetrics, { body: JSON.stringify(metrics), contentType: 'application/json' });
});
