/** Timers longer than Node can hold: setTimeout fires at once past 2^31-1 ms, so such a wait is a wait without end. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Keeps this process alive (a ref'd timer that never fires) until the
 * returned function is called: for a wait on something that keeps nothing
 * alive itself, such as a daemon actor.
 */
export function holdAlive(): () => void {
  const timer = setInterval(() => {}, MAX_TIMER_MS);
  return () => clearInterval(timer);
}

/** Whether a timeout of `ms` means "no deadline". */
export function isForever(ms: number): boolean {
  return ms === Infinity || ms > MAX_TIMER_MS;
}
