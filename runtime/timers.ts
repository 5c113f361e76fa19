/** Timers longer than Node can hold: setTimeout fires at once past 2^31-1 ms, so such a wait is a wait without end. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Whether a timeout of `ms` means "no deadline". */
export function isForever(ms: number): boolean {
  return ms === Infinity || ms > MAX_TIMER_MS;
}
