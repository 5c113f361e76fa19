import { spawn as spawnProcess } from 'node:child_process';
import { getEventListeners, once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AbortError, Pool, PoolClosedError, RemoteError, SerializationError, TimeoutError, WorkerCrashedError, autoChunksize, node, type ChildRef, type ExitEvent, type Task } from '../../index.ts';
import { taskBundle } from '../../runtime/index.ts';
import { add, applyInner, burnUntil, dieOn, exitInInit, exitWith, throwsValue, failOn, holdFirstWorker, identity, leavesInterval, meetAnother, nested, setPrefix, slowTask, square, touch, unencodable, whoRuns, withPrefix, sleepThenPid, pidAfter, revokedResult, throwsSerialization } from '../fixtures/tasks.ts';
import { packNumbers } from '../../actors/pool/worker.ts';
import { children } from '../../runtime/process/child.ts';
import { alive, allGone, poolMaker, runFixture, until, within } from '../helpers.ts';

const NO_JOIN = new URL('../fixtures/pool-no-join.ts', import.meta.url).pathname;

const pool = poolMaker({ size: 2 });

/** 64 numbers, among them those a list encoding may not bring back the same (-0, NaN, ±Infinity, 2⁵³). */
const odd = [NaN, -0, Infinity, -Infinity, 0.1, 2 ** 53, -5, 1e-300];
const numbers = Array.from({ length: 64 }, (_, i) => odd[i % odd.length]!);

