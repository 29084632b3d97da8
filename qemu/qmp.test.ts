/**
 * QmpClient against a real QEMU (riscv64 virt, started paused with -S and no guest code): the
 * greeting and capabilities negotiation, commands, QEMU's error replies, events, a QEMU that
 * stops answering or dies, and cleanup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { InfrastructureError } from '../base/errors.js';
import { ManagedProcess } from '../base/process/managed-process.js';
import { QmpClient, QmpError, type QmpEvent } from './qmp.js';
import { runFileStem } from '../base/process/run-files.js';

interface PausedQemu {
  readonly process: ManagedProcess;
  readonly qmpPath: string;
  close(): Promise<void>;
}

function startPausedQemu(): PausedQemu {
  const qmpPath = `/tmp/${runFileStem('qmp-test')}.qmp`;
  const child = ManagedProcess.spawn({
    name: 'qmp test qemu',
    file: 'qemu-system-riscv64',
    debianPackage: 'qemu-system-misc',
    args: ['-M', 'virt', '-bios', 'none', '-m', '16M', '-nographic', '-nodefaults', '-no-user-config', '-S', '-qmp', `unix:${qmpPath},server=on,wait=off`],
  });
  return {
    process: child,
    qmpPath,
    close: async () => {
      await child.stop({ graceMs: 500 });
      fs.rmSync(qmpPath, { force: true });
    },
  };
}

/** A plain close or ECONNRESET (QEMU went with data of ours unread), depending on timing. */
const QEMU_WENT_AWAY = /QMP (socket \S+ failed: read ECONNRESET|connection \S+ closed \(QEMU exited\?\))/;

function rejectsWith(promise: Promise<unknown>, qmpClass: string, message: RegExp): Promise<void> {
  return assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof QmpError, `a QmpError, got ${String(error)}`);
    assert.ok(error instanceof InfrastructureError, 'QMP failures are infrastructure failures');
    assert.equal(error.failureClass, 'infrastructure');
    assert.equal(error.qmpClass, qmpClass);
    assert.match(error.message, message);
    return true;
  });
}

test('QMP: greeting, capabilities, commands, an error reply and events on a paused QEMU', { timeout: 30_000 }, async () => {
  const qemu = startPausedQemu();
  try {
    // The socket appears shortly after the spawn: connect retries until it does.
    const qmp = await QmpClient.connect(qemu.qmpPath, { timeoutMs: 10_000 });
    try {
      assert.match(qmp.version, /^\d+\.\d+\.\d+$/, 'version from the greeting');
      assert.equal(qmp.closed, false);
      // Only works once capabilities were negotiated (QEMU answers CommandNotFound before).
      const status = await qmp.execute<{ status: string; running: boolean }>('query-status');
      assert.deepEqual({ status: status.status, running: status.running }, { status: 'prelaunch', running: false });

      await rejectsWith(qmp.execute('no-such-command'), 'CommandNotFound', /QMP command no-such-command failed: .*no-such-command/);
      await rejectsWith(qmp.execute('query-status', { bogus: 1 }), 'GenericError', /QMP command query-status failed: .*bogus/);
      // The connection survives an error reply.
      assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'prelaunch');

      const seen: QmpEvent[] = [];
      const unsubscribe = qmp.onEvent((event) => seen.push(event));
      const resumed = qmp.waitForEvent('RESUME', { timeoutMs: 5000 });
      await qmp.execute('cont');
      const event = await resumed;
      assert.equal(event.event, 'RESUME');
      assert.ok(event.timestamp.seconds > 0, 'QEMU stamps events');
      const stopped = qmp.waitForEvent('STOP', { timeoutMs: 5000 });
      await qmp.execute('stop');
      await stopped;
      unsubscribe();
      assert.deepEqual(
        seen.map((e) => e.event),
        ['RESUME', 'STOP'],
      );
      assert.equal((await qmp.execute<{ status: string }>('query-status')).status, 'paused');
      await rejectsWith(qmp.waitForEvent('SHUTDOWN', { timeoutMs: 50 }), 'Timeout', /no QMP event SHUTDOWN within 50 ms/);

      // quit: QEMU closes the connection; what follows fails as Disconnected.
      await qmp.execute('quit');
      await qmp.whenClosed();
      assert.equal(qmp.closed, true);
      await rejectsWith(qmp.execute('query-status'), 'Disconnected', QEMU_WENT_AWAY);
      const exit = await qemu.process.exited;
      assert.equal(exit.code, 0);
    } finally {
      qmp.close();
    }
  } finally {
    await qemu.close();
  }
  assert.equal(qemu.process.running, false, 'no QEMU process left');
  assert.equal(fs.existsSync(qemu.qmpPath), false, 'no socket file left');
});

