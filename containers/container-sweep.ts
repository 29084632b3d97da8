import * as os from 'node:os';
import type Docker from 'dockerode';
import { CONTAINER_LABELS } from './labels.js';
import { processExists } from '../base/process/process-alive.js';


/**
 * Removes the farm's containers whose owning process (label org.openamp-farm.pid, on this
 * host) is gone: what a SIGKILLed farm left behind. Returns the names it removed. Containers of
 * live runs and of other hosts are left alone.
 */
export async function sweepStaleContainers(docker: Docker): Promise<string[]> {
  const containers = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [CONTAINER_LABELS.pid] }) });
  const removed: string[] = [];
  for (const info of containers) {
    const pid = Number(info.Labels[CONTAINER_LABELS.pid]);
    if (info.Labels[CONTAINER_LABELS.host] !== os.hostname() || !Number.isInteger(pid) || pid <= 0 || processExists(pid)) continue;
    try {
      await docker.getContainer(info.Id).remove({ force: true });
      removed.push((info.Names[0] ?? info.Id).replace(/^\//, ''));
    } catch (error) {
      // 404: gone meanwhile (AutoRemove); 409: removal already in progress
      const status = (error as { statusCode?: number }).statusCode;
      if (status !== 404 && status !== 409) throw error;
    }
  }
  return removed;
}
