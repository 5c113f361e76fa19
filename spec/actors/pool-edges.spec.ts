/**
 * The pool at its edges: what cannot be sent, inputs left early, a pool ended
 * under an imap, modules that fail to load for a while. Each case is one that
 * hung, crashed the program or its worker, or leaked before it was fixed.
 */
import { getEventListeners } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, Pool, type Task, PoolClosedError, Queue, QueueEmptyError, RemoteError, SerializationError, activeChildren, current, node, spawn, supervisor } from '../../index.ts';
import { actorsLayerLoaded, add, emptyGetStack, deepResult, identity, isQueueEmptyError, meetAnother, putInto, queueClassName, setGlobal, setPrefix, slowTask, square, unencodable, whoRuns } from '../fixtures/tasks.ts';
import { taskBundle } from '../../runtime/task.ts';
import { alive, poolMaker, reap, until, within } from '../helpers.ts';
import { firesTaskAndReturns } from '../fixtures/actors.ts';
import { quickAfterSlowImport } from '../fixtures/tasks-slow-import.ts';
import { SayWhenError, countedSleep, heavy, saysWhen, seesSayWhen, throwsOdd } from '../fixtures/tasks-errors.ts';
import { double, viaEcho } from '../fixtures/tasks-flaky.ts';
import { isSupervisor } from '../fixtures/tasks-layer.ts';
import { isSupervisorAfterThrow } from '../fixtures/tasks-layer-throws.ts';

const pool = poolMaker({ size: 1 });

