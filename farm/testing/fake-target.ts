/**
 * A test-only target kind ("fake"): a Target + Host kept in memory whose remote behaves as the
 * demo firmware of suites/README.md (echo, matrix_multiplyd, ST's multi-services demo,
 * crash / hang on request). It lets the farm's own tests drive the CLI, fixtures, suites and
 * reporters end to end without a simulator. It is NOT a shipped kind: tests load it through
 * the FARM_EXTRA_KINDS plugin variable.
 *
 * Knobs (params): delayMs (latency per remote reply), corrupt (suites whose replies get one
 * byte flipped), setupFails, helperPidFile (setup spawns a long-lived child process and writes
 * its pid there: lets tests check nothing is left behind), faults, silentConsole (the remote's
 * UART shows nothing: a dead serial console).
 */
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../../base/errors.js';
import { FLOOD_SINK_WORD, FLOOD_SOURCE_WORD, floodPayload, floodPayloadOk, floodSinkReport } from '../../openamp/remote/control-words.js';
import type { TargetContext, TargetKindDefinition } from '../../targets/kind.js';
import { OrderedStrategy, formatStrategyStep } from '../../targets/strategies/ordered-strategy.js';
import {
  SUITE_NAMES,
  type Channel,
  type FaultKind,
  type FirmwareImage,
  type Host,
  type HostEndpoint,
  type Message,
  type NameServiceEvent,
  type OpenEndpointOptions,
  type RemoteState,
  type SuiteName,
  type Target,
  type TargetCapabilities,
  type TargetLog,
} from '../../targets/target.js';
import { InfrastructureError, ProtocolError, RemoteCrashedError, TimeoutError } from '../../base/errors.js';

export interface FakeParams {
  readonly delayMs: number;
  readonly corrupt: readonly SuiteName[];
  readonly setupFails: boolean;
  readonly silentConsole: boolean;
  readonly helperPidFile: string | undefined;
  readonly faults: readonly FaultKind[];
}

function parseFakeParams(raw: unknown, path: string): FakeParams {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(path, 'must be a mapping');
  const record = raw as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!['delayMs', 'corrupt', 'setupFails', 'helperPidFile', 'faults', 'silentConsole'].includes(key)) {
      throw new ConfigError(`${path}.${key}`, 'unknown parameter of kind "fake"');
    }
  }
  const delayMs = record.delayMs ?? 0;
  if (typeof delayMs !== 'number' || delayMs < 0) throw new ConfigError(`${path}.delayMs`, 'must be a number >= 0');
  const corrupt = record.corrupt ?? [];
  if (!Array.isArray(corrupt) || !corrupt.every((suite) => (SUITE_NAMES as readonly unknown[]).includes(suite))) {
    throw new ConfigError(`${path}.corrupt`, 'must be a list of suite names');
  }
  const faults = record.faults ?? ['crash', 'hang'];
  if (!Array.isArray(faults) || !faults.every((fault) => fault === 'crash' || fault === 'hang')) {
    throw new ConfigError(`${path}.faults`, 'must be a list of "crash" / "hang"');
  }
  const helperPidFile = record.helperPidFile;
  if (helperPidFile !== undefined && typeof helperPidFile !== 'string') {
    throw new ConfigError(`${path}.helperPidFile`, 'must be a string');
  }
  return {
    delayMs,
    corrupt: corrupt as SuiteName[],
    setupFails: record.setupFails === true,
    silentConsole: record.silentConsole === true,
    helperPidFile,
    faults: faults as FaultKind[],
  };
}

const DEMO_CHANNEL = 'rpmsg-openamp-demo-channel';
const encoder = new TextEncoder();

function concat(prefix: string, data: Uint8Array): Uint8Array {
  const head = encoder.encode(prefix);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

function multiplyReply(request: Uint8Array): Uint8Array {
  const view = new DataView(request.buffer, request.byteOffset, request.byteLength);
  const size = 6;
  const reply = new DataView(new ArrayBuffer(148));
  reply.setUint32(0, size, true);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      let sum = 0;
      for (let k = 0; k < size; k++) {
        sum += view.getUint32(4 + 4 * (i * 6 + k), true) * view.getUint32(148 + 4 + 4 * (k * 6 + j), true);
      }
      reply.setUint32(4 + 4 * (i * 6 + j), sum, true);
    }
  }
  return new Uint8Array(reply.buffer);
}

