import { InfrastructureError } from '../../base/errors.js';
import { resolveImageReference } from '../../containers/farm-container.js';
import { ConsoleBuffer } from '../console-buffer.js';
import type { TargetContext } from '../kind.js';
import { OrderedStrategy, formatStrategyStep } from '../strategies/ordered-strategy.js';
import { resolveSshPaths, type SshParams } from '../ssh/ssh-params.js';
import type { FirmwareImage, Host, SuiteName, Target, TargetCapabilities, TargetLog } from '../target.js';
import { ContainerBoard } from './container-board.js';
import type { LinuxContainerParams } from './container-params.js';
import type { LinuxRemoteprocParams } from './linux-remoteproc-params.js';
import { LinuxRemoteprocTarget } from './linux-remoteproc-target.js';

export type ContainerBoardState = 'off' | 'container' | 'ready';

/** The container's output: what a board prints on its serial console. */
const CONSOLE_STREAM = 'console';

/**
 * A `linux-remoteproc` target whose board is a Linux system in a container image: off ->
 * container (the image started with its own command, SSH published on 127.0.0.1, host key
 * known) -> ready (the Linux remoteproc board of this kind, unchanged, over that SSH port:
 * identity, remoteproc, rpmsg helper). Down: the board's session and helper, then the container.
 * A container killed from outside ends the SSH session, which the board's host reports as any
 * board that stops answering.
 */
export class LinuxContainerTarget implements Target {
  readonly capabilities: TargetCapabilities;
  readonly strategy: OrderedStrategy<ContainerBoardState>;
  private board: ContainerBoard | undefined;
  private linux: LinuxRemoteprocTarget | undefined;
  /** The same kind with the farm.yaml ssh block: firmware and capabilities before the container runs. */
  private readonly template: LinuxRemoteprocTarget;
  private log: TargetLog | undefined;
  private readonly consoleBuffer = new ConsoleBuffer((stream, text) => this.log?.console(stream, text));

  constructor(
    readonly name: string,
    readonly kind: string,
    private readonly params: LinuxRemoteprocParams & { readonly container: LinuxContainerParams; readonly ssh: SshParams },
    context: TargetContext,
  ) {
    this.log = context.log;
    this.template = new LinuxRemoteprocTarget(name, kind, params, context);
    this.capabilities = this.template.capabilities;
    const container = params.container;
    this.strategy = new OrderedStrategy<ContainerBoardState>({
      target: name,
      states: ['off', 'container', 'ready'],
      ready: 'ready',
      log: (step) => this.log?.info(formatStrategyStep(step)),
      steps: {
        container: {
          detail: `start a container of ${container.image} (its own command), its SSH port ${container.sshPort} published on 127.0.0.1, host key ${params.ssh.hostKey ? 'pinned in farm.yaml' : `read from its ${container.hostKeyFile}`}`,
          up: async () => {
            const board = await ContainerBoard.start({
              target: name,
              params: container,
              ssh: resolveSshPaths(params.ssh, context.configDir),
              configDir: context.configDir,
              bootTimeoutMs: params.bootTimeoutMs,
              onConsole: (text) => this.consoleBuffer.write(CONSOLE_STREAM, text),
              log: (line) => this.log?.info(line),
            });
            this.board = board;
            // Killed from outside (docker kill, an engine restart): say so in the target's log,
            // next to the SSH error the running test gets.
            void board.container.exited.then((exit) => {
              if (this.board === board) this.log?.info(`${name}: the board's container exited (${exit.signal ?? `code ${exit.code}`}) while in use`);
            });
          },
          down: async () => {
            const board = this.board;
            this.board = undefined;
            await board?.stop();
          },
        },
        ready: {
          detail: 'the Linux remoteproc board over the published SSH port (its own steps follow)',
          up: async () => {
            const board = this.board as ContainerBoard;
            // sshd already greeted on the published port: the board's own connect retries (for a
            // board still booting) get a short budget, and a container that dies meanwhile ends
            // the setup at once.
            const linuxParams = { ...params, ssh: board.ssh, bootTimeoutMs: Math.min(params.bootTimeoutMs, CONNECT_BUDGET_MS) };
            const linux = new LinuxRemoteprocTarget(name, kind, linuxParams, { ...context, ...(this.log ? { log: this.log } : {}) });
            try {
              const died = board.container.exited.then((exit) => {
                throw new InfrastructureError(`${name}: the board's container exited (${exit.signal ?? `code ${exit.code}`}) while the farm was setting the board up`);
              });
              died.catch(() => {});
              await Promise.race([linux.setup(this.log ?? silentLog), died]);
            } catch (error) {
              await linux.teardown().catch(() => {});
              throw error;
            }
            this.linux = linux;
          },
          down: async () => {
            await this.linux?.teardown();
            this.linux = undefined;
          },
        },
      },
    });
  }

  get host(): Host {
    if (!this.linux) throw new InfrastructureError(`${this.name}: the target is not set up`);
    return this.linux.host;
  }

  async setup(log: TargetLog): Promise<void> {
    this.log = log;
    await this.strategy.transition(this.strategy.ready);
  }

  firmwareFor(suite: SuiteName): Promise<FirmwareImage> {
    return this.template.firmwareFor(suite);
  }

  /** The container's console, then the board's kernel log lines. */
  takeConsole(): string {
    return this.consoleBuffer.take() + (this.linux?.takeConsole() ?? '');
  }

  properties(): Record<string, string> {
    const container = this.params.container;
    return {
      ...(this.linux ?? this.template).properties(),
      'board.container.image': `${container.image} (${resolveImageReference(container.image).reference})`,
      ...(this.board ? { 'board.container.id': this.board.container.id.slice(0, 12), 'board.ssh': `${this.board.ssh.user}@127.0.0.1:${this.board.ssh.port} (container port ${container.sshPort})` } : {}),
    };
  }

  async teardown(): Promise<void> {
    await this.strategy.transition('off');
  }
}

/** How long the board's SSH login may keep retrying once the container's sshd has answered, ms. */
const CONNECT_BUDGET_MS = 15_000;

const silentLog: TargetLog = { info: () => {}, console: () => {} };