/** `promise`, or a rejection naming `what` if it has not settled within `ms`. */
describe('Pool: what cannot be sent', () => {
  it('refuses initArgs that cannot be sent when the pool is made, before any worker starts', () => {
    for (const initializer of [setPrefix, undefined]) {
      let err: unknown;
      try {
        // Cast: the types refuse it already (initArgs are typed from the initializer); this is the run-time check.
        new Pool({ size: 1, initializer, initArgs: [(() => 'a function') as unknown as string] });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SerializationError);
      expect((err as SerializationError).message).toContain('initArgs[0]');
    }
  });

  it('fails the waiting tasks, not the program, when initArgs changed since into something that cannot be sent', async () => {
    const initArgs: [string, { prefix?: unknown }] = ['troupeSpecPrefix', {}];
    const p = pool({ size: 1, initializer: setGlobal, initArgs });
    // The first worker is spawned once the initializer's module is bundled, after this turn.
    initArgs[1].prefix = () => 'a function';
    const err = await within(
      p.apply(square, [3]).catch((e: unknown) => e),
      'a task of a pool whose worker cannot be spawned',
    );
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as SerializationError).message).toContain('initArgs');
    // The next task tries again, and fails alike: it does not wait for a worker that will never come.
    initArgs[1].prefix = 'plain again';
    expect(await within(p.apply(square, [4]), 'a task after initArgs were mended')).toBe(16);
  });

  it('fails only the call whose argument throws as it is read, and names the argument; a quota worker is still sent tasks', async () => {
    const q = pool({ size: 1, maxTasksPerChild: 2 });
    expect(await q.apply(identity, [1])).toBe(1);
    const getter = {
      get broken(): never {
        throw new RangeError('this getter throws');
      },
    };
    const err = await q.apply(identity, [getter]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as SerializationError).path).toBe('args[0].broken');
    expect((err as SerializationError).message).toContain('throws when it is read (this getter throws)');
    expect((err as SerializationError).cause).toBeInstanceOf(RangeError);
    // Before, it rejected with the RangeError itself, the pool counted the job against the worker's
    // quota, and every task after it waited for ever.
    expect(await within(q.map(identity, [2, 3, 4], { chunksize: 1 }), 'tasks after the failed call')).toEqual([2, 3, 4]);
  });

  it('sends a job as it checked it: an argument whose getter fails only when read again does not break its worker', async () => {
    const q = pool({ size: 1 });
    let reads = 0;
    const flaky = {
      get v(): number {
        if (++reads > 2) throw new Error('read once too often');
        return 1;
      },
    };
    // The first job of a task carries the task: before, it was checked, counted as sent, then encoded
    // again (the getter threw), and every later job named the task by a key the worker never got.
    expect(await q.apply(identity, [flaky])).toEqual({ v: 1 });
    expect(await within(q.map(identity, [2, 3, 4], { chunksize: 1 }), 'tasks after it')).toEqual([2, 3, 4]);
  });

  it('refuses an argument past what one message holds with SerializationError, and a quota worker goes on', async () => {
    const q = pool({ size: 1, maxTasksPerChild: 1 });
    expect(await q.apply(square, [2])).toBe(4);
    // 8 views of one 300 MB buffer (untouched, so hardly any memory): 2.4 GB to send.
    const big = Buffer.alloc(300 * 1024 * 1024);
    const err = await q.apply(identity, [Array.from({ length: 8 }, () => big.subarray(0))]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as SerializationError).path).toBe('args');
    expect((err as Error).message).toMatch(/^Cannot send args: it encodes to \d+ bytes, over the 2147483647 bytes \(2 GiB\) one message can hold/);
    // Before, a RangeError from the framing, the job counted against the quota, and the pool hung.
    expect(await within(q.apply(square, [3]), 'the next task')).toBe(9);
    // Nested too deeply: named as the arguments too, not as the runtime's 'message'.
    let deep: unknown = 0;
    for (let i = 0; i < 100_000; i++) deep = { deep };
    const nested = await q.apply(identity, [deep]).catch((e: unknown) => e);
    expect([(nested as SerializationError).path, (nested as Error).message]).toEqual(['args', expect.stringMatching(/^Cannot send args: it is nested too deeply/)]);
    // And a result nested too deeply as the result, the worker going on.
    const answer = await q.apply(deepResult, [100_000]).catch((e: unknown) => e);
    expect([(answer as SerializationError).path, (answer as Error).message]).toEqual(['result', expect.stringMatching(/^Cannot send result: it is nested too deeply/)]);
    expect(await within(q.apply(square, [5]), 'the task after it')).toBe(25);
  });

  it('names a result that cannot be sent as the result', async () => {
    const p = pool();
    const err = await p.apply(unencodable, [1]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as SerializationError).path).toBe('result');
    expect((err as SerializationError).message).toMatch(/^Cannot send result: it is a function/);
  });

  const remote = (check: (cause: Error) => void) => (err: unknown) => {
    expect(err).toBeInstanceOf(RemoteError);
    check((err as RemoteError).cause as Error);
  };
  it.each([
    ['an error whose cause holds a function', 'function cause', remote((cause) => expect(String(cause.cause)).toMatch(/not sent: cause\.retry is a function/))],
    ['an error with a field whose getter throws', 'getter', remote((cause) => expect((cause as Error & { detail: string }).detail).toMatch(/not sent: its getter threw no detail/))],
    ['a revoked Proxy', 'revoked proxy', remote((cause) => expect(cause.message).toMatch(/a thrown value that cannot be read/))],
    ['an error that is its own cause', 'cycle', remote((cause) => expect(String(cause.cause)).toMatch(/refers back to itself/))],
    [
      'an error that refers back to itself through a plain object',
      'cycle through an object',
      remote((cause) => expect(((cause as Error & { detail: { inner: Error } }).detail.inner.cause as Error).message).toBe('outer')),
    ],
    [
      // As a result that cannot be sent (Python's MaybeEncodingError).
      'an error with a field that can be read once only',
      'getter that throws the second time',
      (err: unknown) => {
        expect(err).toBeInstanceOf(SerializationError);
        expect((err as Error).message).toMatch(/^the error could not be sent: Cannot send error reply/);
      },
    ],
  ])('answers a task that throws %s with an error for that task, and its worker goes on', async (_what, kind, check) => {
    const p = pool();
    const pid = await p.apply(throwsOdd, ['plain']);
    // Before, the worker died encoding the error: WorkerCrashedError, for this task and those queued behind it.
    check(await p.apply(throwsOdd, [kind]).catch((e: unknown) => e));
    expect(await p.apply(throwsOdd, ['plain'])).toBe(pid);
  });

  it("brings an AggregateError back with its errors", async () => {
    const p = pool();
    const err = await p.apply(throwsOdd, ['aggregate']).catch((e: unknown) => e);
    const cause = (err as RemoteError).cause as AggregateError;
    expect(cause).toBeInstanceOf(AggregateError);
    expect(cause.message).toBe('both failed');
    expect(cause.errors.map((e: Error) => e.message)).toEqual(['first', 'second']);
    expect(cause.errors[1]).toBeInstanceOf(TypeError);
  });

  it("brings an error of a class the program registered back as that class, as Python's pickled exceptions", async () => {
    const err = (await pool().apply(saysWhen, [7]).catch((e: unknown) => e)) as RemoteError;
    expect(err).toBeInstanceOf(RemoteError);
    expect(err.cause).toBeInstanceOf(SayWhenError);
    expect((err.cause as SayWhenError).when).toBe(7);
    expect((err.cause as SayWhenError).message).toBe('say when: 7');
  });

  it("gives a task an argument of a class its module registers as that class, on a worker's first job of the task too", async () => {
    // The worker decodes the job before it loads the task's module, which registers the class.
    // Before, a fresh worker's first call got a plain Error (the second one the class).
    const p = pool({ size: 1 });
    expect(await p.apply(seesSayWhen, [new SayWhenError(3)])).toEqual({ isSayWhen: true, when: 3 });
    expect(await p.apply(seesSayWhen, [new SayWhenError(4)])).toEqual({ isSayWhen: true, when: 4 });
  });

  it('refuses an argument list that is not an array at the call', async () => {
    const p = pool();
    await expect(p.apply(add, 5 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(p.starmap(add, [[1, 2], 3 as never])).rejects.toThrow(/argLists\[1\]/);
    expect(await p.starmap(add, [[1, 2]])).toEqual([3]);
  });
});