interface Waiter {
  resolve(message: Message): void;
  reject(error: Error): void;
}

class FakeEndpoint implements HostEndpoint {
  readonly queue: Message[] = [];
  readonly waiters: Waiter[] = [];
  closed = false;

  constructor(
    private readonly host: FakeHost,
    readonly name: string,
    readonly localAddr: number,
    public remoteAddr: number,
    readonly generation: number,
    readonly announced: boolean,
  ) {}

  async send(data: Uint8Array, options?: { dest?: number }): Promise<void> {
    if (this.closed || this.generation !== this.host.generation) {
      throw new ProtocolError(`endpoint 0x${this.localAddr.toString(16)} was destroyed`);
    }
    this.host.deliverToRemote(this, options?.dest ?? this.remoteAddr, data);
  }

  receive(options?: { timeoutMs?: number }): Promise<Message> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.host.state === 'crashed') return Promise.reject(new RemoteCrashedError('remote crashed'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new TimeoutError(`no message for endpoint 0x${this.localAddr.toString(16)} within ${options?.timeoutMs ?? 5000} ms`));
      }, options?.timeoutMs ?? 5000);
      this.waiters.push(waiter);
    });
  }

  deliver(message: Message): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter.resolve(message);
    else this.queue.push(message);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.host.endpointClosed(this);
  }
}

