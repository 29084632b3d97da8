/**
 * The M7 of the board double: the real MicroPython interpreter (the WebAssembly port, npm
 * @micropython/micropython-webassembly-pyscript) serving its REPL, byte by byte, from the
 * input ring, with the `openamp` module registered from JS.
 *
 * The worker loop is synchronous (the interpreter is): it sleeps in Atomics.wait for input,
 * feeds each byte to replProcessChar, and posts the interpreter's output to the main thread.
 * Things a board does while a script runs (Ctrl-C, RPMsg callbacks) happen in the tick hook:
 * the interpreter reads its millisecond tick (mp_js_ticks_ms) whenever it sleeps or a script
 * asks the time, and the hook, wrapped around that import,
 * - takes new serial input into the rx buffer and turns a Ctrl-C in it into
 *   mp_sched_keyboard_interrupt(), plus a jump of the tick by 2^30 ms so a running
 *   time.sleep_ms ends (this port's sleep loop does not look at pending exceptions; the
 *   tick period is 2^30, so ticks_ms()/ticks_diff() are unchanged), and
 * - runs the openamp callbacks when the chip has events pending.
 * A script that spins without sleeping or calling openamp (`while True: pass`) cannot be
 * interrupted: the WASM port has no VM hook. Only a reset (kill the worker) ends it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OPENAMP_PY } from './openamp-py.js';
import { ringTake, sharedLink, SLOT, type WorkerInit, type WorkerMessage } from './shared-link.js';

/** The interpreter object loadMicroPython returns, as far as we use it. */
interface MicroPython {
  readonly _module: { _mp_sched_keyboard_interrupt(): void };
  readonly FS: EmscriptenFs;
  readonly globals: { get(key: string): unknown; delete(key: string): void };
  registerJsModule(name: string, module: object): void;
  runPython(code: string): unknown;
  replInit(): void;
  replProcessChar(c: number): number;
}

interface EmscriptenFs {
  readdir(path: string): string[];
  stat(path: string): { mode: number };
  isDir(mode: number): boolean;
  readFile(path: string): Uint8Array;
  writeFile(path: string, data: Uint8Array): void;
  mkdir(path: string): void;
}

const init = workerData as WorkerInit;
const link = sharedLink(init.buffers);
const post = (message: WorkerMessage): void => parentPort?.postMessage(message);

/** A variable: the package ships no type declarations. */
const MICROPYTHON_PACKAGE: string = '@micropython/micropython-webassembly-pyscript';
const TICK_JUMP = 2 ** 30;
/** Longest synchronous call into the chip (an M4 start: QEMU relaunch and image load). */
const RPC_DEADLINE_MS = 60_000;
let tickOffset = 0;
let executing = false;
let inCallback = false;
let mp: MicroPython;
let poll: (() => unknown) | undefined;
/** Serial input received but not yet fed to the REPL (the rx buffer). */
let rx: number[] = [];
let rxAt = 0;
let out: number[] = [];

function flush(): void {
  if (out.length === 0) return;
  post({ type: 'output', bytes: Uint8Array.from(out) });
  out = [];
}

function output(byte: number): void {
  out.push(byte);
  if (byte === 0x04 || byte === 0x3e || byte === 0x0a || out.length >= 4096) flush();
}

function takeInput(): void {
  const bytes = ringTake(link);
  if (bytes.length === 0) return;
  if (rxAt > 0) {
    rx = rx.slice(rxAt);
    rxAt = 0;
  }
  for (const byte of bytes) rx.push(byte);
}

function tickHook(tick: number): number {
  // Output a script printed before it went to sleep (the "OK" of a long exec) reaches the line.
  if (out.length > 0) flush();
  if (executing && !inCallback) {
    takeInput();
    const interrupt = rx.indexOf(0x03, rxAt);
    if (interrupt >= 0) {
      rx.splice(interrupt, 1);
      mp._module._mp_sched_keyboard_interrupt();
      tickOffset += TICK_JUMP;
    } else if (Atomics.load(link.control, SLOT.eventsPending) !== 0 && poll) {
      inCallback = true;
      try {
        poll();
      } catch (error) {
        for (const byte of Buffer.from(`openamp callback failed: ${(error as Error).message}\r\n`, 'latin1')) output(byte);
      } finally {
        inCallback = false;
      }
    }
  }
  return (tick + tickOffset) >>> 0;
}

