import { setTimeout as delay } from "node:timers/promises";

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 2_000;

/**
 * Runs `follow` until it resolves or `signal` aborts. When it fails, tells `failed` and runs it
 * again after a pause: 100 ms, doubling up to 2 s, back to 100 ms once a run has made
 * progress (`follow` calls the `progressed` it is given). Where a run resumes from is
 * `follow`'s own business: it knows what it has taken.
 */
export async function followResumed(
  signal: AbortSignal,
  follow: (progressed: () => void) => Promise<void>,
  failed: (err: unknown, failures: number) => void,
): Promise<void> {
  let failures = 0;
  const progressed = (): void => {
    failures = 0;
  };
  while (!signal.aborted) {
    try {
      await follow(progressed);
      return;
    } catch (err) {
      if (signal.aborted) return;
      failures++;
      failed(err, failures);
      const pause = Math.min(FIRST_RETRY_MS * 2 ** (failures - 1), MAX_RETRY_MS);
      await delay(pause, undefined, { signal }).catch(() => undefined);
    }
  }
}
