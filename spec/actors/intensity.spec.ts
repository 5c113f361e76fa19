import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, DEFAULT_INTENSITY, InvalidArgumentError, Supervisor, autoChunksize, backoffDelay, describeReason, nextAttempt, recordRestart, stopTree } from '../../index.ts';

describe('restart intensity', () => {
  it('refuses bad input to these helpers with InvalidArgumentError naming it, as the rest of the API does', async () => {
    // Before, a raw TypeError from inside, or NaN / -Infinity returned as if it were an answer.
    expect(() => recordRestart(undefined as never, 0, DEFAULT_INTENSITY)).toThrow(/recordRestart\(\) history/);
    expect(() => recordRestart([], 0, { maxRestarts: -1, periodMs: 10 })).toThrow(/intensity.maxRestarts/);
    expect(() => backoffDelay(undefined as never, DEFAULT_BACKOFF)).toThrow(/backoffDelay\(\) attempt/);
    expect(() => backoffDelay(1, { ...DEFAULT_BACKOFF, minMs: 100, maxMs: 10 })).toThrow('Expected `backoffDelay() backoff.maxMs` to be at least backoffDelay() backoff.minMs (100), got `10` (number).');
    expect(() => nextAttempt(undefined as never, undefined, 0, DEFAULT_BACKOFF)).toThrow(InvalidArgumentError);
    expect(() => nextAttempt(1, undefined, Number.NaN, DEFAULT_BACKOFF)).toThrow(/nextAttempt\(\) now/);
    expect(() => autoChunksize(-1, 0)).toThrow(/autoChunksize\(\) items/);
    expect(() => autoChunksize(10, Number.NaN)).toThrow(/autoChunksize\(\) workers/);
    expect(() => describeReason(5 as never)).toThrow(/describeReason\(\) reason/);
    expect(() => describeReason(undefined as never)).toThrow(InvalidArgumentError);
    expect(describeReason({ exitCode: 3 } as never)).toBe('exit code 3');
    await expect(stopTree(-1)).rejects.toThrow(/stopTree\(\) budget/);
    expect(() => Supervisor.start({ backoff: { minMs: 100, maxMs: 10 } })).toThrow('Expected `backoff.maxMs` to be at least backoff.minMs (100), got `10` (number).');
  });

  it("has OTP's defaults: 1 restart in 5 seconds", () => {
    expect(DEFAULT_INTENSITY).toEqual({ maxRestarts: 1, periodMs: 5000 });
  });

  it('allows maxRestarts restarts within the period and is exceeded by one more', () => {
    const opts = { maxRestarts: 2, periodMs: 1000 };
    let h = recordRestart([], 0, opts);
    expect(h.exceeded).toBe(false);
    h = recordRestart(h.history, 100, opts);
    expect(h.exceeded).toBe(false);
    h = recordRestart(h.history, 200, opts);
    expect(h).toEqual({ history: [0, 100, 200], exceeded: true });
  });

  it('forgets restarts older than the period (a sliding window)', () => {
    const opts = { maxRestarts: 1, periodMs: 1000 };
    const first = recordRestart([], 0, opts);
    expect(recordRestart(first.history, 999, opts).exceeded).toBe(true);
    expect(recordRestart(first.history, 1000, opts)).toEqual({ history: [1000], exceeded: false });
  });

  it('with maxRestarts 0, the first restart is one too many', () => {
    expect(recordRestart([], 5, { maxRestarts: 0, periodMs: 1000 }).exceeded).toBe(true);
  });
});

describe('backoff', () => {
  const backoff = { minMs: 10, maxMs: 100, resetAfterMs: 1000, jitter: 0 };

  it('doubles from minMs to maxMs', () => {
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, backoff))).toEqual([10, 20, 40, 80, 100, 100]);
  });

  it('spreads the delay by the jitter fraction, within maxMs', () => {
    const j = { ...backoff, jitter: 0.5 };
    expect(backoffDelay(2, j, () => 0)).toBe(10);
    expect(backoffDelay(2, j, () => 0.5)).toBe(20);
    expect(backoffDelay(2, j, () => 0.999999)).toBe(30);
    expect(backoffDelay(10, j, () => 0.999999)).toBe(100);
  });

  it('starts over after a child ran resetAfterMs without a restart', () => {
    expect(nextAttempt(0, undefined, 0, backoff)).toBe(1);
    expect(nextAttempt(3, 500, 900, backoff)).toBe(4);
    expect(nextAttempt(3, 500, 1500, backoff)).toBe(1);
  });
});