/** A synchronous call into the chip (main thread); the reply is a string. */
function rpc(op: string, ...args: unknown[]): string {
  flush();
  Atomics.store(link.control, SLOT.rpcState, 1);
  post({ type: 'rpc', op, args });
  const deadline = Date.now() + RPC_DEADLINE_MS;
  while (Atomics.load(link.control, SLOT.rpcState) === 1) {
    // The chip answers every call (or resets, which ends this worker); a lost answer must not
    // wedge the interpreter: EIO, as a bus error would.
    if (Date.now() > deadline) {
      Atomics.store(link.control, SLOT.rpcState, 0);
      return 'E5';
    }
    Atomics.wait(link.control, SLOT.rpcState, 1, 1000);
  }
  const length = Atomics.load(link.control, SLOT.rpcLength);
  const reply = Buffer.from(link.reply.subarray(0, length)).toString('utf8');
  Atomics.store(link.control, SLOT.rpcState, 0);
  return reply;
}

function readBoardFile(path: string): Uint8Array | undefined {
  try {
    return mp.FS.readFile(path);
  } catch {
    return undefined;
  }
}

/** The JS primitives under the Python openamp API: each returns a status string, never throws. */
const primitives = {
  poll: (): string => rpc('poll'),
  create: (name: string, src: number, dest: number): string => rpc('create', String(name), Number(src), Number(dest)),
  send: (id: number, hex: string, src: number, dest: number): string => rpc('send', Number(id), String(hex), Number(src), Number(dest)),
  ready: (id: number): string => rpc('ready', Number(id)),
  deinit: (id: number): string => rpc('deinit', Number(id)),
  rproc_file: (path: string): string => {
    const data = readBoardFile(String(path));
    if (!data) return 'E2';
    return rpc('rproc_file', String(path), Buffer.from(data).toString('base64'));
  },
  rproc_entry: (entry: number): string => rpc('rproc_entry', Number(entry)),
  rproc_start: (id: number): string => rpc('rproc_start', Number(id)),
  rproc_stop: (id: number): string => {
    dumpFiles();
    return rpc('rproc_stop', Number(id));
  },
};

const SYSTEM_DIRS = new Set(['/dev', '/proc', '/tmp']);

function walk(dir: string, files: { path: string; data: Uint8Array }[]): void {
  for (const name of mp.FS.readdir(dir)) {
    if (name === '.' || name === '..') continue;
    const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
    if (SYSTEM_DIRS.has(path)) continue;
    const stat = mp.FS.stat(path);
    if (mp.FS.isDir(stat.mode)) walk(path, files);
    else files.push({ path, data: mp.FS.readFile(path) });
  }
}

/** Sends the board's filesystem to the main thread, which keeps it across resets (flash). */
function dumpFiles(): void {
  const files: { path: string; data: Uint8Array }[] = [];
  walk('/', files);
  post({ type: 'files', files });
}

function restoreFiles(files: WorkerInit['files']): void {
  for (const file of files) {
    const parts = file.path.split('/').filter((part) => part !== '');
    let dir = '';
    for (const part of parts.slice(0, -1)) {
      dir += `/${part}`;
      try {
        mp.FS.mkdir(dir);
      } catch {
        // exists
      }
    }
    mp.FS.writeFile(file.path, file.data);
  }
}