describe('Pool: an imap whose pool ends, or that is left early', () => {
  it('ends an imap waiting for its input with PoolClosedError when the pool is terminated', async () => {
    async function* stalls(): AsyncGenerator<number> {
      yield 2;
      await new Promise(() => {}); // an input that never yields again
    }
    for (const ordered of [true, false]) {
      const q = pool();
      const it = (ordered ? q.imap(square, stalls()) : q.imapUnordered(square, stalls()))[Symbol.asyncIterator]();
      expect((await within(it.next(), 'the first result')).value).toBe(4);
      const waiting = it.next().catch((e: unknown) => e);
      await q.terminate();
      expect(await within(waiting, 'a next() waiting on the input of a terminated pool')).toBeInstanceOf(PoolClosedError);
      expect(await it.next()).toEqual({ done: true, value: undefined });
    }
  });

  it('ends a terminated pool\'s imap once, stops reading its input and closes it', async () => {
    const p = pool();
    let pulled = 0;
    let closed = false;
    function* endless(): Generator<number> {
      try {
        for (;;) yield pulled++;
      } finally {
        closed = true;
      }
    }
    const it = p.imap(square, endless())[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(0);
    await p.terminate();
    const outcomes: string[] = [];
    // A loop that reads on after each error, as Python's imap allows: it must come to an end.
    for (let i = 0; i < 1000; i++) {
      const step = await it.next().then(
        (s) => (s.done ? 'done' : 'value'),
        (e: unknown) => (e instanceof PoolClosedError ? 'closed' : String(e)),
      );
      if (outcomes.at(-1) !== step) outcomes.push(step);
      if (step === 'done') break;
    }
    // Values already back may come first; then one PoolClosedError, then the end.
    expect(outcomes.filter((o) => o !== 'value')).toEqual(['closed', 'done']);
    const pulledThen = pulled;
    await sleep(50);
    expect(pulled).toBe(pulledThen);
    expect(closed).toBe(true);
  });

  it('ends an imap waiting for its input once close() and join() have ended the pool', async () => {
    const p = pool();
    async function* stalls(): AsyncGenerator<number> {
      yield 3;
      await new Promise(() => {});
    }
    const it = p.imap(square, stalls())[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe(9);
    const waiting = it.next().catch((e: unknown) => e);
    p.close();
    await within(p.join(), 'join() with an imap waiting on its input');
    const err = await within(waiting, 'the imap of a joined pool');
    expect(err).toBeInstanceOf(PoolClosedError);
    expect((err as Error).message).toMatch(/joined/);
  });

  it('closes its input when a loop breaks out of it, as for-of does', async () => {
    const p = pool();
    const closed: string[] = [];
    function* numbers(): Generator<number> {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed.push('sync');
      }
    }
    async function* later(): AsyncGenerator<number> {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed.push('async');
      }
    }
    for await (const x of p.imap(square, numbers())) if (x >= 4) break;
    for await (const x of p.imapUnordered(square, later())) if (x >= 0) break;
    await until(() => closed.length === 2, 10_000, 'the inputs to be closed');
    expect(closed.sort()).toEqual(['async', 'sync']);
  });

  it("keeps an input's return() that throws or rejects from the loop that broke out of it", async () => {
    const p = pool();
    const closed: string[] = [];
    let i = 0;
    const endless: Iterable<number> = {
      [Symbol.iterator]: () => ({
        next: () => ({ value: i++, done: false }),
        return: (): IteratorResult<number> => {
          closed.push('throws');
          throw new Error('return() throws');
        },
      }),
    };
    const endlessAsync: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: async () => ({ value: i++, done: false }),
        return: async (): Promise<IteratorResult<number>> => {
          closed.push('rejects');
          throw new Error('return() rejects');
        },
      }),
    };
    // The loop has what it wanted: the input's trouble closing is not the caller's (an unhandled rejection would fail this spec).
    for await (const x of p.imap(square, endless)) if (x >= 0) break;
    for await (const x of p.imapUnordered(square, endlessAsync)) if (x >= 0) break;
    await until(() => closed.length === 2, 10_000, 'both inputs to be closed');
    expect(closed.sort()).toEqual(['rejects', 'throws']);
  });

  it('checks an imap\'s chunksize and timeout at the call, not at its first next()', () => {
    const p = pool();
    expect(() => p.imap(square, [1], { chunksize: 0 })).toThrow(InvalidArgumentError);
    expect(() => p.imapUnordered(square, [1], { chunksize: 1.5 })).toThrow(InvalidArgumentError);
    // Before, a bad timeout came only at the first next().
    expect(() => p.imap(square, [1], { timeout: -1 })).toThrow('Expected `imap() options.timeout` to be a positive number of milliseconds, got `-1` (number).');
    expect(() => p.imapUnordered(square, [1], { timeout: Number.NaN })).toThrow(InvalidArgumentError);
  });

  it("still drops a failed map's queued chunks when the caller aborts after the failure", async () => {
    const p = pool({ size: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'troupe-abort-'));
    const path = join(dir, 'ran');
    try {
      const controller = new AbortController();
      const jobs = [{ path, ms: -1 }, ...Array.from({ length: 29 }, () => ({ path, ms: 100 }))];
      // The usual pattern: the first failure rejects the map, and the caller aborts the rest.
      await expect(p.map(countedSleep, jobs, { chunksize: 1, signal: controller.signal })).rejects.toThrow(/the first one fails/);
      controller.abort();
      expect(await p.apply(square, [3])).toBe(9);
      // Only those already sent to the worker ran; before, the map let go of the signal as it
      // rejected, and all 30 ran before the next task.
      expect(readFileSync(path, 'utf8').split('\n').filter(Boolean).length).toBeLessThan(10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps nothing of an imap read partway and put down without return()', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const p = pool({ size: 1 });
    await p.apply(heavy, [1]);
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20; i++) {
      const it = p.imap(heavy, [500_000, 500_000, 500_000, 500_000], { chunksize: 1 })[Symbol.asyncIterator]();
      await it.next();
    }
    // The chunks they sent settle; nothing else holds them.
    await p.map(heavy, [1]);
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    // Before, the pool kept every imap being read until it ended, and one put down never does:
    // 20 of them, each with 1.5 MB of results not yet read.
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(15_000_000);
  });

  it('listens to a signal once per map or imap, not once per chunk, and lets go of it when done', async () => {
    const p = pool({ size: 2 });
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const { signal } = controller;
      const items = Array.from({ length: 200 }, (_, i) => i);
      const mapped = p.map(slowTask, items.map(() => 1), { chunksize: 1, signal });
      expect(getEventListeners(signal, 'abort').length).toBe(1);
      await mapped;
      const it = p.imap(square, items, { chunksize: 1, signal })[Symbol.asyncIterator]();
      await it.next();
      // The imap's own (for its waits) and the one its chunks share.
      expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(2);
      await it.return?.();
      expect(getEventListeners(signal, 'abort').length).toBe(0);
      // An abort still reaches every chunk through the one listener.
      const aborted = p.map(slowTask, items.map(() => 2_000), { chunksize: 1, signal });
      controller.abort();
      await expect(within(aborted, 'an aborted map')).rejects.toThrow(/aborted/);
      expect(getEventListeners(signal, 'abort').length).toBe(0);
      await sleep(0);
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('Pool: task modules', () => {
  it('fails the tasks waiting with the build error of an initializer\'s module that no longer builds, and builds it again for the next task', async () => {
    // A module of its own, imported here, then edited under the running program.
    const file = join(import.meta.dirname, '..', 'fixtures', `tmp-init-${process.pid}-${Date.now()}.ts`);
    const good = "import { task } from '../../index.ts';\nexport const init = task(() => {});\n";
    writeFileSync(file, good);
    try {
      const { init } = (await import(pathToFileURL(file).href)) as { init: Task<[], void> };
      writeFileSync(file, "import { task } from '../../index.ts';\nexport const init = task(() => { ( });\n");
      const p = pool({ size: 3, initializer: init });
      const err = await p.map(square, [1, 2, 3, 4, 5, 6], { chunksize: 1 }).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      // The bundler's own words, not a worker's failure to find the task later.
      expect((err as Error).message).toMatch(/tmp-init-.*Unexpected/s);
      writeFileSync(file, good);
      expect(await within(p.apply(square, [3]), 'a task once the module is fixed')).toBe(9);
      // And it is back to its size: no worker was lost to the failed starts.
      await until(() => activeChildren().filter((ref) => ref.name.startsWith('PoolWorker-')).length === 3, 20_000, 'three workers');
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('loads a task module again after it threw while loading, as Python imports it again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-flaky-'));
    const flag = join(dir, 'fail');
    try {
      writeFileSync(flag, '');
      const p = pool({ size: 1, initializer: setGlobal, initArgs: ['troupeFlakyFlag', flag] });
      const err = await p.apply(double, [1]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect(String((err as RemoteError).cause)).toMatch(/threw while loading: the module cannot load/);
      rmSync(flag);
      // The same worker: before, it answered every later task with the first failure.
      expect(await p.apply(double, [21])).toBe(42);
      expect(await p.map(double, [1, 2, 3])).toEqual([2, 4, 6]);
      // The actors the failed load defined are not defined twice: before, spawning one failed.
      expect(await p.apply(viaEcho, [7])).toBe(7);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Pool: a worker runs the runtime's kernel alone until a task needs the actors layer", () => {
  it('loads no more for a task whose module uses only the kernel', async () => {
    const p = pool({ size: 1 });
    expect(await p.apply(square, [3])).toBe(9);
    expect(await p.apply(actorsLayerLoaded, [])).toBe(false);
  });

  it('loads it to decode a handle of that layer in a task\'s args (a queue)', async () => {
    const p = pool({ size: 1 });
    const queue = new Queue<number>();
    try {
      expect(await p.apply(actorsLayerLoaded, [])).toBe(false);
      expect(await p.apply(putInto, [queue, 7])).toBe(7);
      expect(await queue.get({ timeout: 10_000 })).toBe(7);
      expect(await p.apply(actorsLayerLoaded, [])).toBe(true);
    } finally {
      await queue.close();
    }
  });

  it("maps that layer's frames back to troupe's sources once it loaded it", async () => {
    const p = pool({ size: 1 });
    const queue = new Queue<number>();
    try {
      expect(await p.apply(actorsLayerLoaded, [])).toBe(false);
      const stack = await p.apply(emptyGetStack, [queue]);
      expect(stack).toContain('QueueEmptyError');
      expect(stack).toMatch(/actors\/queue\/queue\.ts:\d+/);
      expect(stack).not.toContain('runtime.cjs');
    } finally {
      await queue.close();
    }
  });

  it('loads it to decode an error of a class of that layer, which arrives as that class', async () => {
    const p = pool({ size: 1 });
    expect(await p.apply(actorsLayerLoaded, [])).toBe(false);
    expect(await p.apply(isQueueEmptyError, [new QueueEmptyError('none left')])).toBe('none left');
  });

  it('loads it to decode a definition of that layer, which arrives as that definition', async () => {
    const p = pool({ size: 1 });
    expect(await p.apply(actorsLayerLoaded, [])).toBe(false);
    expect(await p.apply(isSupervisor, [supervisor])).toBe(true);
  });

  it('keeps its definitions when a task module that loaded it then threw is loaded again', async () => {
    const p = pool({ size: 1, initializer: setGlobal, initArgs: ['troupeLayerThrowOnce', true] });
    const err = await p.apply(isSupervisorAfterThrow, [null]).catch((e: unknown) => e);
    expect(String((err as RemoteError).cause)).toMatch(/the first load fails/);
    expect(await p.apply(isSupervisorAfterThrow, [supervisor])).toBe(true);
  });

  it('loads it when a task reads one of its names', async () => {
    const p = pool({ size: 1 });
    expect(await p.apply(actorsLayerLoaded, [])).toBe(false);
    expect(await p.apply(queueClassName, [])).toBe('QueueEmptyError');
    expect(await p.apply(actorsLayerLoaded, [])).toBe(true);
  });
});

describe('Pool: workers start as work needs them', () => {
  const workers = (): string[] => activeChildren().map((ref) => ref.name).filter((name) => name.startsWith('PoolWorker-'));

  it('starts one worker at once, another for each task the workers cannot take, and the rest once one has answered', async () => {
    const p = pool({ size: 3 });
    expect(workers()).toHaveLength(1);
    const dir = mkdtempSync(join(tmpdir(), 'troupe-meet-'));
    try {
      // Two tasks that wait for each other: they need two workers at once.
      const meeting = Promise.all([p.apply(meetAnother, [dir]), p.apply(meetAnother, [dir])]);
      expect(workers()).toHaveLength(2);
      expect(new Set(await within(meeting, 'two tasks that meet'))).toHaveProperty('size', 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await until(() => workers().length === 3, 20_000, 'the third worker');
  });

  it('starts no worker once join() has ended, though its initializer\'s module was still being bundled', async () => {
    const p = new Pool({ size: 2, initializer: setPrefix, initArgs: ['x'] });
    p.close();
    await within(p.join(), 'join() of a pool closed at once');
    // The pool's own wait for that bundle ended before this one does.
    await taskBundle(setPrefix);
    await new Promise((resolve) => setImmediate(resolve));
    expect(workers()).toEqual([]);
  });

  it('fills an idle pool once its first worker is up, and starts none for a pool closed with nothing to run', async () => {
    const idle = pool({ size: 3 });
    await until(() => workers().length === 3, 20_000, 'an idle pool of 3 to fill up');
    await idle.terminate();
    const spawned: string[] = [];
    const onSpawn = (ref: { name: string }): void => void spawned.push(ref.name);
    node().on('spawn', onSpawn);
    try {
      const closed = pool({ size: 3 });
      closed.close();
      await within(closed.join(), 'join() of a pool closed at once');
      expect(spawned).toHaveLength(1);
    } finally {
      node().off('spawn', onSpawn);
    }
  });
});

describe('Pool in an actor that returns', () => {
  it('runs a task given while its worker still starts, though the actor returned at once, and the actor ends 0', async () => {
    const a = reap(spawn(firesTaskAndReturns, { args: [300] }));
    const said = await current().receive({ match: (m): m is object => typeof m === 'object' && m !== null && ('result' in m || 'error' in m), timeout: 20_000 });
    // Before: the actor's end SIGTERMed the starting worker (WorkerCrashedError), and the pool started others.
    expect(said).toEqual({ result: 300 });
    expect(await a.join({ timeout: 10_000 })).toBe(0);
  });
});

describe('Pool timeouts and slow modules', () => {
  it("does not count a task's module load against its timeout: each new worker loads it first, then runs the task timed", async () => {
    const p = pool({ size: 1 });
    // The module takes 400 ms to import; the task, none. Before, every attempt timed out at 250 ms,
    // killing the worker, whose replacement had to import the module again.
    expect(await p.apply(quickAfterSlowImport, [1], { timeout: 250 })).toBe(2);
    expect(await p.apply(quickAfterSlowImport, [2], { timeout: 250 })).toBe(3);
    expect(await p.map(quickAfterSlowImport, [1, 2, 3], { timeout: 250, chunksize: 1 })).toEqual([2, 3, 4]);
    // The load is no task: a worker replaced after each task loads the module, then runs its one task.
    const once = pool({ size: 1, maxTasksPerChild: 1 });
    expect(await once.map(quickAfterSlowImport, [1, 2], { timeout: 250, chunksize: 1 })).toEqual([2, 3]);
  });
});

describe('Pool dropped without close()', () => {
  it('is not collected while its tasks wait for a worker replaced after maxTasksPerChild, though nothing else holds it', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collecting = setInterval(gc, 2);
    try {
      // Before, the pool went between a worker's last task and its replacement's start: the tasks
      // queued then never settled, and the program hung.
      const results = (() => {
        const p = new Pool({ size: 1, maxTasksPerChild: 1 });
        return [1, 2, 3, 4].map(() => p.apply(slowTask, [100]));
      })();
      expect(await within(Promise.all(results), 'the tasks of a pool nothing else holds')).toEqual([100, 100, 100, 100]);
    } finally {
      clearInterval(collecting);
    }
  });

  it('terminates the workers of a pool collected while idle, with a ResourceWarning; tasks in flight and a close() keep that from happening', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const dropped: Error[] = [];
    const onWarning = (w: Error): void => void ((w as Error & { code?: string }).code === 'TROUPE_POOL_DROPPED' && dropped.push(w));
    process.on('warning', onWarning);
    /** Collects until `done()` or 10 s; each check in a turn of its own, after its collection. */
    const collectUntil = async (done: () => boolean): Promise<void> => {
      const deadline = performance.now() + 10_000;
      while (!done() && performance.now() < deadline) {
        await sleep(20);
        gc();
      }
    };
    try {
      // Of the pool named so (other specs' pools may be collected meanwhile).
      const warned = (name: string): Error[] => dropped.filter((w) => w.message.startsWith(`${name} was collected`));
      // A task in flight holds its pool: dropped at once, it still runs, and the pool then goes.
      const inFlight = (() => {
        const p = new Pool({ size: 1 });
        return { name: p.name, result: p.apply(slowTask, [300]) };
      })();
      gc();
      expect(await within(inFlight.result, 'the task of a dropped pool')).toBe(300);
      await collectUntil(() => warned(inFlight.name).length === 1);
      expect(warned(inFlight.name)).toHaveLength(1);
      // Closed and joined: its workers ended by themselves; collected, it says nothing.
      const closed = await (async () => {
        const p = new Pool({ size: 1 });
        await p.apply(whoRuns, [0]);
        p.close();
        await p.join();
        return { name: p.name, weak: new WeakRef(p) };
      })();
      await collectUntil(() => closed.weak.deref() === undefined);
      expect(closed.weak.deref()).toBeUndefined();
      await sleep(50); // its finalizer has run by now
      expect(warned(closed.name)).toHaveLength(0);
      // Dropped while idle, never closed: before, it was held for the program's life, and its workers with it.
      const idle = await (async () => {
        const p = new Pool({ size: 1 });
        return { name: p.name, pid: await p.apply(whoRuns, [0]) };
      })();
      expect(alive(idle.pid)).toBe(true);
      await collectUntil(() => !alive(idle.pid));
      expect(alive(idle.pid)).toBe(false);
      expect(warned(idle.name)).toHaveLength(1);
      expect(warned(idle.name)[0]!.message).toMatch(/^Pool-\d+ was collected while its worker was alive, never closed nor terminated: it was terminated\./);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
