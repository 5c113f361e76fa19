import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Pipe, Queue, spawn } from '../../index.ts';
import { echo } from '../fixtures/actors.ts';
import { square } from '../fixtures/tasks.ts';
import { poolMaker, reap } from '../helpers.ts';

const pool = poolMaker({ size: 1 });

/** What `promise` rejects with (or a note that it settled otherwise within 10 s). */
async function refusal(promise: Promise<unknown>): Promise<unknown> {
  const late = new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting after 10 s').unref());
  return Promise.race([promise.then((value) => `resolved ${String(value)}`, (err: unknown) => err), late]);
}

describe('options that are not options', () => {
  it('are refused with InvalidArgumentError, not taken as none (a wait with no deadline) nor left to fail deep inside', async () => {
    const ref = reap(spawn(echo));
    const queue = new Queue<number>();
    const [a] = Pipe();
    const p = pool();
    const refused = [
      ref.call('hi', 'x' as never),
      ref.call('hi', { signal: 'x' as never }),
      ref.join('x' as never),
      ref.stop(5 as never),
      queue.get('x' as never),
      queue.put(1, 'x' as never),
      a.poll('x' as never),
      a.recvBytes(-1 as never),
      p.apply(square, [2], 'x' as never),
      p.map(square, [1, 2], 'x' as never),
      p.map(square, [1, 2], { onProgress: 5 as never }),
      // Before, the callback's TypeError came when the task settled, uncaught: the program crashed.
      p.applyAsync(square, [2], { callback: 5 as never }),
      p.applyAsync(square, [2], { errorCallback: 'x' as never }),
    ];
    for (const [i, promise] of refused.entries()) {
      const got = await refusal(promise);
      expect(got, `case ${i}: ${String(got)}`).toBeInstanceOf(InvalidArgumentError);
    }
    expect(() => p.imap(square, [1], 'x' as never)).toThrow(InvalidArgumentError);
    // null is no options, as undefined is.
    expect(await ref.call('hi', null as never)).toBe('hi');
    expect(ref.isAlive()).toBe(true);
    await a.close();
    await queue.close();
  });
});
