/**
 * Locks and shared values, measured the way bench/anchors/python_sync.py
 * measures multiprocessing's: each loop runs in a child actor against a
 * primitive served by the parent (the common case: made in main, used by
 * workers), so every operation is a round trip between two processes.
 * bench/run.ts prints these beside Python's (`npm run bench -- --only sync`).
 */
import { Lock, Value, actor, current, spawn, type ActorRef, type Context } from '../index.ts';

/** `n` uncontended cycles of `withLock`, then of `acquire()` + `release()`; reports µs per cycle of each. */
export const lockCycles = actor(async (_ctx: Context, lock: Lock, n: number, report: ActorRef) => {
  report.send(await cycles(lock, n));
});

async function cycles(lock: Lock, n: number): Promise<{ lockUs: number; callsUs: number }> {
  for (let i = 0; i < 200; i++) await lock.withLock(() => undefined);
  let t = performance.now();
  for (let i = 0; i < n; i++) await lock.withLock(() => undefined);
  const lockUs = ((performance.now() - t) * 1000) / n;
  t = performance.now();
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    await lock.release();
  }
  return { lockUs, callsUs: ((performance.now() - t) * 1000) / n };
}

/** Waits for 'go', then `n` acquire+release cycles against a competitor; reports when done. */
export const lockContender = actor(async (ctx: Context, lock: Lock, n: number, report: ActorRef) => {
  report.send({ ready: true });
  await ctx.receive({ match: (m): m is 'go' => m === 'go', timeout: 60_000 });
  for (let i = 0; i < n; i++) await lock.withLock(() => undefined);
  report.send({ done: true });
});

/** `n` increments by `add(1)`, then `n` by get+set under `withLock`; reports the rate of each. */
export const valueIncrements = actor(async (_ctx: Context, value: Value<'int32'>, n: number, report: ActorRef) => {
  for (let i = 0; i < 200; i++) await value.add(1);
  let t = performance.now();
  for (let i = 0; i < n; i++) await value.add(1);
  const add = n / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < n; i++) await value.withLock(async () => value.set((await value.get()) + 1));
  const locked = n / ((performance.now() - t) / 1000);
  report.send({ add, locked });
});

export interface SyncFigures {
  /** µs per uncontended `withLock` cycle, child → lock served by the parent (one round trip and a send). */
  readonly lockUs: number;
  /** µs per uncontended `acquire()` + `release()`, child → lock served by the parent (two round trips). */
  readonly callsUs: number;
  /** µs per uncontended `withLock` cycle in the process that serves the lock (no process boundary). */
  readonly localLockUs: number;
  /** `withLock` cycles per second, two child processes contending for one lock. */
  readonly contended: number;
  /** `Value.add(1)` per second, from a child. */
  readonly add: number;
  /** get+set under `withLock` per second, from a child. */
  readonly locked: number;
}

type Report = { lockUs?: number; callsUs?: number; ready?: boolean; done?: boolean; add?: number; locked?: number };

function next(match: (m: Report) => boolean): Promise<Report> {
  return current().receive({ match: (m): m is Report => typeof m === 'object' && m !== null && match(m as Report), timeout: 300_000 }) as Promise<Report>;
}

/** Runs every measurement once; `quick` takes fewer operations. */
export async function measureSync(quick = false): Promise<SyncFigures> {
  const n = quick ? 2000 : 10_000;
  const me = current().self;
  const lock = new Lock();

  const child = spawn(lockCycles, { args: [lock, n, me] });
  const { lockUs, callsUs } = await next((m) => m.lockUs !== undefined);
  await child.join({ timeout: 60_000 });
  const localLockUs = (await cycles(lock, n)).lockUs;

  const contenders = [0, 1].map(() => spawn(lockContender, { args: [lock, n, me] }));
  for (const _ of contenders) await next((m) => m.ready === true);
  const t = performance.now();
  for (const c of contenders) c.send('go');
  for (const _ of contenders) await next((m) => m.done === true);
  const contended = (2 * n) / ((performance.now() - t) / 1000);
  await Promise.all(contenders.map((c) => c.join({ timeout: 60_000 })));
  await lock.close();

  const value = new Value('int32', 0);
  const incrementer = spawn(valueIncrements, { args: [value, n, me] });
  const { add, locked } = await next((m) => m.add !== undefined);
  await incrementer.join({ timeout: 60_000 });
  await value.close();
  return { lockUs: lockUs!, callsUs: callsUs!, localLockUs, contended, add: add!, locked: locked! };
}
