/**
 * open-amp's Linux generic machine as a place (kind linux-process): the shared-memory file and
 * the kick socket, fixed by farm.yaml or unique per start (undefined). Plain data, no I/O.
 */
export interface LinuxGenericMachineResource {
  readonly name: string;
  /** The /dev/shm file both processes map; unique per start when undefined. */
  readonly shmPath: string | undefined;
  /** The UNIX socket the remote listens on for kicks; unique per start when undefined. */
  readonly socketPath: string | undefined;
}