async function boot(files: WorkerInit['files'], rawMode: boolean, preamble: string): Promise<void> {
  const { loadMicroPython } = (await import(MICROPYTHON_PACKAGE)) as {
    loadMicroPython(options: object): Promise<MicroPython>;
  };
  let quiet = rawMode;
  mp = await loadMicroPython({
    linebuffer: false,
    stdout: (bytes: Uint8Array) => {
      if (!quiet) for (const byte of bytes) output(byte);
    },
  });
  restoreFiles(files);
  mp.runPython(OPENAMP_PY);
  const make = mp.globals.get('_openamp_module') as (js: object, module: object) => () => unknown;
  mp.globals.delete('_openamp_module');
  // Python fills in the module's attributes (its own classes and functions); `import openamp`
  // then hands Python back the very Python objects.
  const module: Record<string, unknown> = {};
  poll = make(primitives, module);
  mp.registerJsModule('openamp', module);
  for (const byte of Buffer.from(preamble, 'latin1')) output(byte);
  mp.replInit();
  if (rawMode) {
    // A soft reset in raw mode comes back in raw mode (the stm32 port's main loop).
    mp.replProcessChar(0x01);
    quiet = false;
    for (const byte of Buffer.from('raw REPL; CTRL-B to exit\r\n>', 'latin1')) output(byte);
  }
  flush();
}

/** Wraps the interpreter's tick import: the only place it calls out while a script runs. */
function installTickHook(): void {
  // The lib has no WebAssembly types without DOM; only instantiate is touched.
  const wasm = (globalThis as unknown as { WebAssembly: { instantiate: (...args: unknown[]) => Promise<unknown> } }).WebAssembly;
  const instantiate = wasm.instantiate.bind(wasm);
  wasm.instantiate = (source: unknown, imports?: unknown) => {
    for (const space of Object.values((imports ?? {}) as Record<string, Record<string, unknown>>)) {
      const ticks = space?.mp_js_ticks_ms;
      if (typeof ticks === 'function') space.mp_js_ticks_ms = () => tickHook((ticks as () => number)());
    }
    return instantiate(source, imports);
  };
}

/**
 * Raw-paste (Ctrl-E 'A' Ctrl-A at the raw prompt). This port's event-driven REPL enters it
 * and then reads the upload with a blocking stdin read, which never returns in WASM (the
 * interpreter hangs). The double answers as a MicroPython that does not support raw-paste,
 * "R\x00", which mpremote and the farm's driver handle by falling back to the plain raw REPL.
 * Returns true when the request was consumed.
 */
function rawPasteRequest(): boolean {
  const deadline = Date.now() + 500;
  while (rx.length - rxAt < 2 && Date.now() < deadline) {
    takeInput();
    if (rx.length - rxAt < 2) Atomics.wait(link.control, SLOT.inWrite, Atomics.load(link.control, SLOT.inWrite), 10);
  }
  if (rx[rxAt] !== 0x41 || rx[rxAt + 1] !== 0x01) return false;
  rxAt += 2;
  for (const byte of [0x52, 0x00]) output(byte);
  flush();
  return true;
}

async function main(): Promise<void> {
  installTickHook();
  await boot(init.files, init.rawMode, init.preamble);
  post({ type: 'ready' });
  let rawMode = init.rawMode;
  for (;;) {
    if (rxAt >= rx.length) {
      rx = [];
      rxAt = 0;
      flush();
      const write = Atomics.load(link.control, SLOT.inWrite);
      if (write === Atomics.load(link.control, SLOT.inRead)) Atomics.wait(link.control, SLOT.inWrite, write, 1000);
      takeInput();
      continue;
    }
    const byte = rx[rxAt++] as number;
    if (rawMode && byte === 0x05 && rawPasteRequest()) continue;
    executing = true;
    let result: number;
    try {
      result = mp.replProcessChar(byte);
    } finally {
      executing = false;
    }
    if (byte === 0x01) rawMode = true;
    else if (byte === 0x02) rawMode = false;
    if (result !== 0) {
      // Ctrl-D at an empty prompt: soft reset. The port leaves the reboot to its main loop.
      flush();
      const files: { path: string; data: Uint8Array }[] = [];
      walk('/', files);
      post({ type: 'files', files });
      await boot(files, rawMode, 'MPY: soft reboot\r\n');
    }
  }
}

main().catch((error: unknown) => {
  post({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
});