class FakeHost implements Host {
  state: RemoteState = 'offline';
  generation = 0;
  private firmware: FirmwareImage | undefined;
  private announced: Channel[] = [];
  private readonly nsListeners = new Set<(event: NameServiceEvent) => void>();
  private readonly endpoints = new Map<number, FakeEndpoint>();
  /** Remote endpoints created for host-announced channels: remote addr -> host addr. */
  private readonly dynamic = new Map<number, number>();
  private nextRemoteAddr = 0x403;
  private clientSampleCount = 0;
  private floodSink: { count: number; next: number; bad: number } | undefined;
  private hung = false;
  private crashReason: string | undefined;
  private readonly crashWaiters: ((reason: string) => void)[] = [];
  private traceText = '';
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly params: FakeParams,
    private readonly log: () => TargetLog | undefined,
  ) {}

  private later(action: () => void): void {
    const generation = this.generation;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (generation === this.generation && this.state === 'running' && !this.hung) action();
    }, this.params.delayMs);
    this.timers.add(timer);
  }

  private remoteLog(line: string): void {
    this.traceText += `${line}\n`;
    if (!this.params.silentConsole) this.log()?.console('remote-uart', `${line}\n`);
  }

  async start(firmware: FirmwareImage): Promise<void> {
    if (this.state === 'running') throw new ProtocolError('remote already running');
    this.generation++;
    this.firmware = firmware;
    this.state = 'running';
    this.hung = false;
    this.crashReason = undefined;
    this.announced = [];
    this.clientSampleCount = 0;
    this.floodSink = undefined;
    this.traceText = '';
    this.remoteLog(`fake remote: booted ${firmware.label}`);
    const channels: Channel[] =
      firmware.label === 'multi-endpoint'
        ? [
            { name: 'rpmsg-client-sample', remoteAddr: 0x400 },
            { name: 'rpmsg-tty', remoteAddr: 0x401 },
            { name: 'rpmsg-raw', remoteAddr: 0x402 },
          ]
        : [{ name: DEMO_CHANNEL, remoteAddr: 0x400 }];
    this.later(() => {
      for (const channel of channels) {
        this.announced.push(channel);
        this.emit({ name: channel.name, addr: channel.remoteAddr, kind: 'create' });
      }
    });
  }

  async stop(): Promise<void> {
    this.generation++;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const endpoint of this.endpoints.values()) {
      endpoint.closed = true;
      for (const waiter of endpoint.waiters.splice(0)) waiter.reject(new ProtocolError('remote stopped'));
    }
    this.endpoints.clear();
    this.dynamic.clear();
    this.announced = [];
    this.state = 'offline';
  }

  private emit(event: NameServiceEvent): void {
    for (const listener of this.nsListeners) listener(event);
  }

  async waitForChannel(name: string, options?: { timeoutMs?: number }): Promise<Channel> {
    const deadline = Date.now() + (options?.timeoutMs ?? 5000);
    for (;;) {
      const channel = this.announced.find((candidate) => candidate.name === name);
      if (channel) return channel;
      if (Date.now() > deadline) throw new TimeoutError(`no announcement of "${name}"`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  channels(): readonly Channel[] {
    return [...this.announced];
  }

  onNameService(listener: (event: NameServiceEvent) => void): () => void {
    this.nsListeners.add(listener);
    return () => this.nsListeners.delete(listener);
  }

  async openEndpoint(options: OpenEndpointOptions): Promise<HostEndpoint> {
    let localAddr = options.localAddr;
    if (localAddr === undefined) {
      localAddr = 1024;
      while (this.endpoints.has(localAddr)) localAddr++;
    }
    if (this.endpoints.has(localAddr)) throw new ProtocolError(`address ${localAddr} in use`);
    const remoteAddr =
      options.remoteAddr ?? this.announced.find((channel) => channel.name === options.name)?.remoteAddr ?? 0xffffffff;
    const endpoint = new FakeEndpoint(this, options.name, localAddr, remoteAddr, this.generation, options.announce === true);
    this.endpoints.set(localAddr, endpoint);
    if (options.announce && options.name === 'rpmsg-tty' && this.firmware?.label === 'multi-endpoint') {
      const remote = this.nextRemoteAddr++;
      this.dynamic.set(remote, localAddr);
      this.later(() => this.reply(remote, localAddr, encoder.encode('bound')));
    }
    return endpoint;
  }

  endpointClosed(endpoint: FakeEndpoint): void {
    this.endpoints.delete(endpoint.localAddr);
    for (const [remote, local] of this.dynamic) if (local === endpoint.localAddr) this.dynamic.delete(remote);
  }

  private reply(src: number, dst: number, data: Uint8Array): void {
    const bytes = this.params.corrupt.includes((this.firmware?.label ?? '') as SuiteName) && data.length > 0 ? data.slice() : data;
    if (bytes !== data) bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    this.endpoints.get(dst)?.deliver({ src, dst, data: bytes });
  }

  deliverToRemote(from: FakeEndpoint, dest: number, data: Uint8Array): void {
    if (this.state === 'crashed') throw new RemoteCrashedError('remote crashed');
    const src = from.localAddr;
    const copy = data.slice();
    const label = this.firmware?.label;
    if (label === 'multi-endpoint') {
      const hex4 = (addr: number) => `0x${addr.toString(16).padStart(4, '0')}`;
      if (dest === 0x400) {
        this.later(() => {
          this.reply(0x400, src, copy);
          if (++this.clientSampleCount === 100) {
            this.announced = this.announced.filter((channel) => channel.name !== 'rpmsg-client-sample');
            this.emit({ name: 'rpmsg-client-sample', addr: 0x400, kind: 'destroy' });
          }
        });
      } else if (dest === 0x401 || this.dynamic.has(dest)) {
        this.later(() => this.reply(dest, src, concat(`TTY ${hex4(dest)}: `, copy)));
      } else if (dest === 0x402 || dest === 0x1) {
        this.later(() => this.reply(dest, src, concat(`from ept ${hex4(dest)}: `, copy)));
      }
      return;
    }
    if (dest !== 0x400) return;
    if (label === 'matrix-multiply') this.later(() => this.reply(0x400, src, multiplyReply(copy)));
    else if (this.takeFloodWord(src, copy)) return;
    else this.later(() => this.reply(0x400, src, copy));
  }

  /** The reference echo's flood words (openamp/remote/control-words.ts): sink and source. */
  private takeFloodWord(src: number, data: Uint8Array): boolean {
    const word = (at: number): number => new DataView(data.buffer, data.byteOffset + at, 4).getUint32(0, true);
    if (this.floodSink) {
      const sink = this.floodSink;
      if (!floodPayloadOk(data, sink.next)) sink.bad++;
      if (++sink.next === sink.count) {
        this.floodSink = undefined;
        this.later(() => this.reply(0x400, src, floodSinkReport(sink.next, sink.bad)));
      }
      return true;
    }
    if (data.length >= 8 && word(0) === FLOOD_SINK_WORD) {
      const count = word(4);
      if (count === 0) this.later(() => this.reply(0x400, src, floodSinkReport(0, 0)));
      else this.floodSink = { count, next: 0, bad: 0 };
      return true;
    }
    if (data.length >= 12 && word(0) === FLOOD_SOURCE_WORD) {
      const count = word(4);
      const size = Math.min(496, Math.max(4, word(8)));
      this.later(() => {
        for (let seq = 0; seq < count; seq++) this.reply(0x400, src, floodPayload(seq, size));
      });
      return true;
    }
    return false;
  }

  async injectFault(kind: FaultKind): Promise<void> {
    if (!this.params.faults.includes(kind)) throw new ProtocolError(`fault "${kind}" not supported`);
    if (kind === 'hang') {
      this.hung = true;
      this.remoteLog('fake remote: spinning forever');
      // A stall is noticed by the host's progress watchdog, not at once.
      const timer = setTimeout(() => this.crashed('no progress for 200 ms (remote hung)'), 200);
      this.timers.add(timer);
      return;
    }
    this.remoteLog('fake remote: HardFault at 0x00001234');
    this.crashed('remote core faulted (injected crash)');
  }

  private crashed(reason: string): void {
    this.state = 'crashed';
    this.crashReason = reason;
    for (const endpoint of this.endpoints.values()) {
      for (const waiter of endpoint.waiters.splice(0)) waiter.reject(new RemoteCrashedError(reason));
    }
    for (const waiter of this.crashWaiters.splice(0)) waiter(reason);
  }

  waitForCrash(options?: { timeoutMs?: number }): Promise<string> {
    if (this.crashReason !== undefined) return Promise.resolve(this.crashReason);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new TimeoutError('remote did not crash')), options?.timeoutMs ?? 5000);
      this.crashWaiters.push((reason) => {
        clearTimeout(timer);
        resolve(reason);
      });
    });
  }

  async trace(): Promise<string> {
    return this.traceText;
  }
}

