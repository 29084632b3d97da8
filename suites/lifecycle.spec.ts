/**
 * lifecycle: remoteproc start / stop / restart, and faults. The host fixture has already
 * loaded and started the suite's firmware when a test begins, and stops it afterwards.
 */
import { test } from '../farm/fixtures.js';
import { AssertionFailure } from '../base/errors.js';
import { DEMO_CHANNEL, echoRound, range } from './support/echo.js';
import { check } from './support/verdict.js';

const SHORT_ECHO = () => range(1, 32);
const CHANNEL_TIMEOUT = { timeoutMs: 10_000 };

test('start, announce, echo, stop, start again, echo again; stale endpoints are not reused', async ({ host, firmware }) => {
  check(host.state === 'running', `remote is ${host.state} after start, expected running`);
  const first = await host.waitForChannel(DEMO_CHANNEL, CHANNEL_TIMEOUT);
  const oldEndpoint = await host.openEndpoint({ name: DEMO_CHANNEL });
  await echoRound(oldEndpoint, first.remoteAddr, SHORT_ECHO());

  await host.stop();
  // Read through a function: TypeScript would keep the narrowing from the first check.
  const state = (): string => host.state;
  check(state() === 'offline', `remote is ${state()} after stop, expected offline`);
  check(host.channels().length === 0, `channels still listed after stop: ${host.channels().map((c) => c.name).join(', ')}`);

  await host.start(firmware);
  check(state() === 'running', `remote is ${state()} after restart, expected running`);
  const second = await host.waitForChannel(DEMO_CHANNEL, CHANNEL_TIMEOUT);
  const announced = host.channels().filter((channel) => channel.name === DEMO_CHANNEL);
  check(announced.length === 1, `${announced.length} "${DEMO_CHANNEL}" channels after restart, expected 1 (stale one kept?)`);

  const staleSent = await oldEndpoint.send(new Uint8Array(17)).then(
    () => true,
    () => false,
  );
  check(!staleSent, 'an endpoint from before the restart still sends: stale endpoint reused');

  const newEndpoint = await host.openEndpoint({ name: DEMO_CHANNEL });
  await echoRound(newEndpoint, second.remoteAddr, SHORT_ECHO());
  await newEndpoint.close();
});

test('a crashed remote is detected and reported with its trace', async ({ host, capabilities }, testInfo) => {
  test.skip(!capabilities.faults.includes('crash'), 'target cannot inject a crash (capabilities.faults)');
  await host.waitForChannel(DEMO_CHANNEL, CHANNEL_TIMEOUT);
  await host.injectFault('crash');
  const reason = await host.waitForCrash({ timeoutMs: 10_000 });
  check(host.state === 'crashed', `remote is ${host.state} after a detected crash, expected crashed`);
  testInfo.annotations.push({ type: 'remote-crash', description: reason });
  await testInfo.attach('crash-trace', { body: await host.trace(), contentType: 'text/plain' });
});

test('after a crash the next test starts from a clean, restarted remote', async ({ host }) => {
  // Runs after the crash test in the same worker: the fixture stopped the crashed remote and
  // started it afresh.
  check(host.state === 'running', `remote is ${host.state} at test start, expected running`);
  const channel = await host.waitForChannel(DEMO_CHANNEL, CHANNEL_TIMEOUT);
  const endpoint = await host.openEndpoint({ name: DEMO_CHANNEL });
  await echoRound(endpoint, channel.remoteAddr, SHORT_ECHO());
  await endpoint.close();
});

test('a hung remote is detected as a stall', async ({ host, capabilities }, testInfo) => {
  test.skip(!capabilities.faults.includes('hang'), 'target cannot make the remote hang (capabilities.faults)');
  const channel = await host.waitForChannel(DEMO_CHANNEL, CHANNEL_TIMEOUT);
  const endpoint = await host.openEndpoint({ name: DEMO_CHANNEL });
  await host.injectFault('hang');
  const reason = await host.waitForCrash({ timeoutMs: 20_000 });
  testInfo.annotations.push({ type: 'remote-crash', description: reason });
  const answered = await endpoint
    .send(new Uint8Array(17))
    .then(() => endpoint.receive({ timeoutMs: 500 }))
    .then(
      () => true,
      () => false,
    );
  if (answered) throw new AssertionFailure(`remote reported as stalled (${reason}) but still answers on ${channel.name}`);
});
