import { describe, expect, it } from 'vitest';
import {
  AbortError,
  ClosedError,
  InvalidArgumentError,
  JoinableQueue,
  Queue,
  QueueEmptyError,
  QueueFullError,
  SerializationError,
  SimpleQueue,
  TaskDoneError,
  current,
  node,
  spawn,
  ActorExitedError,
  EOFError,
  type Connection,
  type Lock,
} from '../../index.ts';
import { bigProducer, blockedGetter, consumer, fastThenHang, makesThenReturns, getAndReturn, getThenFailedPut, getThenHang, getThenReturn, marksDone, producer, putThenHang, queueMaker, relayProducer, slowConsumer, streamingProducer, stuckPutter, unawaitedProducer, worker } from '../fixtures/queues.ts';
import { reap, until } from '../helpers.ts';

const is =
  <T>(test: (m: T) => boolean) =>
  (m: unknown): m is T => {
    try {
      return test(m as T);
    } catch {
      return false;
    }
  };
const said = (text: string) => is<string>((m) => m === text);
const reports_ = is<{ consumer: number[] }>((m) => Array.isArray(m.consumer));

/** Collects `n` consumer reports from this process's mailbox. */
async function collect(n: number): Promise<number[]> {
  const all: number[] = [];
  for (let i = 0; i < n; i++) {
    const report = (await current().receive({ match: reports_, timeout: 30_000 })) as { consumer: number[] };
    all.push(...report.consumer);
  }
  return all;
}

