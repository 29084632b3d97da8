/**
 * The simulated SoC (kind sim) as a place: plain data from farm.yaml params, no I/O. The
 * sim strategy powers a SimSoc with it.
 */
export interface SimulatedSocResource {
  readonly name: string;
  /** DDR bytes (SharedArrayBuffer). */
  readonly memorySize: number;
  /** Entries per vring of the generated images. */
  readonly vringNum: number;
  /** RPMsg buffer size incl. header, of the generated images and the host. */
  readonly bufferSize: number;
  /** How long the remote spins on its rings before sleeping on the doorbell. */
  readonly remoteSpinMicros: number;
}