/** Runs `body` with the path of a file a task may create, in a directory removed afterwards. */
async function withMarker(body: (dir: string, marker: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'troupe-marker-'));
  try {
    await body(dir, join(dir, 'ran'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Aborts the task `start` gives once the one it gives too (burnUntil `dir`/release, writing
 * `dir`/started) holds its worker, in a loop that reads no message; the aborted one must never run.
 */
async function abortedBehindBurn(p: Pool, dir: string, marker: string, start: (signal: AbortSignal, burnArgs: [string, string]) => { aborted: Promise<unknown>; busy: Promise<unknown> }): Promise<void> {
  const release = join(dir, 'release');
  const started = join(dir, 'started');
  const controller = new AbortController();
  const { aborted, busy } = start(controller.signal, [release, started]);
  await until(() => existsSync(started), 20_000, 'the busy task to start');
  controller.abort();
  await expect(aborted).rejects.toBeInstanceOf(AbortError);
  writeFileSync(release, '');
  await busy;
  // The worker has run what it was sent by now: a task after it answers only then.
  expect(await p.apply(square, [3])).toBe(9);
  expect(existsSync(marker)).toBe(false);
}

describe('Pool', () => {
  it('sends a worker stuck in a long task few tasks ahead, so the others take the rest (chunksize 1)', async () => {
    const p = pool({ size: 2 });
    const dir = mkdtempSync(join(tmpdir(), 'troupe-stuck-'));
    const release = join(dir, 'release');
    try {
      const it = p.imapUnordered(pidAfter, [release, ...Array.from({ length: 40 }, () => null)], { chunksize: 1 })[Symbol.asyncIterator]();
      const next = (): Promise<IteratorResult<readonly [number, boolean]>> =>
        Promise.race([it.next(), sleep(20_000, undefined, { ref: false }).then(() => Promise.reject(new Error('the other worker did not take the tasks while one was stuck')))]);
      const got: (readonly [number, boolean])[] = [];
      // Windows start small and grow only with a worker's pace: while one worker is stuck, at most one
      // task waits behind it, and the other worker answers all the rest.
      while (got.length < 39) got.push((await next()).value!);
      writeFileSync(release, '');
      for (let step = await next(); !step.done; step = await next()) got.push(step.value);
      expect(got).toHaveLength(41);
      const stuck = got.find(([, waited]) => waited)![0];
      expect(got.filter(([pid, waited]) => pid === stuck && !waited).length).toBeLessThanOrEqual(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends tasks of a new kind one at a time until their own pace is known, whatever the pace of the tasks before', async () => {
    const p = pool({ size: 2 });
    // Both workers fast at tiny tasks: their windows are wide for those.
    expect(await p.map(square, Array.from({ length: 2000 }, (_, i) => i), { chunksize: 1 })).toHaveLength(2000);
    const dir = mkdtempSync(join(tmpdir(), 'troupe-new-kind-'));
    const release = join(dir, 'release');
    try {
      const it = p.imapUnordered(pidAfter, [release, ...Array.from({ length: 40 }, () => null)], { chunksize: 1 })[Symbol.asyncIterator]();
      // Before, the windows learnt on square sent about half of these to the worker stuck on the first.
      for (let got = 0; got < 40; got++) expect(await within(it.next(), 'the tasks the other worker could take')).toMatchObject({ done: false });
      writeFileSync(release, '');
      expect(await within(it.next(), 'the stuck task, released')).toMatchObject({ done: false, value: [expect.any(Number), true] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends nothing ahead to a worker whose pace is unknown: a first task that never ends holds no other', async () => {
    const p = pool({ size: 2 });
    const stuck = p.apply(slowTask, [120_000]).catch(() => {});
    const mapped = p.map(square, [1, 2, 3, 4], { chunksize: 1 });
    const tooLong = sleep(20_000, 'held behind the stuck task', { ref: false });
    expect(await Promise.race([mapped, tooLong])).toEqual([1, 4, 9, 16]);
    void stuck;
  });

  it('sends nothing more to a worker fast until it got stuck: tasks given after it stalled go to the other', async () => {
    const p = pool({ size: 2 });
    // Both workers up, and their windows grown with a fast pace.
    expect(await p.map(square, Array.from({ length: 400 }, (_, i) => i), { chunksize: 1 })).toHaveLength(400);
    const stuck = p.apply(slowTask, [120_000]).catch(() => {});
    // No progress for LONG_MS (50 ms) makes it stalled: timers never fire early.
    await sleep(200);
    // Before, the tasks after the first went to the stuck worker as well, whose window was still wide.
    const applied = Promise.all([1, 2, 3, 4, 5, 6].map((x) => p.apply(square, [x])));
    const mapped = p.map(square, Array.from({ length: 20 }, (_, i) => i), { chunksize: 1 });
    const tooLong = sleep(20_000, 'held behind the stuck task', { ref: false });
    expect(await Promise.race([applied, tooLong])).toEqual([1, 4, 9, 16, 25, 36]);
    expect(await Promise.race([mapped, tooLong])).toEqual(Array.from({ length: 20 }, (_, i) => i * i));
    void stuck;
  });

  it('never runs a task aborted before it started, though it was sent ahead to a busy worker: the worker drops it', async () => {
    const p = pool({ size: 1 });
    await withMarker(async (dir, marker) => {
      // A fast pace first, so that the worker's window lets tasks go ahead of the one running; and the
      // task known to the worker, so that its job goes at once, not once its module's bundle is found.
      expect(await p.map(square, Array.from({ length: 200 }, (_, i) => i), { chunksize: 1 })).toHaveLength(200);
      await p.apply(touch, [join(dir, 'known')]);
      await p.apply(burnUntil, [join(dir, 'known')]);
      // Busy in a synchronous task: the cancel waits in its pipe until that task has ended. Before, the
      // task was sent behind the busy one, and ran after its caller was told it was aborted.
      await abortedBehindBurn(p, dir, marker, (signal, burnArgs) => ({ busy: p.apply(burnUntil, burnArgs), aborted: p.apply(touch, [marker], { signal }) }));
    });
  });

  it('drops an aborted task sent after a later one (its module\'s bundle awaited): jobs are numbered as they are sent', async () => {
    const p = pool({ size: 1 });
    await withMarker(async (dir, marker) => {
      // burnUntil known to the worker, touch not: touch's job waits for its bundle, burnUntil's goes at once.
      expect(await p.map(square, Array.from({ length: 200 }, (_, i) => i), { chunksize: 1 })).toHaveLength(200);
      writeFileSync(join(dir, 'known'), '');
      await p.apply(burnUntil, [join(dir, 'known')]);
      // Before, touch's number (given as it was queued) was below burnUntil's, which the worker had run:
      // it took touch's cancel for a stale one, and ran touch.
      await abortedBehindBurn(p, dir, marker, (signal, burnArgs) => ({
        aborted: p.apply(touch, [marker], { signal }),
        busy: p.apply(burnUntil, burnArgs, { signal: new AbortController().signal }),
      }));
    });
  });

  it('counts a task its worker dropped for an abort among that worker\'s maxTasksPerChild, so that it ends and is replaced', async () => {
    const p = pool({ size: 1, maxTasksPerChild: 2 });
    await withMarker(async (dir, marker) => {
      await p.apply(touch, [join(dir, 'known')]);
      const controller = new AbortController();
      const aborted = p.apply(touch, [marker], { signal: controller.signal });
      // In the same turn: the job and its cancel reach the worker together, and it drops the job.
      controller.abort();
      await expect(aborted).rejects.toBeInstanceOf(AbortError);
      // Before, the worker counted one task where the pool counted two: the pool sent it nothing
      // more, waiting for it to end, and it waited for more.
      expect(await Promise.race([p.apply(square, [3]), sleep(20_000, 'held by a worker that never ended', { ref: false })])).toBe(9);
      expect(existsSync(marker)).toBe(false);
    });
  });

  it('maps in order, with chunks chosen as Python chooses them', async () => {
    const p = pool();
    expect(await p.map(square, [1, 2, 3, 4, 5])).toEqual([1, 4, 9, 16, 25]);
    expect(await p.map(square, [])).toEqual([]);
    expect(await p.map(square, Array.from({ length: 1000 }, (_, i) => i))).toEqual(Array.from({ length: 1000 }, (_, i) => i * i));
    expect([autoChunksize(1000, 2), autoChunksize(8, 2), autoChunksize(3, 2), autoChunksize(9, 2)]).toEqual([125, 1, 1, 2]);
  });

  it('sends chunks of plain numbers as Float64Arrays, and gives back plain arrays of the very same numbers', async () => {
    expect(packNumbers(numbers)).toBeInstanceOf(Float64Array);
    expect(packNumbers([...numbers, 'x'])).toBeNull();
    expect(packNumbers([1, 2, 3])).toBeNull();
    const p = pool();
    const back = await p.map(identity, numbers, { chunksize: 32 });
    expect(Array.isArray(back)).toBe(true);
    expect(back).toEqual(numbers);
    expect(Object.is(back[1], -0)).toBe(true);
  });

  it('packs a range of items with no slice made first, and gives back a map whose results turn from numbers to other values partway', async () => {
    const packed = packNumbers(numbers, 8, 40);
    expect(packed).toBeInstanceOf(Float64Array);
    expect(packed).toEqual(Float64Array.from(numbers.slice(8, 40)));
    expect(packNumbers(['x', ...numbers], 1, 33)).toBeInstanceOf(Float64Array);
    expect(packNumbers([...numbers, 'x'], 40, 65)).toBeNull();
    // Chunks of 16: all numbers (packed, -0 kept); numbers then strings (a worker's results turn partway);
    // strings. msgpack has no -0, so the mixed chunk holds none.
    const strings = Array.from({ length: 24 }, (_, i) => `s${i}`);
    const items: unknown[] = [...numbers.slice(0, 16), ...numbers.slice(16, 24).map((x) => (Object.is(x, -0) ? 0 : x)), ...strings];
    const back = await pool().map(identity, items, { chunksize: 16 });
    expect(Array.isArray(back)).toBe(true);
    expect(back).toEqual(items);
    expect(Object.is(back[1], -0)).toBe(true);
  });

  it("packs a map's numbers into the memory of the last map's chunks, once their answers are in, and each map's results are its own", async () => {
    const p = pool({ size: 2 });
    const xs = Array.from({ length: 40_000 }, (_, i) => i);
    expect((await p.map(square, xs))[39_999]).toBe(39_999 ** 2);
    // Counts the Float64Arrays packNumbers makes, while the next map of the same size runs.
    let made = 0;
    const Real = Float64Array;
    globalThis.Float64Array = new Proxy(Real, {
      construct(target, args, newTarget) {
        if (new Error().stack!.includes('packNumbers')) made++;
        return Reflect.construct(target, args, newTarget) as object;
      },
    });
    let again: number[];
    try {
      again = await p.map(square, xs.map((x) => x + 1));
    } finally {
      globalThis.Float64Array = Real;
    }
    // Before, each map packed its eight chunks into fresh memory.
    expect(made).toBe(0);
    expect(again[0]).toBe(1);
    expect(again[39_999]).toBe(40_000 ** 2);
    expect(again.every((y, i) => y === (i + 1) ** 2)).toBe(true);
  });

  it('packs imap and imapUnordered chunks of plain numbers as map does, so every number comes back the same (-0 too), and mixed chunks as they are', async () => {
    // msgpack has no -0: it comes back as 0 from a chunk that is not all numbers, so the mix leaves it out.
    const mixed: unknown[] = ['x', null, 7n, ...numbers.filter((x) => !Object.is(x, -0))];
    const collect = async <T>(results: AsyncIterable<T>): Promise<T[]> => {
      const all: T[] = [];
      for await (const r of results) all.push(r);
      return all;
    };
    const p = pool();
    const back = await collect(p.imap(identity, numbers, { chunksize: 32 }));
    expect(back).toEqual(numbers);
    expect(Object.is(back[1], -0)).toBe(true);
    expect(await collect(p.imap(identity, mixed, { chunksize: 32 }))).toEqual(mixed);
    const distinct = Array.from({ length: 64 }, (_, i) => i / 4 - 3);
    const unordered = await collect(p.imapUnordered(square, distinct, { chunksize: 16 }));
    expect(unordered.sort((a, b) => a - b)).toEqual(distinct.map((x) => x * x).sort((a, b) => a - b));
  });

  it('applies, starmaps, and reports progress', async () => {
    const p = pool();
    expect(await p.apply(add, [2, 3])).toBe(5);
    expect(await p.starmap(add, [[1, 2], [3, 4]])).toEqual([3, 7]);
    const progress: [number, number][] = [];
    await p.map(square, [1, 2, 3, 4], { chunksize: 1, onProgress: (d, t) => progress.push([d, t]) });
    expect(progress.map(([d]) => d).sort((a, b) => a - b)).toEqual([1, 2, 3, 4]);
    expect(progress.every(([, t]) => t === 4)).toBe(true);
    let got: number | undefined;
    await p.applyAsync(add, [1, 1], { callback: (r) => (got = r) });
    expect(got).toBe(2);
  });

  it('reports the progress of imap and imapUnordered, and ends one whose callback throws with its error', async () => {
    const p = pool();
    const progress: [number, number][] = [];
    const seen: number[] = [];
    for await (const r of p.imapUnordered(square, [1, 2, 3, 4, 5], { chunksize: 2, onProgress: (d, t) => progress.push([d, t]) })) seen.push(r);
    expect(seen.sort((a, b) => a - b)).toEqual([1, 4, 9, 16, 25]);
    expect(progress.map(([d]) => d)).toEqual([...progress.map(([d]) => d)].sort((a, b) => a - b));
    expect(progress.at(-1)).toEqual([5, 5]);
    // A generator's total is what was read of it so far: all of it by the last report.
    progress.length = 0;
    function* five(): Generator<number> {
      for (let i = 1; i <= 5; i++) yield i;
    }
    for await (const _ of p.imap(square, five(), { onProgress: (d, t) => progress.push([d, t]) })) void _;
    expect(progress.map(([d]) => d)).toEqual([1, 2, 3, 4, 5]);
    expect(progress.every(([d, t]) => t >= d && t <= 5)).toBe(true);
    expect(progress.at(-1)).toEqual([5, 5]);
    // The callback's error ends the imap.
    const boom = new Error('progress callback failed');
    const err = await (async () => {
      for await (const _ of p.imap(square, [1, 2, 3, 4], { chunksize: 1, onProgress: () => { throw boom; } })) void _;
    })().catch((e: unknown) => e);
    expect(err).toBe(boom);
    expect(await p.map(square, [3])).toEqual([9]);
  });

  it('imap yields in order, imapUnordered all of them, lazily from any iterable', async () => {
    const p = pool();
    function* numbers(): Generator<number> {
      for (let i = 0; i < 20; i++) yield i;
    }
    const ordered: number[] = [];
    for await (const r of p.imap(square, numbers())) ordered.push(r);
    expect(ordered).toEqual([...numbers()].map((i) => i * i));
    const unordered: number[] = [];
    for await (const r of p.imapUnordered(slowTask, [30, 1, 20, 2])) unordered.push(r);
    expect(unordered.sort((a, b) => a - b)).toEqual([1, 2, 20, 30]);
  });

  it('runs tasks in several worker processes', async () => {
    const p = pool({ size: 2 });
    // Each task waits for a task in another process: a worker holds at most two ahead, so both must run some.
    const dir = mkdtempSync(join(tmpdir(), 'troupe-meet-'));
    try {
      const pids = new Set(await p.map(meetAnother, [dir, dir, dir, dir], { chunksize: 1 }));
      expect(pids.size).toBe(2);
      expect(pids.has(process.pid)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a failing task with RemoteError carrying the remote error, and stays usable', async () => {
    const p = pool();
    const err = await p.map(failOn, [1, 2, 3, 4], { chunksize: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).cause).toBeInstanceOf(RangeError);
    expect((err as RemoteError).remoteStack).toContain('spec/fixtures/tasks.ts');
    // Said as the task's failure, not as a call the worker failed to handle.
    expect((err as RemoteError).message).toMatch(/^A task failed in PoolWorker-\S+ of Pool-\d+: RangeError: no threes \(3\)$/);
    expect(await p.map(failOn, [1, 2])).toEqual([1, 2]);
  });

  it('rejects a result that cannot be encoded with SerializationError, and loses no worker', async () => {
    const p = pool({ size: 1 });
    const pid = await p.apply(whoRuns, [0]);
    await expect(p.apply(unencodable, [1])).rejects.toBeInstanceOf(SerializationError);
    expect(await p.apply(whoRuns, [0])).toBe(pid);
    // One that cannot even be asked whether it is a promise (a revoked proxy): the same.
    const revoked = await p.apply(revokedResult, [1]).catch((e: unknown) => e);
    expect(revoked).toBeInstanceOf(SerializationError);
    expect((revoked as SerializationError).path).toMatch(/^result/);
    expect(await p.apply(whoRuns, [0])).toBe(pid);
  });

  it('reports a SerializationError the task itself threw as the task\'s failure, with its remote stack', async () => {
    const p = pool({ size: 1 });
    const err = await p.apply(throwsSerialization, [1]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).remoteName).toBe('SerializationError');
    expect((err as RemoteError).remoteStack).toContain('fixtures/tasks.ts');
    expect((err as RemoteError).cause).toBeInstanceOf(SerializationError);
    expect(((err as RemoteError).cause as SerializationError).path).toBe('args[0].cb');
  });

  it('fails a task that ends its worker with exit code 0 with WorkerCrashedError, once (not run again and again)', async () => {
    const p = pool({ size: 1 });
    let spawned = 0;
    const count = (ref: { name: string }): void => void (ref.name.startsWith('PoolWorker-') && spawned++);
    node().on('spawn', count);
    try {
      const err = await p.apply(exitWith, [0], { timeout: 20_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkerCrashedError);
      expect((err as WorkerCrashedError).exitCode).toBe(0);
      expect(await p.apply(square, [3])).toBe(9);
      expect(spawned).toBeLessThanOrEqual(2); // the first worker and its replacement
    } finally {
      node().off('spawn', count);
    }
  });

  it("runs a task with a timeout only once its worker is idle: its time does not run while it waits behind another task", async () => {
    const p = pool({ size: 1 });
    const pid = await p.apply(whoRuns, [0]);
    const slow = p.apply(slowTask, [800]);
    // Sent ahead, it would wait 800 ms behind the slow task and time out, and its worker be killed with it.
    expect(await p.apply(square, [3], { timeout: 400 })).toBe(9);
    expect(await slow).toBe(800);
    expect(await p.apply(whoRuns, [0])).toBe(pid);
    expect(await p.map(slowTask, [150, 150, 150, 150], { chunksize: 1, timeout: 1000 })).toEqual([150, 150, 150, 150]);
  });

  it('fails only the call whose argument cannot cross, and the task still runs for the next', async () => {
    const p = pool({ size: 1 });
    const err = await p.map(identity, [() => 1, () => 2], { chunksize: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as SerializationError).message).toMatch(/^Cannot send item: it is a function/);
    expect(await p.map(identity, [1, 2, 3], { chunksize: 1 })).toEqual([1, 2, 3]);
    // With a task quota: jobs that never went are not counted against it (the worker would wait for one the pool never sends).
    const q = pool({ size: 1, maxTasksPerChild: 2 });
    expect(await q.apply(identity, [1])).toBe(1);
    await expect(q.apply(identity, [() => 1])).rejects.toBeInstanceOf(SerializationError);
    expect(await q.map(identity, [2, 3, 4], { chunksize: 1 })).toEqual([2, 3, 4]);
  });

  it.each([
    ['ends a program that neither joins nor terminates its pool, as Python ends it (its workers are daemons)', 'done'],
    ['keeps such a program alive while a task of its pool runs, and then ends it', 'pending'],
    ['keeps a program alive while terminate() waits for its workers to end', 'terminate'],
    ['runs an imap read while join() waits for a worker in its initializer, then lets the program end', 'join-imap'],
  ])('%s', async (_what, mode) => {
    const program = spawnProcess(process.execPath, ['--import', 'tsx', NO_JOIN, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    program.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const deadline = new AbortController();
    try {
      const tooLong = sleep(30_000, ['still running after 30 s'], { signal: deadline.signal }).catch(() => ['']);
      const [code] = (await Promise.race([once(program, 'exit'), tooLong])) as [unknown];
      expect(code).toBe(0);
      const [pidsLine, ...rest] = out.trim().split('\n');
      expect(rest).toEqual(mode === 'pending' ? ['callback 300'] : mode === 'terminate' ? ['terminated'] : mode === 'join-imap' ? ['joined 1,2,3'] : []);
      await allGone([...new Set(JSON.parse(pidsLine!) as number[])], 5000);
    } finally {
      deadline.abort();
      if (program.exitCode === null && program.signalCode === null) program.kill('SIGKILL');
    }
  });

  it('lets two join() calls wait together: both resolve', async () => {
    const p = pool({ size: 1 });
    const result = p.apply(slowTask, [100]);
    p.close();
    await Promise.all([p.join(), p.join(), result]);
  });

  it('fails the tasks of a worker that dies with WorkerCrashedError, replaces it, and never hangs', async () => {
    const p = pool({ size: 2 });
    const err = await p.map(dieOn, [1, 2, 3], { chunksize: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerCrashedError);
    expect(err).toMatchObject({ code: 'ERR_WORKER_CRASHED', exitCode: -9 });
    expect((err as Error).message).toMatch(/\. It is replaced; run the task again if it is safe to\.$/);
    expect(await p.map(square, [1, 2, 3, 4, 5, 6])).toEqual([1, 4, 9, 16, 25, 36]);
    // Closed with nothing else to run, it replaces no worker, and says so.
    const last = p.apply(dieOn, [2]);
    p.close();
    const crashed = await last.catch((e: unknown) => e);
    expect(crashed).toBeInstanceOf(WorkerCrashedError);
    expect((crashed as Error).message).toMatch(/\. Pool-\d+ is ending, and starts no other; run the task again if it is safe to\.$/);
    await p.join();
  });

  it('times out an overdue task and replaces its worker', async () => {
    const p = pool({ size: 1 });
    const pid = await p.apply(whoRuns, [0]);
    const late = (await p.apply(slowTask, [10_000], { timeout: 100 }).catch((e: unknown) => e)) as TimeoutError;
    expect(late).toBeInstanceOf(TimeoutError);
    expect(late.message).toMatch(/ran past its timeout of 100 ms; its worker PoolWorker-\S+ was killed/);
    expect(await p.apply(whoRuns, [0])).not.toBe(pid);
  });

  it('cancels with an AbortSignal', async () => {
    const p = pool({ size: 1 });
    const controller = new AbortController();
    const pending = p.map(slowTask, [200, 200, 200], { chunksize: 1, signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(AbortError);
  });

  it('replaces each worker after maxTasksPerChild tasks, and closes and joins without hanging', async () => {
    const p = pool({ size: 2, maxTasksPerChild: 1 });
    const pids = await p.map(whoRuns, [1, 2, 3, 4, 5, 6], { chunksize: 1 });
    expect(new Set(pids).size).toBe(6);
    p.close();
    await p.join();
  });

  it("takes maxTasksPerChild: null as no limit, as Python's None", async () => {
    const p = pool({ size: 1, maxTasksPerChild: null });
    // One worker ran them all: none was replaced.
    expect(new Set(await p.map(whoRuns, [1, 2, 3], { chunksize: 1 })).size).toBe(1);
  });

  it('runs the initializer once in each worker', async () => {
    const p = pool({ size: 2, initializer: setPrefix, initArgs: ['ready'] });
    expect(await p.map(withPrefix, [1, 2, 3])).toEqual(['ready:1', 'ready:2', 'ready:3']);
  });

  it('replaces a maxTasksPerChild worker whose task left an interval running, without waiting for it', async () => {
    const p = pool({ size: 1, maxTasksPerChild: 1 });
    // Before, each worker's process waited for the interval its task left (its behaviour had
    // returned), and the pool, which replaces a worker once it has exited, waited with it.
    expect(await p.map(leavesInterval, [1, 2, 3], { chunksize: 1 })).toEqual([1, 2, 3]);
  });

  it("runs a started worker's initializer when the pool is closed and joined before any task (Python's test_pool_initializer)", async () => {
    const file = join(tmpdir(), `troupe-init-${process.pid}-${Date.now()}`);
    try {
      const p = pool({ size: 1, initializer: touch, initArgs: [file] });
      p.close();
      await p.join();
      // Before, join() stopped the worker first (its initializer's module still being bundled).
      expect(existsSync(file)).toBe(true);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('joins a closed pool whose worker dies in its initializer, without waiting on its replacements', async () => {
    const spawned: ChildRef[] = [];
    const onSpawn = (ref: ChildRef): void => void (ref.name.startsWith('PoolWorker-') && spawned.push(ref));
    node().on('spawn', onSpawn);
    try {
      const p = pool({ size: 1, initializer: exitInInit });
      p.close();
      await p.join();
      // Joined: each worker it started has ended, and none is left starting.
      expect(spawned.length).toBeGreaterThan(0);
      expect(spawned.filter((ref) => ref.exitCode === null)).toEqual([]);
    } finally {
      node().off('spawn', onSpawn);
    }
  });

  it('gives tasks to the workers that have started, never ahead to one still starting', async () => {
    const release = join(tmpdir(), `troupe-release-${process.pid}-${Date.now()}`);
    const meet = `${release}-meet`;
    const p = pool({ size: 2, initializer: holdFirstWorker, initArgs: [release] });
    try {
      // The first worker waits in its initializer: a task sent ahead to it would time out there.
      const pids = await p.map(whoRuns, [1, 2, 3, 4], { chunksize: 1, timeout: 15_000 });
      expect(new Set(pids).size).toBe(1);
      writeFileSync(release, '');
      // Released, it takes tasks too: each task now waits for one in another process,
      // and there are more than the other worker is sent ahead (128 at most).
      mkdirSync(meet);
      const both = await p.map(meetAnother, Array.from({ length: 300 }, () => meet), { chunksize: 1, timeout: 15_000 });
      expect(new Set(both).size).toBe(2);
    } finally {
      rmSync(release, { force: true });
      rmSync(meet, { recursive: true, force: true });
    }
  });

  it('does not time tasks queued while a worker of maxTasksPerChild is replaced: without an initializer, a start is routine', async () => {
    const p = pool({ size: 1, maxTasksPerChild: 1 });
    expect(await p.apply(square, [2])).toBe(4);
    // Each task ends its worker; the others wait for the next to start (a node's start, 100 ms and
    // more here). Before, that wait counted against their timeout, and most failed with TimeoutError.
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => p.apply(square, [i], { timeout: 100 })));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).name))).toEqual([0, 1, 4, 9, 16, 25]);
  });

  it('fails a task with TimeoutError when no worker starts within its timeout (an initializer that hangs), and runs tasks once one does', async () => {
    const release = join(tmpdir(), `troupe-release-${process.pid}-${Date.now()}-b`);
    const p = pool({ size: 1, initializer: holdFirstWorker, initArgs: [release] });
    try {
      const err = await p.apply(square, [3], { timeout: 300 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TimeoutError);
      expect((err as TimeoutError).message).toContain('none started in that time');
      // Without a timeout a task waits for the worker, which then runs it.
      const later = p.apply(square, [4]);
      writeFileSync(release, '');
      expect(await later).toBe(16);
      // Timed from when it runs once a worker has started: a queue behind a busy worker is not a timeout.
      expect(await p.map(sleepThenPid, [300, 300, 300, 300], { chunksize: 1, timeout: 1000 })).toHaveLength(4);
    } finally {
      rmSync(release, { force: true });
    }
  });

  it('lets join() end when the tasks no worker started for have all timed out', async () => {
    const release = join(tmpdir(), `troupe-release-${process.pid}-${Date.now()}-c`);
    const p = pool({ size: 1, initializer: holdFirstWorker, initArgs: [release] });
    try {
      await expect(p.apply(square, [3], { timeout: 200 })).rejects.toBeInstanceOf(TimeoutError);
      p.close();
      await p.join();
    } finally {
      rmSync(release, { force: true });
    }
  });

  describe('the first task, sent with the first worker\'s start', () => {
    /** The first pool worker spawned from now on, stopped (SIGSTOP) as it spawns: it cannot get ready until let go. */
    function stopFirstWorker(): { first: Promise<ChildRef>; done(): void } {
      let stopped: ChildRef | undefined;
      let found!: (ref: ChildRef) => void;
      const first = new Promise<ChildRef>((resolve) => (found = resolve));
      const onSpawn = (ref: ChildRef): void => {
        if (stopped !== undefined || !ref.name.startsWith('PoolWorker-')) return;
        stopped = ref;
        process.kill(ref.pid!, 'SIGSTOP');
        found(ref);
      };
      node().on('spawn', onSpawn);
      return {
        first: Promise.race([first, sleep(20_000).then(() => Promise.reject(new Error('no pool worker spawned')))]),
        done() {
          node().off('spawn', onSpawn);
          if (stopped?.pid != null && alive(stopped.pid)) process.kill(stopped.pid, 'SIGCONT');
        },
      };
    }
    const core = (ref: ChildRef) => children().find((c) => c.ref.id === ref.id)!;
    /** The stopped worker, once the task given first is in its pipe. */
    async function aheadTo(stop: { first: Promise<ChildRef> }): Promise<ChildRef> {
      const worker = await stop.first;
      await until(() => core(worker).callsInFlight === 1, 10_000, 'the task to go to the worker');
      return worker;
    }

    it('is in the worker\'s pipe before the worker is ready', async () => {
      const stop = stopFirstWorker();
      try {
        const p = pool({ size: 1 });
        const result = p.apply(square, [3]);
        const worker = await aheadTo(stop);
        expect(core(worker).starting).toBe(true);
        process.kill(worker.pid!, 'SIGCONT');
        expect(await result).toBe(9);
      } finally {
        stop.done();
      }
    });

    it('goes back in the queue if that worker dies before it was ready while another has started', async () => {
      const stop = stopFirstWorker();
      try {
        const p = pool({ size: 2 });
        const ahead = p.apply(whoRuns, [0]);
        const worker = await aheadTo(stop);
        // Waits for the other worker, which has started once it answers.
        const other = await p.apply(whoRuns, [1]);
        expect(other).not.toBe(worker.pid);
        process.kill(worker.pid!, 'SIGKILL');
        expect(await ahead).toBe(other);
      } finally {
        stop.done();
      }
    });

    it('fails alone, with WorkerCrashedError, if that worker dies before any worker was ready', async () => {
      const stop = stopFirstWorker();
      try {
        const p = pool({ size: 1 });
        const ahead = p.apply(square, [2]).catch((e: unknown) => e);
        const queued = p.apply(square, [5]);
        const worker = await aheadTo(stop);
        process.kill(worker.pid!, 'SIGKILL');
        const err = await ahead;
        expect(err).toBeInstanceOf(WorkerCrashedError);
        expect((err as WorkerCrashedError).message).toMatch(/died while it started, before it took a task/);
        expect((err as WorkerCrashedError).message).not.toMatch(/initializer/);
        // The task queued behind it runs on the worker that replaces it.
        expect(await queued).toBe(25);
      } finally {
        stop.done();
      }
    });

    it('goes back in the queue when its worker dies before ready while the others cycle (maxTasksPerChild), though none is up then', async () => {
      const stop = stopFirstWorker();
      try {
        const p = pool({ size: 2, maxTasksPerChild: 1 });
        const ahead = p.apply(whoRuns, [0]);
        const worker = await stop.first;
        await aheadTo(stop);
        // The other worker runs one task and ends: at its exit no worker of the pool is up.
        const other = await p.apply(whoRuns, [1]);
        await new Promise<void>((resolve) => {
          const onExit = (event: ExitEvent): void => {
            if (event.ref.pid !== other) return;
            node().off('exit', onExit);
            process.kill(worker.pid!, 'SIGKILL');
            resolve();
          };
          node().on('exit', onExit);
        });
        const ranOn = await ahead;
        expect([worker.pid, other]).not.toContain(ranOn);
      } finally {
        stop.done();
      }
    });

    it('runs on another worker when it went to a worker killed while idle: that worker never took it', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'troupe-idle-kill-'));
      try {
        const p = pool({ size: 2 });
        // Both workers up, each having run a task, and idle.
        const pids = await Promise.all([p.apply(meetAnother, [dir]), p.apply(meetAnother, [dir])]);
        expect(new Set(pids).size).toBe(2);
        // Killed, and the map sent before the pool can have heard of it: some of its jobs go to the dead worker.
        process.kill(pids[0], 'SIGKILL');
        const items = Array.from({ length: 20 }, (_, i) => i);
        expect(await p.map(square, items, { chunksize: 1 })).toEqual(items.map((x) => x * x));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('runs on another worker when its worker was killed while its module was still being bundled', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'troupe-idle-kill-'));
      // A module no pool has bundled yet: its jobs wait for the bundle, and go to a worker already dead.
      const file = join(import.meta.dirname, '..', 'fixtures', `tmp-unbuilt-${process.pid}-${Date.now()}.ts`);
      writeFileSync(file, "import { task } from '../../index.ts';\nexport const triple = task((x: number) => x * 3);\n");
      try {
        const { triple } = (await import(pathToFileURL(file).href)) as { triple: Task<[number], number> };
        const p = pool({ size: 2 });
        const pids = await Promise.all([p.apply(meetAnother, [dir]), p.apply(meetAnother, [dir])]);
        process.kill(pids[0], 'SIGKILL');
        const items = Array.from({ length: 20 }, (_, i) => i);
        // Before, the jobs routed to the dead worker failed with WorkerCrashedError, as if they had run.
        expect(await p.map(triple, items, { chunksize: 1 })).toEqual(items.map((x) => x * 3));
      } finally {
        rmSync(file, { force: true });
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('runs once, and fails with WorkerCrashedError, when it kills its worker', async () => {
      const exits: string[] = [];
      const onExit = (event: ExitEvent): void => void (event.ref.name.startsWith('PoolWorker-') && exits.push(event.ref.name));
      node().on('exit', onExit);
      try {
        const p = pool({ size: 2 });
        const err = await p.apply(dieOn, [2]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkerCrashedError);
        expect((err as WorkerCrashedError).message).toMatch(/died while it ran this task/);
        // The pool goes on, and only the worker that ran it died.
        expect(await p.apply(square, [4])).toBe(16);
        expect(exits).toHaveLength(1);
      } finally {
        node().off('exit', onExit);
      }
    });

    it('starts no worker after join() when that worker died with it', async () => {
      const stop = stopFirstWorker();
      const spawned: ChildRef[] = [];
      const onSpawn = (ref: ChildRef): void => void (ref.name.startsWith('PoolWorker-') && spawned.push(ref));
      node().on('spawn', onSpawn);
      try {
        const p = pool({ size: 1 });
        const ahead = p.apply(square, [2]).catch((e: unknown) => e);
        const worker = await aheadTo(stop);
        p.close();
        const joined = p.join();
        process.kill(worker.pid!, 'SIGKILL');
        expect(await ahead).toBeInstanceOf(WorkerCrashedError);
        await joined;
        // A replacement would be spawned 50 ms after the death (see RESPAWN_FIRST_MS): wait well past it.
        await sleep(500);
        expect(spawned.map((r) => r.name)).toEqual([worker.name]);
      } finally {
        node().off('spawn', onSpawn);
        stop.done();
      }
    });

    it('is never a task with a signal: aborted before any worker is ready, it never runs', async () => {
      const stop = stopFirstWorker();
      const file = join(tmpdir(), `troupe-unrun-${process.pid}-${Date.now()}`);
      try {
        const p = pool({ size: 1 });
        const controller = new AbortController();
        const aborted = p.apply(touch, [file], { signal: controller.signal }).catch((e: unknown) => e);
        const worker = await stop.first;
        // The pool asked for the same bundle first: by now a task it would send ahead has gone.
        await taskBundle(touch);
        await new Promise((resolve) => setImmediate(resolve));
        expect(core(worker).callsInFlight).toBe(0);
        controller.abort();
        expect(await aborted).toBeInstanceOf(AbortError);
        process.kill(worker.pid!, 'SIGCONT');
        p.close();
        await p.join();
        expect(existsSync(file)).toBe(false);
      } finally {
        stop.done();
        rmSync(file, { force: true });
      }
    });
  });

  it('fails a task with WorkerCrashedError when its worker dies while starting (an initializer that exits)', async () => {
    const p = pool({ size: 1, initializer: exitInInit });
    const err = await p.apply(square, [2]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerCrashedError);
    expect((err as WorkerCrashedError).exitCode).toBe(7);
  });

  it('replaces workers that die while they start ever more slowly, not in a storm of processes', async () => {
    let spawned = 0;
    const onSpawn = (ref: { name: string }): void => void (ref.name.startsWith('PoolWorker-') && spawned++);
    node().on('spawn', onSpawn);
    try {
      pool({ size: 1, initializer: exitInInit });
      // A window of time is the measure here: backing off from 50 ms and doubling, at most 7 starts
      // fit in 2.5 s however fast the machine; replaced at once, a worker starts every ~100 ms.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(spawned).toBeGreaterThanOrEqual(2);
      expect(spawned).toBeLessThanOrEqual(7);
    } finally {
      node().off('spawn', onSpawn);
    }
  });

  it('takes timeout: Infinity as no deadline, while workers start too', async () => {
    const p = pool({ size: 1 });
    expect(await p.apply(square, [5], { timeout: Infinity })).toBe(25);
  });

  it('rejects the error of an input iterable that throws, and stays usable', async () => {
    const p = pool();
    function* broken(): Generator<number> {
      yield 1;
      throw new Error('the input broke');
    }
    await expect(p.map(square, broken())).rejects.toThrow('the input broke');
    expect(await p.map(square, [2])).toEqual([4]);
  });

  it("rejects an imap whose input's next() gives something that is no object with a TypeError, as for…of does, not an endless input", async () => {
    const p = pool();
    const malformed = (result: unknown): Iterable<number> => ({ [Symbol.iterator]: () => ({ next: () => result as IteratorResult<number> }) });
    const asyncMalformed = (result: unknown): AsyncIterable<number> => ({ [Symbol.asyncIterator]: () => ({ next: async () => result as IteratorResult<number> }) });
    for (const input of [malformed(5), malformed(null), asyncMalformed(5), asyncMalformed('x')]) {
      for (const imap of [p.imap(square, input), p.imapUnordered(square, input)]) {
        const seen: number[] = [];
        // Before, a result of 5 read as an item `undefined`, for ever: this loop never ended.
        const error = await (async () => {
          for await (const x of imap) if (seen.push(x) > 10) return 'endless';
        })().catch((err: unknown) => err);
        expect(error).toBeInstanceOf(TypeError);
        expect((error as TypeError).message).toMatch(/^Iterator result .* is not an object$/);
        expect(seen).toEqual([]);
      }
    }
    expect(await p.map(square, [3])).toEqual([9]);
  });

  it("gives an imap's results for the items before the one its input failed at, then the input's error (as Python's test_imap_handle_iterable_exception)", async () => {
    const p = pool();
    function* sayWhen(total: number, when: number): Generator<number> {
      for (let i = 0; i < total; i++) {
        if (i === when) throw new Error('SayWhenError');
        yield i;
      }
    }
    const read = async (it: AsyncIterable<number>): Promise<{ got: number[]; error: unknown }> => {
      const got: number[] = [];
      try {
        for await (const x of it) got.push(x);
      } catch (error) {
        return { got, error };
      }
      return { got, error: null };
    };
    const squares = (n: number): number[] => Array.from({ length: n }, (_, i) => i * i);
    // The chunk the input broke in is dropped: with chunks of 2 and of 4, the items before 7 that filled whole chunks.
    for (const [total, when, chunksize, before] of [[10, 3, 1, 3], [20, 7, 2, 6], [20, 7, 4, 4]] as const) {
      const { got, error } = await read(p.imap(square, sayWhen(total, when), { chunksize }));
      expect(got).toEqual(squares(before));
      expect((error as Error).message).toBe('SayWhenError');
    }
    const unordered = await read(p.imapUnordered(square, sayWhen(10, 3)));
    expect(unordered.got.sort((a, b) => a - b)).toEqual(squares(3));
    expect((unordered.error as Error).message).toBe('SayWhenError');
  });

  it("raises a failed task's error at its place in an imap, and gives the results after it when read on (as Python's imap)", async () => {
    const p = pool();
    // Each next() either a result or the error it rejects with, until the end.
    const steps = async (it: AsyncIterator<number>): Promise<(number | string)[]> => {
      const seen: (number | string)[] = [];
      for (;;) {
        try {
          const step = await it.next();
          if (step.done) return seen;
          seen.push(step.value);
        } catch (error) {
          expect(error).toBeInstanceOf(RemoteError);
          seen.push(((error as RemoteError).cause as Error).message);
        }
      }
    };
    expect(await steps(p.imap(failOn, [1, 2, 3, 4, 5]))).toEqual([1, 2, 'no threes (3)', 4, 5]);
    // A chunk fails whole, and is raised once.
    expect(await steps(p.imap(failOn, [1, 2, 3, 4, 5, 6], { chunksize: 2 }))).toEqual([1, 2, 'no threes (3)', 5, 6]);
    const unordered = await steps(p.imapUnordered(failOn, [1, 2, 3, 4, 5]));
    expect(unordered.sort()).toEqual([1, 2, 4, 5, 'no threes (3)']);
    // A loop the error ends leaves the pool as it was: it goes on, and joins.
    await expect(async () => {
      for await (const _ of p.imap(failOn, Array.from({ length: 100 }, (_, i) => i + 1))) void _;
    }).rejects.toBeInstanceOf(RemoteError);
    expect(await p.map(square, [3])).toEqual([9]);
    p.close();
    await p.join();
  });

  it("leaves an imap's input and signal alone once a failed task ended the loop reading it", async () => {
    const p = pool();
    let pulled = 0;
    function* counted(): Generator<number> {
      for (let i = 1; i <= 100_000; i++) {
        pulled++;
        yield i;
      }
    }
    const controller = new AbortController();
    await expect(async () => {
      for await (const _ of p.imap(failOn, counted(), { signal: controller.signal })) void _;
    }).rejects.toBeInstanceOf(RemoteError);
    const atError = pulled;
    // Every chunk sent before the error settles (each held a listener on the signal until then), and
    // the pool joins: a puller still running would have read on meanwhile.
    expect(await p.map(square, [3])).toEqual([9]);
    p.close();
    await p.join();
    expect(pulled).toBeLessThanOrEqual(atError + 1);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it("copies the array a map was given: the caller may change or empty it while the map runs", async () => {
    const p = pool();
    const items = Array.from({ length: 2000 }, (_, i) => i + 1);
    const changed = p.map(square, items, { chunksize: 1 });
    items.fill(0);
    const emptied = items.splice(0);
    const out = await changed;
    expect(out).toHaveLength(2000);
    expect(out[1999]).toBe(2000 * 2000);
    expect(out.every((x, i) => x === (i + 1) * (i + 1))).toBe(true);
    expect(emptied).toHaveLength(2000);
    // With the automatic chunksize every chunk is cut within the call: the array is not copied, and
    // changing its length afterwards changes nothing either.
    const few = Array.from({ length: 1000 }, (_, i) => i);
    const shortened = p.map(square, few);
    few.length = 0;
    const grown = Array.from({ length: 1000 }, (_, i) => i);
    const longer = p.map(square, grown);
    grown.push(1, 2, 3);
    for (const got of [await shortened, await longer]) {
      expect(got).toHaveLength(1000);
      expect(got[999]).toBe(999 * 999);
    }
    // All of it one chunk, not packed (not numbers, or fewer than 16): still the array as the call found it.
    const words = ['a', 'b', 'c'];
    const wordsMapped = p.map(identity, words, { chunksize: 10 });
    words[0] = 'changed';
    const one = [7];
    const oneMapped = p.map(square, one);
    one.length = 0;
    expect(await wordsMapped).toEqual(['a', 'b', 'c']);
    expect(await oneMapped).toEqual([49]);
  });

  it('gives the results of a slow asynchronous input as they come, and ends with AbortError while it waits on an input that stalls', async () => {
    const p = pool();
    async function* slowInput(held: Promise<void>): AsyncGenerator<number> {
      yield 1;
      yield 2;
      await held; // until the first results have come back
      yield 3;
    }
    const deadline = <T>(what: Promise<T>): Promise<T> =>
      Promise.race([what, sleep(20_000, undefined, { ref: false }).then(() => Promise.reject(new Error('no result while the input waits')))]);
    for (const ordered of [true, false]) {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const it = (ordered ? p.imap(square, slowInput(held)) : p.imapUnordered(square, slowInput(held)))[Symbol.asyncIterator]();
      const first = [(await deadline(it.next())).value, (await deadline(it.next())).value] as number[];
      expect(first.sort((a, b) => a - b)).toEqual([1, 4]);
      release();
      expect((await deadline(it.next())).value).toBe(9);
      expect((await deadline(it.next())).done).toBe(true);
    }
    async function* stalls(): AsyncGenerator<number> {
      yield 1;
      await new Promise(() => {}); // never gives another
    }
    const controller = new AbortController();
    const it = p.imap(square, stalls(), { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await deadline(it.next())).value).toBe(1);
    const next = it.next();
    controller.abort();
    await expect(deadline(next)).rejects.toBeInstanceOf(AbortError);
  });

  it('refuses what is not an iterable or an options object with InvalidArgumentError, and has starmapAsync; a thrown non-error keeps its value', async () => {
    expect(() => new Pool(null as never)).toThrow('Expected `options` to be an object of pool options');
    const p = pool({ size: 1 });
    await expect(p.map(square, 5 as never)).rejects.toThrow('Expected `items` to be an iterable (an array, a Set, a generator…), got `5` (number).');
    await expect(p.starmap(add, 5 as never)).rejects.toThrow('Expected `argLists` to be an iterable');
    expect(() => p.imap(square, 5 as never)).toThrow('Expected `items` to be an iterable or an async iterable, got `5` (number).');
    const strings: string[] = [];
    for await (const s of p.imap(identity, 'ab')) strings.push(s as string);
    expect(strings).toEqual(['a', 'b']);
    let called: number[] | null = null;
    expect(await p.starmapAsync(add, [[1, 2], [3, 4]], { callback: (r) => (called = r) })).toEqual([3, 7]);
    expect(called).toEqual([3, 7]);
    const err = (await p.apply(throwsValue, [{ code: 42, msg: 'obj' }]).catch((e: unknown) => e)) as RemoteError;
    expect(err).toBeInstanceOf(RemoteError);
    expect((err.cause as { value?: unknown }).value).toEqual({ code: 42, msg: 'obj' });
  });

  it('validates its options like Python, and refuses work once closed', async () => {
    expect(() => new Pool({ size: 0 })).toThrow('Expected `size` to be an integer of at least 1 (the number of workers), got `0` (number).');
    expect(() => new Pool({ maxTasksPerChild: 0 })).toThrow('Expected `maxTasksPerChild` to be a positive integer, or null or undefined for none, got `0` (number).');
    expect(() => new Pool({ initializer: (() => 1) as never })).toThrow('Expected `initializer` to be a task made with task(fn)');
    const p = pool({ size: 1 });
    await expect(p.map(square, [1], { chunksize: 0 })).rejects.toThrow('Expected `chunksize` to be a positive integer, got `0` (number).');
    await expect(p.apply((() => 1) as never, [] as never)).rejects.toThrow('Expected `fn` to be a task made with task(fn), exported from a module (`export const square = task((x: number) => x * x)`), got `[function anonymous]` (function).');
    await expect(p.apply(square, [2], { timeout: -1 })).rejects.toThrow('Expected `timeout` to be a positive number of milliseconds, got `-1` (number).');
    await expect(p.join()).rejects.toBeInstanceOf(PoolClosedError);
    p.close();
    await expect(p.apply(square, [2])).rejects.toThrow('is closed: it takes no more tasks');
    await expect(p.map(square, [1])).rejects.toBeInstanceOf(PoolClosedError);
    await p.join();
  });

  it('nests: a task can run a pool of its own', async () => {
    const p = pool({ size: 1 });
    expect(await p.apply(nested, [5])).toEqual([0, 1, 4, 9, 16]);
  });

  it('with maxTasksPerChild 1 and an early close, still delivers every result and does not hang', async () => {
    const p = pool({ size: 2, maxTasksPerChild: 1 });
    const results = p.map(square, [1, 2, 3, 4, 5, 6, 7, 8], { chunksize: 1 });
    p.close();
    await p.join();
    expect(await results).toEqual([1, 4, 9, 16, 25, 36, 49, 64]);
  });

  it('runs every chunk of a map or imap taken before close(), though they go to the workers a window at a time', async () => {
    const p = pool({ size: 2 });
    const xs = Array.from({ length: 2000 }, (_, i) => i); // far more one-item chunks than the pool queues at once
    const mapped = p.map(square, xs, { chunksize: 1 });
    const iterated = p.imap(square, xs);
    p.close();
    expect(() => p.imap(square, xs)).toThrow(PoolClosedError);
    const seen: number[] = [];
    for await (const r of iterated) seen.push(r);
    await p.join();
    expect(await mapped).toEqual(xs.map((x) => x * x));
    expect(seen).toEqual(xs.map((x) => x * x));
  });

  it('ends its workers once a closed pool has run its tasks, without join(), as Python\'s close() does', async () => {
    const p = pool({ size: 2 });
    const mapped = p.map(square, Array.from({ length: 40 }, (_, i) => i), { chunksize: 1 });
    p.close();
    expect(await mapped).toHaveLength(40);
    const workers = children().filter((c) => c.ref.name.startsWith('PoolWorker')).map((c) => c.ref);
    expect(workers.length).toBeGreaterThan(0);
    // Before, they lived on until join(), terminate() or the program's end.
    expect(await within(Promise.all(workers.map((w) => w.join())), 'the workers of a closed pool to end')).toEqual(workers.map(() => 0));
    await within(p.join(), 'join() once the workers have ended');
  });

  it('keeps a closed pool\'s workers for an imap made before close() and read after it, then ends them', async () => {
    const p = pool({ size: 2 });
    // Its workers up and idle first, so that nothing holds them but the imaps.
    expect(await p.map(square, [1, 2, 3, 4], { chunksize: 1 })).toEqual([1, 4, 9, 16]);
    const it = p.imap(square, [1, 2, 3, 4, 5], { chunksize: 1 });
    const unordered = p.imapUnordered(square, [6, 7]);
    p.close();
    // Nothing runs, and the imaps are not read yet: the workers stay for them (a pool that ended them
    // at once, as it may without imaps, has done so well within this).
    await sleep(500);
    const running = (): number => children().filter((c) => c.isAlive() && c.ref.name.startsWith('PoolWorker')).length;
    expect(running()).toBeGreaterThan(0);
    const seen: number[] = [];
    for await (const r of it) seen.push(r);
    expect(seen).toEqual([1, 4, 9, 16, 25]);
    expect(running()).toBeGreaterThan(0);
    const rest: number[] = [];
    for await (const r of unordered) rest.push(r);
    expect(rest.sort((a, b) => a - b)).toEqual([36, 49]);
    await until(() => running() === 0, 20_000, 'the workers of a closed pool to end once its imaps were read');
  });

  it('lets a closed pool\'s workers end once the imaps made before the close are let go unread (return(), throw())', async () => {
    const p = pool({ size: 1 });
    expect(await p.apply(square, [2])).toBe(4);
    const returned = p.imap(square, [1, 2]);
    const thrown = p.imapUnordered(square, [3]);
    await returned.return!();
    // Before, an imap never read kept the workers after throw(): its generator never ran its finally.
    await expect(thrown.throw!(new Error('let go'))).rejects.toThrow('let go');
    p.close();
    const workers = children().filter((c) => c.ref.name.startsWith('PoolWorker')).map((c) => c.ref);
    expect(workers.length).toBeGreaterThan(0);
    expect(await within(Promise.all(workers.map((w) => w.join())), 'the workers of a closed pool to end')).toEqual(workers.map(() => 0));
  });

  it('an ordered imap aborted after it yielded ends with AbortError, though its tasks finish later (it does not wait for ever)', async () => {
    const p = pool({ size: 2 });
    const controller = new AbortController();
    const it = p.imap(slowTask, [10, 300, 300], { signal: controller.signal });
    expect((await it.next()).value).toBe(10);
    controller.abort();
    // Let the two tasks the workers hold finish: their results must not replace the abort, nor bring back the first chunk.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await expect(it.next()).rejects.toBeInstanceOf(AbortError);
  });

  it.each(['imap', 'imapUnordered'] as const)('%s aborted mid-read rejects one next() with AbortError, then is done', async (kind) => {
    const p = pool({ size: 2 });
    const controller = new AbortController();
    const it = p[kind](slowTask, Array.from({ length: 12 }, () => 20), { chunksize: 1, signal: controller.signal });
    for (let i = 0; i < 4; i++) expect((await it.next()).value).toBe(20);
    controller.abort();
    await expect(it.next()).rejects.toBeInstanceOf(AbortError);
    // Before, each chunk in flight rejected a next() of its own: two AbortErrors, then done.
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it.each(['imap', 'imapUnordered'] as const)('%s aborted in the middle of a chunk gives none of the rest of it', async (kind) => {
    const p = pool({ size: 1 });
    const controller = new AbortController();
    const it = p[kind](square, [1, 2, 3, 4, 5, 6, 7, 8], { chunksize: 4, signal: controller.signal });
    expect((await it.next()).value).toBe(1);
    controller.abort();
    // Before, 4, 9 and 16 came first: the rest of the chunk already in.
    await expect(it.next()).rejects.toBeInstanceOf(AbortError);
    expect(await it.next()).toEqual({ done: true, value: undefined });
  });

  it('refuses with PoolClosedError the items an imap is read for after join() stopped the workers, and starts no worker for them', async () => {
    const p = pool({ size: 1 });
    const it = p.imap(square, Array.from({ length: 300 }, (_, i) => i));
    const seen: number[] = [(await it.next()).value as number];
    p.close();
    await p.join();
    const rest = (async () => {
      for await (const r of it) seen.push(r);
    })();
    await expect(rest).rejects.toBeInstanceOf(PoolClosedError);
    expect(seen.length).toBeGreaterThan(1); // what was sent before join() is still read
    expect(seen).toEqual(seen.map((_, i) => i * i));
    expect(children().filter((c) => c.isAlive() && c.ref.name.startsWith('PoolWorker'))).toEqual([]);
  });

  it('applyAsync with a callback only: a failing task rejects its promise and nothing else (no unhandled rejection)', async () => {
    const p = pool({ size: 1 });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const called: number[] = [];
      await expect(p.applyAsync(failOn, [3], { callback: (r) => called.push(r) })).rejects.toBeInstanceOf(RemoteError);
      await new Promise((resolve) => setImmediate(resolve));
      expect(called).toEqual([]);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it.each([
    ['with a callback only, fails the program as an unhandled rejection, as without callbacks', 'callback', 1, /^(joined\n)?$/, /RemoteError: A task failed in PoolWorker-1:1 of Pool-1: RangeError: no threes/],
    ['with an errorCallback, goes to it and the program goes on', 'both', 0, /^errorCallback RemoteError\njoined\n$/, /^$/],
  ])('a failing applyAsync nobody awaits, %s', async (_what, mode, code, stdout, stderr) => {
    const run = await runFixture('apply-async-failure.ts', [mode]);
    // Before, a callback alone swallowed the failure: nothing said, exit 0.
    expect(run.stdout).toMatch(stdout);
    expect(run.stderr).toMatch(stderr);
    expect(run.code).toBe(code);
  });

  it('Pool(200) maps 1,000 items', async () => {
    const p = pool({ size: 200 });
    const out = await p.map(square, Array.from({ length: 1000 }, (_, i) => i));
    expect(out[999]).toBe(999 * 999);
    p.close();
    await p.join();
    // 200 node processes started on 2 cores: about 25 s here alone, more beside the rest of the suite.
  }, 120_000);

  it("keeps a module's import.meta.url its own in a bundle built inside a worker (a nested pool)", async () => {
    // A module no process has bundled yet: the worker's pool bundles it, with the runtime's copy of the bundler.
    const file = join(import.meta.dirname, '..', 'fixtures', `tmp-meta-${process.pid}-${Date.now()}.ts`);
    writeFileSync(file, "import { task } from '../../index.ts';\nexport const where = task((_x: unknown) => import.meta.url);\n");
    try {
      const { where } = (await import(pathToFileURL(file).href)) as { where: Task<[unknown], string> };
      const p = pool({ size: 1 });
      expect(await p.apply(applyInner, [where, 0])).toBe(pathToFileURL(file).href);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it("fails a task whose module no longer builds, and builds it again for the next task once it is fixed", async () => {
    // A module of its own, imported here, then edited under the running program.
    const file = join(import.meta.dirname, '..', 'fixtures', `tmp-rebuilt-${process.pid}-${Date.now()}.ts`);
    const good = "import { task } from '../../index.ts';\nexport const double = task((x: number) => x * 2);\n";
    writeFileSync(file, good);
    try {
      const { double } = (await import(pathToFileURL(file).href)) as { double: Task<[number], number> };
      const p = pool({ size: 1 });
      expect(await p.apply(double, [2])).toBe(4);
      const p2 = pool({ size: 1 });
      writeFileSync(file, "import { task } from '../../index.ts';\nexport const double = task((x: number) => x * );\n");
      await expect(p2.apply(double, [2])).rejects.toThrow(/tmp-rebuilt/);
      writeFileSync(file, good.replace('x * 2', 'x * 3'));
      expect(await p2.apply(double, [2])).toBe(6);
    } finally {
      rmSync(file, { force: true });
    }
  });
});
