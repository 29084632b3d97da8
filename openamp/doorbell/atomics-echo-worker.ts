/**
 * Worker-thread side of an Atomics doorbell ping-pong, for the tests and the benchmark: answers
 * every ring from the host with one ring back, `rounds` times, then reports and exits.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AtomicsDoorbell } from './atomics-doorbell.js';
import { ATOMICS_ECHO_READY, type AtomicsEchoWorkerData, type AtomicsEchoWorkerResult } from './atomics-echo-worker-start.js';

const data = workerData as AtomicsEchoWorkerData;
const doorbell = AtomicsDoorbell.attach(data.buffer, 'remote', { spinMicros: data.spinMicros });
const port = parentPort;
if (!port) throw new Error('atomics-echo-worker must run in a worker thread');

function finish(result: AtomicsEchoWorkerResult): void {
  doorbell.close();
  port!.postMessage(result);
}

// A host that blocks in Atomics.wait before the worker has started can starve its start-up
// (seen with `node -e`), so the host waits for this message first.
port.postMessage(ATOMICS_ECHO_READY);

if (data.mode === 'waitSync') {
  let answered = 0;
  while (answered < data.rounds) {
    if (!doorbell.waitSync(data.timeoutMs)) break;
    answered++;
    doorbell.notify(answered);
  }
  finish(answered === data.rounds ? { ok: true, answered } : { ok: false, answered, error: `host silent for ${data.timeoutMs} ms` });
} else {
  let answered = 0;
  const giveUp = setTimeout(() => {
    stop();
    finish({ ok: false, answered, error: `host silent for ${data.timeoutMs} ms` });
  }, data.timeoutMs);
  const stop = doorbell.listen(() => {
    answered++;
    doorbell.notify(answered);
    giveUp.refresh();
    if (answered === data.rounds) {
      clearTimeout(giveUp);
      stop();
      finish({ ok: true, answered });
    }
  });
}
