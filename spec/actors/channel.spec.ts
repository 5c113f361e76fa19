/** The queue channel's bookkeeping, driven directly: who holds what, and when a closed queue is done. */
import { describe, expect, it } from 'vitest';
import { Channel, type Batch } from '../../actors/queue/channel.ts';
import type { ServiceCall } from '../../index.ts';

/** A call whose answer the test can read. */
function call(from: string): ServiceCall & { answer?: unknown } {
  const c = {
    from,
    answered: false,
    answer: undefined as unknown,
    reply(value: unknown) {
      if (c.answered) return;
      c.answered = true;
      c.answer = value;
    },
    fail(error: unknown) {
      c.reply({ failed: error });
    },
  };
  return c;
}

/** `from` takes one item and confirms it: it now holds it. */
function take(ch: Channel, from: string): { value: unknown; seq: number } {
  const c = call(from);
  ch.get(from, c, 1, 0, undefined);
  const batch = c.answer as Batch;
  ch.settle(from, [batch.s, 1], undefined);
  return { value: batch.v[0], seq: batch.s };
}

describe('queue channel', () => {
  it("marks the oldest item any process holds done on a taskDone() from a process that holds none, and only that one", () => {
    const ch = new Channel(0, true);
    ch.put('p', call('p'), ['x', 'y'], undefined, undefined);
    expect(take(ch, 'A').value).toBe('x');
    expect(take(ch, 'B').value).toBe('y');
    const done = call('C');
    ch.taskDone('C', done); // C was told x is done (Python's task_done from any process)
    expect(done.answer).toBe(true);
    ch.down('A'); // x was counted done: it does not come back, which would count it twice
    expect(ch.size).toBe(0);
    ch.down('B'); // y was not: it comes back
    expect(ch.size).toBe(1);
    expect(take(ch, 'D').value).toBe('y');
  });

  it('marks an item on its way to a consumer done, when that consumer has not confirmed it yet', () => {
    const ch = new Channel(0, true);
    ch.put('p', call('p'), ['x'], undefined, undefined);
    const got = call('A');
    ch.get('A', got, 1, 0, undefined); // sent to A; A's confirmation comes after its report to C
    ch.taskDone('C', call('C'));
    ch.settle('A', [(got.answer as Batch).s, 1], undefined); // late, and a no-op
    ch.down('A');
    expect(ch.size).toBe(0);
    const join = call('C');
    ch.join('C', join, 0, undefined);
    expect(join.answer).toBe(true);
  });

  it('keeps a get on a closed, empty queue waiting while another process holds items that could come back', () => {
    const ch = new Channel(0, true);
    ch.put('p', call('p'), ['x', 'y'], undefined, undefined);
    take(ch, 'A');
    take(ch, 'B');
    ch.close();
    const waiting = call('B');
    ch.get('B', waiting, 1, undefined, undefined);
    expect(waiting.answered).toBe(false); // A still holds x
    ch.down('A');
    expect((waiting.answer as Batch).v).toEqual(['x']);
    // B holds both now, and nobody else holds anything: its next get is told the queue is closed.
    const last = call('B');
    ch.get('B', last, 1, undefined, undefined);
    expect(last.answer).toEqual({ e: 'closed' });
  });

  it('answers waiting gets with closed once the other holders are done', () => {
    const ch = new Channel(0, true);
    ch.put('p', call('p'), ['x'], undefined, undefined);
    take(ch, 'A');
    ch.close();
    const waiting = call('B');
    ch.get('B', waiting, 1, undefined, undefined);
    expect(waiting.answered).toBe(false);
    ch.taskDone('A', call('A'));
    expect(waiting.answer).toEqual({ e: 'closed' });
    expect(ch.finished).toBe(true);
  });
});
