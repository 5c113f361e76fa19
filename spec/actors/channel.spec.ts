/** The queue channel's bookkeeping, driven directly: who holds what, and when a closed queue is done. */
import { describe, expect, it } from 'vitest';
import { Channel, seqAt, type Batch } from '../../actors/queue/channel.ts';
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
  it('keeps the count and the items agreeing when a process that holds nothing calls taskDone(), whichever way the holders end', () => {
    const ch = new Channel(0, true);
    ch.put('p', call('p'), ['x', 'y', 'z'], undefined, undefined);
    expect(take(ch, 'A').value).toBe('x');
    expect(take(ch, 'B').value).toBe('y');
    const unconfirmed = call('D');
    ch.get('D', unconfirmed, 1, 0, undefined); // z is on its way to D, not yet confirmed
    ch.taskDone('C', call('C')); // C was told some item is done (Python's task_done from anywhere)
    ch.taskDone('C', call('C'));
    expect(ch.unfinished).toBe(1);
    // A dies mid-task: x comes back, and is counted unfinished again rather than lost or counted twice.
    ch.down('A');
    expect([ch.size, ch.unfinished]).toEqual([1, 2]);
    // B returns normally: y was consumed (as in Python); the other credit was for it.
    ch.down('B', true);
    expect([ch.size, ch.unfinished]).toEqual([1, 2]);
    // D dies before confirming z: z comes back, with no credit left, still counted once.
    ch.down('D');
    expect([ch.size, ch.unfinished]).toEqual([2, 2]);
    for (const taker of ['E', 'F']) {
      take(ch, taker);
      const done = call(taker);
      ch.taskDone(taker, done);
      expect(done.answer).toBe(true);
    }
    const join = call('p');
    ch.join('p', join, 0, undefined);
    expect(join.answer).toBe(true);
  });

  it('treats what a consumer held when it returned normally as consumed, and what it held when it died as not done', () => {
    const ch = new Channel(0, true);
    ch.put('p', call('p'), ['sentinel', 'work'], undefined, undefined);
    take(ch, 'A');
    ch.down('A', true); // a worker that took its sentinel and returned: it does not come back
    expect(ch.size).toBe(1);
    take(ch, 'B');
    ch.down('B'); // killed mid-task: its item comes back
    expect(take(ch, 'C').value).toBe('work');
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

  it('hands items given back out again in the order they were put, whichever order they came back in', () => {
    const ch = new Channel(0, false);
    ch.put('p', call('p'), Array.from({ length: 30 }, (_, i) => i), undefined, undefined);
    const first = call('A');
    ch.get('A', first, 10, 0, undefined);
    const ahead = call('A');
    ch.get('A', ahead, 10, 0, undefined);
    const other = call('B');
    ch.get('B', other, 5, 0, undefined);
    expect([(first.answer as Batch).v, (ahead.answer as Batch).v, (other.answer as Batch).v]).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
      [20, 21, 22, 23, 24],
    ]);
    // A loop that breaks at 4: it confirms 0..4 and gives back the rest of its batch, then, once it
    // comes, the batch it had fetched ahead; B, which got 20..24, dies before confirming them first.
    const s = (first.answer as Batch).s;
    const t = (ahead.answer as Batch).s;
    ch.down('B');
    ch.settle('A', [s, 5], [5, 6, 7, 8, 9].map((i) => s + i));
    ch.settle('A', undefined, Array.from({ length: 10 }, (_, i) => t + i));
    const get = (max: number): Batch => {
      const c = call('C');
      ch.get('C', c, max, 0, undefined);
      return c.answer as Batch;
    };
    const taken = get(8);
    expect(taken.v).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    // C confirms 5..9 and gives 10..12 back in turn: they still come out before 13.
    ch.settle('C', [taken.s, 5], [5, 6, 7].map((i) => taken.s + i));
    const again: unknown[] = [];
    while (ch.size > 0) again.push(...get(8).v);
    expect(again).toEqual(Array.from({ length: 20 }, (_, i) => 10 + i));
  });

  it('hands items back out in one batch though their numbers skip, naming each', () => {
    const ch = new Channel(0, false);
    ch.put('p', call('p'), Array.from({ length: 10 }, (_, i) => i), undefined, undefined);
    // A and B take turns, one item at a time: A holds the even items, B the odd ones.
    for (let i = 0; i < 10; i++) ch.get(i % 2 === 0 ? 'A' : 'B', call('x'), 1, 0, undefined);
    ch.down('A');
    const c = call('C');
    ch.get('C', c, 100, 0, undefined);
    const batch = c.answer as Batch;
    expect(batch.v).toEqual([0, 2, 4, 6, 8]);
    // C confirms them by their own numbers; B dies after: its items come out next, in order.
    ch.settle('C', batch.v.flatMap((_, i) => [seqAt(batch, i), 1]), undefined);
    ch.down('B');
    const d = call('D');
    ch.get('D', d, 100, 0, undefined);
    expect((d.answer as Batch).v).toEqual([1, 3, 5, 7, 9]);
    expect(ch.size).toBe(0);
  });

  it('keeps a closed joinable queue while an item taken is not marked done', () => {
    const ch = new Channel(0, true);
    ch.put('p', call('p'), ['job'], undefined, undefined);
    take(ch, 'A');
    ch.down('A', true); // returned normally without taskDone(): consumed, not done
    ch.close();
    expect([ch.size, ch.unfinished, ch.finished]).toEqual([0, 1, false]);
    const join = call('p');
    ch.join('p', join, 0, undefined);
    expect(join.answer).toBe(false);
    ch.taskDone('p', call('p'));
    expect(ch.finished).toBe(true);
    // A queue that is not joinable counts nothing done: closed and drained, it is finished.
    const plain = new Channel(0, false);
    plain.put('p', call('p'), ['x'], undefined, undefined);
    take(plain, 'A');
    plain.down('A', true);
    plain.close();
    expect(plain.finished).toBe(true);
  });
});
