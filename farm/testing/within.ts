/** A bound on any wait of a test: CI must never wait on a process or a promise forever. */

/** `promise`, or a failure naming `what` after `ms` (then `onTimeout`, e.g. killing what hung). */
export async function within<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          onTimeout?.();
          reject(new Error(`timed out after ${ms / 1000} s waiting for ${what}`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
