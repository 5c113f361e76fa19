/**
 * Restart intensity and backoff: the timing rules of a supervisor, as pure
 * functions (no clock, no processes), so that they are tested on their own.
 */

/** OTP's rule: more than `maxRestarts` restarts within `periodMs` ends the supervisor. */
export interface Intensity {
  readonly maxRestarts: number;
  readonly periodMs: number;
}

/** OTP's defaults: intensity 1, period 5 seconds. */
export const DEFAULT_INTENSITY: Intensity = Object.freeze({ maxRestarts: 1, periodMs: 5000 });

/**
 * Adds a restart at `now` to `history` (the times of earlier restarts) and
 * drops those older than the period. `exceeded` is true when the restarts in
 * the window are more than `maxRestarts`: the supervisor must give up.
 */
export function recordRestart(history: readonly number[], now: number, intensity: Intensity): { history: number[]; exceeded: boolean } {
  const kept = history.filter((t) => now - t < intensity.periodMs);
  kept.push(now);
  return { history: kept, exceeded: kept.length > intensity.maxRestarts };
}

/** Exponential backoff between restarts of one child. */
export interface Backoff {
  /** Delay before the first restart of a run of failures. */
  readonly minMs: number;
  /** The delay never grows past this. */
  readonly maxMs: number;
  /** A child that has run this long since its last restart starts again from `minMs`. */
  readonly resetAfterMs: number;
  /** Spread, as a fraction of the delay: 0.2 gives ±20 %. */
  readonly jitter: number;
}

export const DEFAULT_BACKOFF: Backoff = Object.freeze({ minMs: 10, maxMs: 2000, resetAfterMs: 5000, jitter: 0.2 });

/** The delay before restart number `attempt` (1, 2, 3… of a run of failures); `random` in [0, 1). */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.max(0, attempt - 1));
  const spread = base * backoff.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(backoff.maxMs, Math.round(base + spread)));
}

/** The attempt number of a new failure, given the last attempt and when the child was last restarted. */
export function nextAttempt(lastAttempt: number, lastRestartAt: number | undefined, now: number, backoff: Backoff): number {
  if (lastRestartAt === undefined || now - lastRestartAt >= backoff.resetAfterMs) return 1;
  return lastAttempt + 1;
}