test('QMP: a QEMU that stops answering times the command out; one that dies fails what is pending as Disconnected', { timeout: 30_000 }, async () => {
  const qemu = startPausedQemu();
  try {
    const qmp = await QmpClient.connect(qemu.qmpPath, { timeoutMs: 10_000, commandTimeoutMs: 200 });
    try {
      // A stopped (SIGSTOP) process keeps its socket open but reads nothing.
      qemu.process.signal('SIGSTOP');
      await rejectsWith(qmp.execute('query-status'), 'Timeout', /query-status got no reply within 200 ms/);
      const pending = qmp.execute('query-status', undefined, { timeoutMs: 10_000 });
      const shutdown = qmp.waitForEvent('SHUTDOWN', { timeoutMs: 10_000 });
      const killedAt = Date.now();
      qemu.process.signal('SIGKILL');
      await rejectsWith(pending, 'Disconnected', QEMU_WENT_AWAY);
      // The event can no longer come: the wait ends with the connection, not with its timeout.
      await rejectsWith(shutdown, 'Disconnected', QEMU_WENT_AWAY);
      assert.ok(Date.now() - killedAt < 5000, `waitForEvent rejected ${Date.now() - killedAt} ms after the kill`);
      await rejectsWith(qmp.waitForEvent('SHUTDOWN', { timeoutMs: 10_000 }), 'Disconnected', QEMU_WENT_AWAY);
      await qmp.whenClosed();
      const exit = await qemu.process.exited;
      assert.equal(exit.signal, 'SIGKILL');
    } finally {
      qmp.close();
    }
  } finally {
    await qemu.close();
  }
  assert.equal(qemu.process.running, false);
});

test('QMP: no socket within the connect deadline is a Disconnected QmpError; close fails pending commands', { timeout: 30_000 }, async () => {
  const missing = `/tmp/${runFileStem('qmp-test')}.qmp`;
  const started = Date.now();
  await rejectsWith(QmpClient.connect(missing, { timeoutMs: 150 }), 'Disconnected', /cannot connect to QMP at .*ENOENT/);
  assert.ok(Date.now() - started >= 140, 'kept retrying until the deadline');

  const qemu = startPausedQemu();
  try {
    const qmp = await QmpClient.connect(qemu.qmpPath, { timeoutMs: 10_000 });
    qemu.process.signal('SIGSTOP');
    const pending = qmp.execute('query-status');
    const event = qmp.waitForEvent('RESUME', { timeoutMs: 10_000 });
    qmp.close();
    await rejectsWith(pending, 'Disconnected', /was closed by the farm/);
    await rejectsWith(event, 'Disconnected', /was closed by the farm/);
    await rejectsWith(qmp.execute('query-status'), 'Disconnected', /was closed by the farm/);
    qemu.process.signal('SIGCONT');
  } finally {
    await qemu.close();
  }
  assert.equal(qemu.process.running, false);
});

test('QMP: an aborted connect stops retrying at once and closes a connection it had opened', { timeout: 30_000 }, async () => {
  const missing = `/tmp/${runFileStem('qmp-test')}.qmp`;
  const gaveUp = new AbortController();
  const started = Date.now();
  const connecting = QmpClient.connect(missing, { timeoutMs: 10_000, signal: gaveUp.signal });
  setTimeout(() => gaveUp.abort(new Error('QEMU exited while starting')), 50);
  await rejectsWith(connecting, 'Aborted', /connecting to QMP at .* was aborted: QEMU exited while starting/);
  assert.ok(Date.now() - started < 2000, `stopped ${Date.now() - started} ms after the start, not at the 10 s deadline`);
  await rejectsWith(QmpClient.connect(missing, { timeoutMs: 10_000, signal: gaveUp.signal }), 'Aborted', /was aborted/);

  // A peer that accepts but never greets: the abort closes our end instead of leaving it open.
  const silentPath = `/tmp/${runFileStem('qmp-test')}.qmp`;
  const peerClosed: Promise<void>[] = [];
  const server = net.createServer((peer) => peerClosed.push(new Promise((resolve) => peer.on('close', () => resolve()))));
  await new Promise<void>((resolve) => server.listen(silentPath, resolve));
  try {
    const abort = new AbortController();
    const silent = QmpClient.connect(silentPath, { timeoutMs: 10_000, signal: abort.signal });
    for (let i = 0; i < 200 && peerClosed.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(peerClosed.length, 1, 'the client connected');
    abort.abort(new Error('gave up'));
    await rejectsWith(silent, 'Aborted', /was aborted: gave up/);
    await peerClosed[0];
  } finally {
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(silentPath, { force: true });
  }
});