describe('Queue', () => {
  it('counts an item as taken by a consumer that returns in the turn it got it (Queue and JoinableQueue)', async () => {
    for (const q of [new Queue<string>(), new JoinableQueue<string>()]) {
      await q.put('taken');
      const taker = reap(spawn(getAndReturn, { args: [q] }));
      expect(await taker.join({ timeout: 20_000 })).toBe(0);
      expect(await current().receive({ match: is<{ got: string }>((m) => m.got === 'taken'), timeout: 10_000 })).toEqual({ got: 'taken' });
      // Before, its ack waited for the end of a turn its process never had: the item came back.
      expect(await q.size()).toBe(0);
      await q.close();
    }
  });

  it('gives a consumer a large buffer as it was put, though its producer in the same process changed it after the put', async () => {
    const q = new Queue<Uint8Array>();
    try {
      const buffer = Buffer.alloc(1024 * 1024, 1);
      const bytes = new Uint8Array(1024 * 1024).fill(2);
      await q.put(buffer);
      await q.put(bytes);
      buffer.fill(9);
      bytes.fill(9);
      // Before, the queue in this process held the very buffers: 9 and 9.
      const [first, second] = [await q.get({ timeout: 5000 }), await q.get({ timeout: 5000 })];
      expect([first[0], first[first.length - 1], second[0], second[second.length - 1]]).toEqual([1, 1, 2, 2]);
      expect(Buffer.isBuffer(first)).toBe(true);
      expect(Buffer.isBuffer(second)).toBe(false);
    } finally {
      await q.close();
    }
  });

  it("loses nothing a producer put without awaiting just before it returned, as Python's feeder flushes at exit", async () => {
    const q = new Queue<number>();
    const producing = reap(spawn(streamingProducer, { args: [q, 150] }));
    expect(await producing.join({ timeout: 20_000 })).toBe(0);
    // Before, the puts after the last full hundred were gathered for a turn the process never had: 100 came.
    expect(await q.size()).toBe(150);
    const got: number[] = [];
    for (let i = 0; i < 150; i++) got.push(await q.get({ timeout: 10_000 }));
    expect(got).toEqual(Array.from({ length: 150 }, (_, i) => i));
    await q.close();
  });

  it('counts an item taken though the put right after it failed to encode (Queue and JoinableQueue)', async () => {
    for (const q of [new Queue<unknown>(), new JoinableQueue<unknown>()]) {
      await q.put('job-1');
      const taker = reap(spawn(getThenFailedPut, { args: [q] }));
      expect(await current().receive({ match: is<{ got: string }>((m) => m.got === 'job-1'), timeout: 20_000 })).toEqual({ got: 'job-1', failed: 'SerializationError' });
      expect(await taker.join({ timeout: 20_000 })).toBe(0);
      // Before, the item's ack rode on the put that never went: the item came back once its taker ended.
      expect(await q.size()).toBe(0);
      if (q instanceof JoinableQueue) expect(await q.join({ timeout: 5000 })).toBe(true);
      await q.close();
    }
  });

  it("keeps a producer's process until its puts on a full queue are in, though it never awaited them (Python's put blocks)", async () => {
    const q = new Queue<number>({ maxsize: 3 });
    const producing = reap(spawn(unawaitedProducer, { args: [q, 10] }));
    await current().receive({ match: is<string>((m) => m === 'returning'), timeout: 20_000 });
    // Its behaviour returned with 7 puts waiting for room: its process waits for them.
    expect(await producing.join({ timeout: 1000 })).toBe(null);
    const got: number[] = [];
    for (let i = 0; i < 10; i++) got.push(await q.get({ timeout: 20_000 }));
    // Before, the producer ended with 7 puts waiting for room, and they were dropped: get() timed out after 3.
    expect(got).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(await producing.join({ timeout: 20_000 })).toBe(0);
    await q.close();
  });

  it('is FIFO, with size, empty and full', async () => {
    const q = new Queue<number>({ maxsize: 3 });
    expect(await q.empty()).toBe(true);
    await q.put(1);
    await q.put(2);
    await q.put(3);
    expect(await q.size()).toBe(3);
    expect(await q.full()).toBe(true);
    expect([await q.get(), await q.get(), await q.get()]).toEqual([1, 2, 3]);
    expect(await q.empty()).toBe(true);
    await q.close();
  });

  it('refuses at once without waiting: putNowait when full, getNowait when empty', async () => {
    const q = new Queue<string>({ maxsize: 1 });
    await expect(q.getNowait()).rejects.toBeInstanceOf(QueueEmptyError);
    await q.putNowait('a');
    const err = await q.putNowait('b').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueFullError);
    expect((err as QueueFullError).code).toBe('ERR_QUEUE_FULL');
    expect(await q.getNowait()).toBe('a');
    await q.close();
  });

  it('waits for ever on a timeout longer than a timer holds (2^31 ms), where Node would fire at once', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    const got = q.get({ timeout: 2 ** 31 });
    // Before, the wait ended after about 1 ms with QueueEmptyError; 300 ms is plenty to see that.
    expect(await Promise.race([got, new Promise((r) => setTimeout(r, 300, 'waiting'))])).toBe('waiting');
    await q.put(7);
    expect(await got).toBe(7);
    await q.put(1);
    const put = q.put(2, { timeout: 30 * 24 * 3600 * 1000 });
    expect(await Promise.race([put.then(() => 'put'), new Promise((r) => setTimeout(r, 300, 'waiting'))])).toBe('waiting');
    expect(await q.get()).toBe(1);
    await put;
    expect(await q.get()).toBe(2);
    await q.close();
  });

  it('times get and put out at their deadline, within tolerance', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    let t = performance.now();
    await expect(q.get({ timeout: 200 })).rejects.toBeInstanceOf(QueueEmptyError);
    let elapsed = performance.now() - t;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(3000);
    await q.put(1);
    t = performance.now();
    await expect(q.put(2, { timeout: 200 })).rejects.toBeInstanceOf(QueueFullError);
    elapsed = performance.now() - t;
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(3000);
    // The timed-out put left nothing behind.
    expect(await q.get()).toBe(1);
    expect(await q.size()).toBe(0);
    await q.close();
  });

  it('lets a waiting put in as soon as a get makes room, in order', async () => {
    const q = new Queue<number>({ maxsize: 1 });
    await q.put(1);
    const second = q.put(2);
    const third = q.put(3);
    expect(await q.get()).toBe(1);
    await second;
    expect(await q.get()).toBe(2);
    await third;
    expect(await q.get()).toBe(3);
    await q.close();
  });

  it('after close: put rejects, get drains what is left then rejects, waiting gets are woken', async () => {
    const q = new Queue<number>();
    const waiting = q.get();
    await q.put(7);
    expect(await waiting).toBe(7);
    const blocked = q.get();
    await q.put(8);
    await q.put(9);
    expect(await blocked).toBe(8);
    const late = new Queue<number>();
    const wakes = late.get().catch((e: unknown) => e);
    await late.close();
    expect(await wakes).toBeInstanceOf(ClosedError);
    await q.close();
    await expect(q.put(10)).rejects.toBeInstanceOf(ClosedError);
    expect(await q.get()).toBe(9);
    const err = await q.get().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClosedError);
    expect((err as ClosedError).code).toBe('ERR_CLOSED');
    await q.close(); // idempotent
  });

  it("takes a maxsize of 0 or less as no bound, as Python's Queue does", async () => {
    const q = new Queue<number>({ maxsize: -1 });
    expect(q.maxsize).toBe(0);
    for (let i = 0; i < 5; i++) await q.put(i, { timeout: 1000 });
    expect([await q.size(), await q.full()]).toEqual([5, false]);
    await q.close();
  });

  it('for await ends when the queue is closed and drained', async () => {
    const q = new Queue<number>();
    for (let i = 0; i < 100; i++) void q.put(i);
    await q.close();
    const seen: number[] = [];
    for await (const item of q) seen.push(item);
    expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // Drained and closed, its service gone: still empty, as Python's test_closed_queue_empty_exceptions has it.
    expect([await q.empty(), await q.size(), await q.full()]).toEqual([true, 0, false]);
    const unused = new JoinableQueue<number>();
    await unused.close();
    expect([await unused.empty(), await unused.unfinished()]).toEqual([true, 0]);
    await expect(unused.put(1)).rejects.toBeInstanceOf(ClosedError);
  });

  it('gives the items a loop did not reach back to the front when it breaks, those fetched ahead included', async () => {
    const q = new Queue<number>();
    await Promise.all(Array.from({ length: 300 }, (_, i) => q.put(i)));
    // Batches grow 1, 2, 4, 8, 16, 32…: item 5 is in the middle of the third.
    for await (const item of q) if (item === 5) break;
    expect(await q.get({ timeout: 5000 })).toBe(6);
    expect(await q.size()).toBe(293);
    // A fast loop fetches its next batch ahead: breaking in a batch of 64 (items 63..126) gives back it and the one ahead.
    for await (const item of q) if (item === 70) break;
    const rest: number[] = [];
    await q.close();
    for await (const item of q) rest.push(item);
    expect(rest).toEqual(Array.from({ length: 229 }, (_, i) => 71 + i));
  });

  it('throws SerializationError at the put call site, naming the path', async () => {
    const q = new Queue<unknown>();
    const err = await q.put({ job: { run: () => 1 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as SerializationError).path).toBe('message.vs[0].job.run');
    await q.close();
  });

  it('fails only the unencodable put among puts made in the same turn', async () => {
    const q = new Queue<unknown>();
    const results = await Promise.allSettled([q.put(1), q.put({ bad: Symbol('s') }), q.put(3)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(SerializationError);
    expect([await q.get(), await q.get()]).toEqual([1, 3]);
    await q.close();
  });

  it('rejects bad options with InvalidArgumentError', async () => {
    expect(() => new Queue({ maxsize: 1.5 })).toThrow(/maxsize/);
    expect(() => new Queue('big' as never)).toThrow(InvalidArgumentError);
    const q = new Queue();
    await expect(q.get({ timeout: 'soon' as never })).rejects.toThrow(InvalidArgumentError);
    await expect(q.put(1, { timeout: Number.NaN })).rejects.toThrow(/timeout/);
    await q.close();
  });

  it("takes a negative timeout as no wait, as Python's Queue does (a deadline already past)", async () => {
    const q = new Queue<number>({ maxsize: 1 });
    // Before, each was InvalidArgumentError.
    await expect(q.get({ timeout: -5 })).rejects.toBeInstanceOf(QueueEmptyError);
    await q.put(1, { timeout: -1 });
    await expect(q.put(2, { timeout: -1 })).rejects.toBeInstanceOf(QueueFullError);
    expect(await q.get({ timeout: -1 })).toBe(1);
    await q.close();
  });

  it('aborts a waiting get by its signal, and the next item is not lost', async () => {
    const q = new Queue<string>();
    const controller = new AbortController();
    const waiting = q.get({ signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
    await q.put('kept');
    expect(await q.get({ timeout: 5000 })).toBe('kept');
    await q.close();
  });

  it('carries every item exactly once from 2 producer processes to 2 consumer processes', async () => {
    const q = new Queue<number>({ maxsize: 50 });
    const me = current().self;
    const consumers = [reap(spawn(consumer, { args: [q, me] })), reap(spawn(consumer, { args: [q, me] }))];
    const producers = [reap(spawn(producer, { args: [q, 0, 500] })), reap(spawn(producer, { args: [q, 500, 500] }))];
    for (const p of producers) expect(await p.join({ timeout: 30_000 })).toBe(0);
    await q.close();
    const all = await collect(2);
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    for (const c of consumers) expect(await c.join({ timeout: 10_000 })).toBe(0);
  });

  it('shares items between slow consumers instead of one taking them all ahead', async () => {
    const q = new Queue<number>();
    const me = current().self;
    const consumers = [reap(spawn(slowConsumer, { args: [q, me, 30] })), reap(spawn(slowConsumer, { args: [q, me, 30] }))];
    for (let i = 0; i < 2; i++) await current().receive({ match: said('ready'), timeout: 20_000 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => q.put(i)));
    await q.close();
    const reports: number[][] = [];
    for (let i = 0; i < 2; i++) reports.push(((await current().receive({ match: reports_, timeout: 30_000 })) as { consumer: number[] }).consumer);
    expect([...reports[0]!, ...reports[1]!].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // Fetching ahead grows only for a fast loop: a slow one takes about one item at a time.
    for (const seen of reports) expect(seen.length).toBeGreaterThanOrEqual(10);
    for (const c of consumers) expect(await c.join({ timeout: 10_000 })).toBe(0);
  });

  it('keeps an item whose put resolved, though its producer is SIGKILLed right after', async () => {
    const q = new Queue<string>();
    const p = reap(spawn(putThenHang, { args: [q, 'survivor'] }));
    await current().receive({ match: said('put resolved'), timeout: 20_000 });
    p.kill();
    expect(await p.join({ timeout: 10_000 })).toBe(-9);
    expect(await q.get({ timeout: 5000 })).toBe('survivor');
    await q.close();
  });

  it('puts back what a SIGKILLed consumer had fetched ahead and not yet taken: nothing lost, nothing twice', async () => {
    const q = new Queue<number>();
    await Promise.all(Array.from({ length: 2000 }, (_, i) => q.put(i)));
    const c = reap(spawn(fastThenHang, { args: [q, 300] }));
    const { seen } = (await current().receive({ match: is<{ seen: number[] }>((m) => Array.isArray(m.seen)), timeout: 20_000 })) as { seen: number[] };
    c.kill();
    expect(await c.join({ timeout: 10_000 })).toBe(-9);
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i));
    await q.close();
    const rest: number[] = [];
    for await (const item of q) rest.push(item);
    expect(rest).toEqual(Array.from({ length: 1700 }, (_, i) => 300 + i));
  });

  it('takes back the items a stalled loop fetched and has not reached: others get them, size() counts them', async () => {
    const q = new Queue<number>();
    await Promise.all(Array.from({ length: 2000 }, (_, i) => q.put(i)));
    // Fast for 300 items (its batches grew, one fetched ahead), then stuck on the 300th for good.
    const c = reap(spawn(fastThenHang, { args: [q, 300] }));
    await current().receive({ match: is<{ seen: number[] }>((m) => Array.isArray(m.seen)), timeout: 20_000 });
    const deadline = performance.now() + 10_000;
    let size = await q.size();
    while (size !== 1700 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      size = await q.size();
    }
    expect(size).toBe(1700);
    // The next item is the one after the last the stalled loop took, not one past its batches.
    expect(await q.get({ timeout: 5000 })).toBe(300);
    c.kill();
    expect(await c.join({ timeout: 10_000 })).toBe(-9);
    await q.close();
    const rest: number[] = [];
    for await (const item of q) rest.push(item);
    expect(rest).toEqual(Array.from({ length: 1699 }, (_, i) => 301 + i));
  });

  it('stays usable when a consumer is SIGKILLed while it waits in get', async () => {
    const q = new Queue<string>();
    const blocked = reap(spawn(blockedGetter, { args: [q] }));
    await current().receive({ match: said('getting'), timeout: 20_000 });
    blocked.kill();
    expect(await blocked.join({ timeout: 10_000 })).toBe(-9);
    await q.put('for the living');
    expect(await q.get({ timeout: 5000 })).toBe('for the living');
    await q.close();
  });

  it('stays usable when a producer is SIGKILLed while its put waits on a full queue', async () => {
    const q = new Queue<string>({ maxsize: 1 });
    await q.put('first');
    const putter = reap(spawn(stuckPutter, { args: [q] }));
    await current().receive({ match: said('putting'), timeout: 20_000 });
    putter.kill();
    expect(await putter.join({ timeout: 10_000 })).toBe(-9);
    expect(await q.get({ timeout: 5000 })).toBe('first');
    await q.put('second', { timeout: 5000 });
    expect(await q.get({ timeout: 5000 })).toBe('second');
    expect(await q.size()).toBe(0);
    await q.close();
  });

  it('travels inside items of another queue, as Python refuses', async () => {
    const outer = new Queue<Queue<string>>();
    const inner = new Queue<string>({ name: 'inner' });
    await outer.put(inner);
    const got = await outer.get();
    expect(got).toBeInstanceOf(Queue);
    await got.put('through the copy');
    expect(await inner.get()).toBe('through the copy');
    await outer.close();
    await inner.close();
  });

  it('ends with the process that made it: its users then get ClosedError, not a hang', async () => {
    const maker = reap(spawn(queueMaker));
    const { queue } = (await current().receive({ match: is<{ queue: Queue<string> }>((m) => m.queue instanceof Queue), timeout: 20_000 })) as { queue: Queue<string> };
    expect(await queue.get({ timeout: 5000 })).toBe('from the child');
    const waiting = queue.get().catch((e: unknown) => e);
    maker.send('end');
    expect(await maker.join({ timeout: 10_000 })).toBe(0);
    const err = await waiting;
    expect(err).toBeInstanceOf(ClosedError);
    expect(String((err as Error).message)).toMatch(/made-in-child is gone/);
    await expect(queue.put('late')).rejects.toBeInstanceOf(ClosedError);
  });

  it('does not deadlock a join on a producer of 1 MiB items that nobody has read yet', async () => {
    const q = new Queue<Buffer>();
    const p = reap(spawn(bigProducer, { args: [q, 8, 1 << 20] }));
    // Python's producer cannot exit until its feeder thread has flushed into the pipe: this join hangs there.
    expect(await p.join({ timeout: 30_000 })).toBe(0);
    for (let i = 0; i < 8; i++) {
      const item = await q.get({ timeout: 5000 });
      expect(item.length).toBe(1 << 20);
      expect(item[0]).toBe(i);
      expect(item[item.length - 1]).toBe(i);
    }
    await q.close();
  });

  it('travels inside a message to a child, which passes it on to a grandchild', async () => {
    const q = new Queue<number>();
    const relay = reap(spawn(relayProducer, { args: [5] }));
    relay.send({ queue: q });
    expect(await relay.join({ timeout: 30_000 })).toBe(0);
    const items = [];
    for (let i = 0; i < 5; i++) items.push(await q.get({ timeout: 5000 }));
    expect(items).toEqual([1000, 1001, 1002, 1003, 1004]);
    await q.close();
  });

  it('frees its service when closed: 1,000 create/use/close cycles leave the open count flat', async () => {
    const before = node().openServices;
    for (let i = 0; i < 1000; i++) {
      const q = new Queue<number>({ maxsize: 2 });
      await q.put(i);
      expect(await q.get()).toBe(i);
      await q.close();
    }
    expect(node().openServices).toBe(before);
  });
});

describe('JoinableQueue', () => {
  it('frees its service once closed, though the items this process took were marked done by another', async () => {
    const before = node().openServices;
    const q = new JoinableQueue<number>();
    for (let i = 0; i < 3; i++) await q.put(i);
    for (let i = 0; i < 3; i++) expect(await q.get()).toBe(i);
    const child = reap(spawn(marksDone, { args: [q, 3] }));
    expect(await child.join({ timeout: 20_000 })).toBe(0);
    expect(await q.join({ timeout: 5000 })).toBe(true);
    await q.close();
    // Before, the items this process held (done by the other's credits) kept the service for as long as it lived.
    await until(() => node().openServices === before, 10_000, 'the queue to free its service');
    expect(await q.unfinished()).toBe(0);
  });

  it('join() and unfinished() answer true and 0 once the queue is closed, drained, done and freed', async () => {
    const q = new JoinableQueue<number>();
    await q.put(1);
    await q.close();
    expect(await q.get()).toBe(1);
    await q.taskDone(); // the last item done: the service frees itself
    expect(await q.join({ timeout: 5000 })).toBe(true);
    expect(await q.unfinished()).toBe(0);
  });

  it('join() waits for every item to be marked done, and times out with false', async () => {
    const q = new JoinableQueue<number>();
    expect(await q.join({ timeout: 0 })).toBe(true);
    await q.put(1);
    await q.put(2);
    expect(await q.join({ timeout: 100 })).toBe(false);
    const joined = q.join({ timeout: 10_000 });
    await q.get();
    await q.taskDone();
    expect(await q.unfinished()).toBe(1);
    await q.get();
    await q.taskDone();
    expect(await joined).toBe(true);
    await q.close();
  });

  it('rejects taskDone() called more times than items were put', async () => {
    const q = new JoinableQueue<number>();
    await q.put(1);
    await q.get();
    await q.taskDone();
    const err = await q.taskDone().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskDoneError);
    expect((err as TaskDoneError).code).toBe('ERR_TASK_DONE');
    await q.close();
  });

  it('gives an item back when its consumer is SIGKILLed before taskDone(), so join() completes', async () => {
    const q = new JoinableQueue<string>();
    await q.put('fragile');
    await q.put('second');
    const holder = reap(spawn(getThenHang, { args: [q] }));
    const got = (await current().receive({ match: is<{ got: string }>((m) => typeof m.got === 'string'), timeout: 20_000 })) as { got: string };
    expect(got.got).toBe('fragile');
    holder.kill();
    expect(await holder.join({ timeout: 10_000 })).toBe(-9);
    // Redelivered at the front, ahead of the item that was behind it.
    expect(await q.get({ timeout: 5000 })).toBe('fragile');
    await q.taskDone();
    expect(await q.get({ timeout: 5000 })).toBe('second');
    await q.taskDone();
    expect(await q.join({ timeout: 5000 })).toBe(true);
    await q.close();
  });

  it.each([
    ['returns normally: its item was consumed, as in Python', false],
    ['is killed: its item comes back, counted unfinished again', true],
  ])("counts a taskDone() from a process that holds nothing (Python's task_done from anywhere) when the consumer %s", async (_how, killed) => {
    const q = new JoinableQueue<string>();
    await q.put('reported');
    await q.put('second');
    const holder = reap(spawn(killed ? getThenHang : getThenReturn, { args: [q] }));
    const got = (await current().receive({ match: is<{ got: string }>((m) => typeof m.got === 'string'), timeout: 20_000 })) as { got: string };
    expect(got.got).toBe('reported');
    // The parent, told by its worker, marks the work done; then the worker ends.
    await q.taskDone();
    if (killed) holder.kill();
    else holder.send('return');
    expect(await holder.join({ timeout: 10_000 })).toBe(killed ? -9 : 0);
    // Before, a killed worker's item came back though counted done, and its second taskDone() was one too many.
    if (killed) {
      expect(await q.unfinished()).toBe(2);
      expect(await q.get({ timeout: 5000 })).toBe('reported');
      await q.taskDone();
    }
    expect(await q.unfinished()).toBe(1);
    expect(await q.get({ timeout: 5000 })).toBe('second');
    await q.taskDone();
    expect(await q.join({ timeout: 5000 })).toBe(true);
    expect(await q.size()).toBe(0);
    await q.close();
  });

  it('with consumer processes: join() completes, then closing ends their loops', async () => {
    const q = new JoinableQueue<number>();
    const me = current().self;
    const workers = [reap(spawn(worker, { args: [q, me] })), reap(spawn(worker, { args: [q, me] }))];
    await Promise.all(Array.from({ length: 200 }, (_, i) => q.put(i)));
    expect(await q.join({ timeout: 30_000 })).toBe(true);
    await q.close();
    const all = await collect(2);
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    for (const w of workers) expect(await w.join({ timeout: 10_000 })).toBe(0);
  });
});

describe('SimpleQueue', () => {
  it('is unbounded, with put, get, empty and close', async () => {
    const q = new SimpleQueue<string>();
    expect(q.maxsize).toBe(0);
    for (let i = 0; i < 1000; i++) void q.put(String(i));
    expect(await q.get()).toBe('0');
    expect(await q.empty()).toBe(false);
    await q.close();
    let n = 1;
    for await (const item of q) expect(item).toBe(String(n++));
    expect(n).toBe(1000);
  });
});

describe('Queues, pipes and locks of an actor that returns', () => {
  it('fail the waits on them elsewhere as they go with its process, not at the waits\' deadlines', async () => {
    const maker = reap(spawn(makesThenReturns));
    const { queue, lock, end } = (await current().receive({ match: (m): m is object => typeof m === 'object' && m !== null && 'queue' in m, timeout: 20_000 })) as {
      queue: Queue<number>;
      lock: Lock;
      end: Connection<unknown, unknown>;
    };
    const waits = [queue.get({ timeout: 20_000 }), lock.acquire({ timeout: 20_000 }), end.recv({ timeout: 20_000 })].map((wait) => wait.then((v) => ({ value: v }), (e: unknown) => e));
    maker.send('return');
    expect(await maker.join({ timeout: 30_000 })).toBe(0);
    // Before, the actor's process lived on to the deadlines (the services' timers held it), and each wait
    // ended as an ordinary timeout: QueueEmptyError, false, TimeoutError.
    const [got, acquired, received] = await Promise.all(waits);
    expect(got).toBeInstanceOf(ClosedError);
    expect(acquired).toBeInstanceOf(ActorExitedError);
    expect(received).toBeInstanceOf(EOFError);
  });
});
