/**
 * The other process of a UNIX-socket doorbell test or benchmark: answers every kick chunk
 * with one kick, then exits when the socket closes, after `rounds` answers, or at its deadline.
 *
 *   node unix-socket-echo-peer.js <serve|connect> <socket path> <rounds> <deadline ms>
 *
 * Prints "ready" once connected (or bound, when serving), "done <answers>" before exiting.
 */
import { UnixSocketDoorbell, UnixSocketDoorbellListener } from './unix-socket-doorbell.js';

const [role, path, roundsText, deadlineText] = process.argv.slice(2);
if ((role !== 'serve' && role !== 'connect') || !path) {
  console.error('usage: unix-socket-echo-peer <serve|connect> <path> <rounds> <deadline ms>');
  process.exit(2);
}
const rounds = Number(roundsText ?? '1');
const deadlineMs = Number(deadlineText ?? '10000');

// Never outlive a test that forgot us.
setTimeout(() => {
  console.error('echo peer: deadline reached');
  process.exit(3);
}, deadlineMs).unref();

let doorbell: UnixSocketDoorbell;
if (role === 'serve') {
  const listener = await UnixSocketDoorbellListener.bind(path);
  console.log('ready');
  doorbell = await listener.accept(deadlineMs);
} else {
  doorbell = await UnixSocketDoorbell.connect({ path, connectTimeoutMs: deadlineMs });
  console.log('ready');
}

let answered = 0;
const stop = doorbell.listen(() => {
  if (!doorbell.connected) return;
  answered++;
  doorbell.notify(0);
  if (answered >= rounds) {
    stop();
    // Let the last kick drain before closing.
    setImmediate(() => {
      console.log(`done ${answered}`);
      doorbell.close();
    });
  }
});
// The other side hung up first.
const watch = setInterval(() => {
  if (!doorbell.connected) {
    clearInterval(watch);
    console.log(`done ${answered}`);
    doorbell.close();
  }
}, 20);
watch.unref();
