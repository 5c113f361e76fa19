/**
 * Restart intensity and backoff: the timing rules of a supervisor, as pure
 * functions (no clock, no processes), so that they are tested on their own.
 * Each checks what it is given, and throws `InvalidArgumentError` naming it.
 */
import { invalidOption } from '../../runtime/index.ts';

const isTime = (value: unknown): value is number => typeof value === 'number' && !Number.isNaN(value);
const isCount = (value: unknown, min: number): value is number => Number.isInteger(value) && (value as number) >= min;

function checkIntensity(intensity: Intensity, what: string): void {
  if (typeof intensity !== 'object' || intensity === null) throw invalidOption(`${what} intensity`, 'an object like `{ maxRestarts, periodMs }`', intensity);
  if (!isCount(intensity.maxRestarts, 0)) throw invalidOption(`${what} intensity.maxRestarts`, 'an integer ≥ 0', intensity.maxRestarts);
  if (!isTime(intensity.periodMs) || intensity.periodMs <= 0) throw invalidOption(`${what} intensity.periodMs`, 'a number of milliseconds > 0 (or Infinity)', intensity.periodMs);
}

/** Checks a backoff as the supervisor's spec does (see resolveSpec); throws naming the field. */
export function checkBackoff(backoff: Backoff, what: string): void {
  if (typeof backoff !== 'object' || backoff === null) throw invalidOption(what, 'an object like `{ minMs, maxMs, resetAfterMs, jitter }`', backoff);
  for (const key of ['minMs', 'maxMs', 'resetAfterMs'] as const) {
    if (!isTime(backoff[key]) || backoff[key] < 0) throw invalidOption(`${what}.${key}`, 'a number of milliseconds ≥ 0', backoff[key]);
  }
  if (backoff.maxMs < backoff.minMs) throw invalidOption(`${what}.maxMs`, `at least ${what}.minMs (${backoff.minMs})`, backoff.maxMs);
  if (!isTime(backoff.jitter) || backoff.jitter < 0 || backoff.jitter > 1) throw invalidOption(`${what}.jitter`, 'a fraction from 0 to 1', backoff.jitter);
}

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
  if (!Array.isArray(history) || !history.every(isTime)) throw invalidOption('recordRestart() history', 'an array of the times (ms) of earlier restarts', history);
  if (!isTime(now)) throw invalidOption('recordRestart() now', 'a time in ms', now);
  checkIntensity(intensity, 'recordRestart()');
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

/** The delay before a restart when a spec gives no `backoff`: 10 ms, doubling with each restart in a run of failures up to 2 s, from 10 ms again once the child has run 5 s since its last restart; ±20 % jitter. */
export const DEFAULT_BACKOFF: Backoff = Object.freeze({ minMs: 10, maxMs: 2000, resetAfterMs: 5000, jitter: 0.2 });

/** The delay before restart number `attempt` (1, 2, 3… of a run of failures); `random` in [0, 1). */
export function backoffDelay(attempt: number, backoff: Backoff, random: () => number = Math.random): number {
  if (!isCount(attempt, 1)) throw invalidOption('backoffDelay() attempt', 'an integer ≥ 1 (the first restart of a run of failures is 1)', attempt);
  checkBackoff(backoff, 'backoffDelay() backoff');
  if (typeof random !== 'function') throw invalidOption('backoffDelay() random', 'a function giving numbers in [0, 1)', random);
  const base = Math.min(backoff.maxMs, backoff.minMs * 2 ** Math.max(0, attempt - 1));
  const spread = base * backoff.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(backoff.maxMs, Math.round(base + spread)));
}

/** The attempt number of a new failure, given the last attempt and when the child was last restarted. */
export function nextAttempt(lastAttempt: number, lastRestartAt: number | undefined, now: number, backoff: Backoff): number {
  if (!isCount(lastAttempt, 0)) throw invalidOption('nextAttempt() lastAttempt', 'an integer ≥ 0 (0 before any restart)', lastAttempt);
  if (lastRestartAt !== undefined && !isTime(lastRestartAt)) throw invalidOption('nextAttempt() lastRestartAt', 'a time in ms, or undefined before any restart', lastRestartAt);
  if (!isTime(now)) throw invalidOption('nextAttempt() now', 'a time in ms', now);
  checkBackoff(backoff, 'nextAttempt() backoff');
  if (lastRestartAt === undefined || now - lastRestartAt >= backoff.resetAfterMs) return 1;
  return lastAttempt + 1;
}