class FakeTarget implements Target {
  readonly kind = 'fake';
  readonly capabilities: TargetCapabilities;
  readonly host: FakeHost;
  /** off -> powered (the fake power relay; a helper process standing for what a board holds). */
  readonly strategy: OrderedStrategy<'off' | 'powered'>;
  private log: TargetLog | undefined;
  private console = '';
  private helper: ChildProcess | undefined;

  constructor(
    readonly name: string,
    private readonly params: FakeParams,
    context: TargetContext,
  ) {
    this.log = context.log;
    this.capabilities = { suites: SUITE_NAMES, restartable: true, faults: params.faults };
    this.host = new FakeHost(params, () => ({
      info: (message) => this.log?.info(message),
      console: (stream, text) => {
        this.console += `[${stream}] ${text}`;
        this.log?.console(stream, text);
      },
    }));
    this.strategy = new OrderedStrategy({
      target: name,
      states: ['off', 'powered'],
      ready: 'powered',
      log: (step) => this.log?.info(formatStrategyStep(step)),
      steps: { powered: { detail: 'switch the fake power relay on', up: () => this.powerOn(), down: () => this.powerOff() } },
    });
  }

  async setup(log: TargetLog): Promise<void> {
    this.log = log;
    await this.strategy.transition(this.strategy.ready);
  }

  private async powerOn(): Promise<void> {
    if (this.params.setupFails) throw new InfrastructureError(`fake target ${this.name}: power relay did not answer`);
    if (this.params.helperPidFile) {
      this.helper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      writeFileSync(this.params.helperPidFile, `${this.helper.pid}\n`, { flag: 'a' });
    }
    this.log?.info(`fake target ${this.name} up`);
  }

  private async powerOff(): Promise<void> {
    try {
      await this.host.stop();
    } finally {
      this.helper?.kill('SIGKILL');
      this.helper = undefined;
    }
  }

  async firmwareFor(suite: SuiteName): Promise<FirmwareImage> {
    return { label: suite, sha256: createHash('sha256').update(`fake-${suite}`).digest('hex') };
  }

  takeConsole(): string {
    const text = this.console;
    this.console = '';
    return text;
  }

  properties(): Record<string, string> {
    return { 'fake.version': '1' };
  }

  async teardown(): Promise<void> {
    await this.strategy.transition('off');
  }
}

export const fakeKind: TargetKindDefinition<FakeParams> = {
  kind: 'fake',
  description: 'in-memory target for the farm\'s own tests (plugin, not shipped)',
  suites: SUITE_NAMES,
  parseParams: parseFakeParams,
  async prerequisites(params) {
    return [{ name: 'fake power relay', ok: !params.setupFails, detail: params.setupFails ? 'relay off (setupFails)' : 'ok' }];
  },
  create: (name, params, context) => new FakeTarget(name, params, context),
};

export const kinds = [fakeKind];
