import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  AbortError,
  ClosedError,
  SyncClosedError,
  ActorExitedError,
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  Condition,
  Event,
  InvalidArgumentError,
  Lock,
  NotOwnerError,
  RLock,
  ReleasedTooManyError,
  Semaphore,
  TimeoutError,
  Value,
  current,
  node,
  register,
  spawn,
  unregister,
} from '../../index.ts';
import { abortingConditionWaiter, announceAction, conditionNotifier, conditionWaiter, notifyAndHold, lockMaker, eventWaiter, failingAction, gatedAction, holder, party, partyThenReturns, relayHolder, takeSignal, tryAcquire, tryRelease } from '../fixtures/sync-actors.ts';
import { reap } from '../helpers.ts';

type Report = { tag: string; [key: string]: unknown };

/** The next report with `tag` (and passing `test`), within 20 s. */
function next(tag: string | string[], test: (m: Report) => boolean = () => true): Promise<Report> {
  const tags = typeof tag === 'string' ? [tag] : tag;
  return current().receive({ match: (m): m is Report => tags.includes((m as Report)?.tag) && test(m as Report), timeout: 20_000 }) as Promise<Report>;
}

const me = () => current().self;

/** Resolves once `test()` holds, checking every 5 ms; rejects after 20 s. */
async function until(test: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = performance.now() + 20_000;
  while (!(await test())) {
    if (performance.now() > deadline) throw new Error(`not within 20 s: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** How many callers wait on a lock or semaphore's service. */
const waitingOn = async (lock: { ref: { call(m: unknown): Promise<unknown> } }): Promise<number> => ((await lock.ref.call({ op: 'state' })) as { waiting: number }).waiting;

describe('Lock', () => {
  it('is acquired, refused to a second acquirer until released, then granted to it', async () => {
    const lock = new Lock();
    expect(await lock.acquire()).toBe(true);
    expect(await lock.locked()).toBe(true);
    expect(await lock.acquire({ blocking: false })).toBe(false);
    expect(await lock.acquire({ timeout: 50 })).toBe(false);
    const other = reap(spawn(tryAcquire, { args: [lock, me(), 'other', 10_000] }));
    await other.ready;
    await lock.release();
    expect((await next('other')).result).toBe(true);
    expect(await other.join({ timeout: 20_000 })).toBe(0);
    expect(await lock.locked()).toBe(false);
    await lock.close();
  });

  it('tells a child acquirer false at its timeout while another actor holds it', async () => {
    const lock = new Lock();
    await lock.acquire();
    const t = performance.now();
    reap(spawn(tryAcquire, { args: [lock, me(), 'late', 300] }));
    expect((await next('late')).result).toBe(false);
    expect(performance.now() - t).toBeGreaterThanOrEqual(290);
    await lock.release();
    await lock.close();
  });

  it('may be released only by its holder: NotOwnerError for another actor, ReleasedTooManyError when nobody holds it', async () => {
    const lock = new Lock();
    await expect(lock.release()).rejects.toThrow(ReleasedTooManyError);
    await expect(lock.release()).rejects.toThrow(/was called while nobody held it/);
    await lock.acquire();
    reap(spawn(tryRelease, { args: [lock, me(), 'thief'] }));
    const report = await next('thief');
    expect(report.code).toBe('ERR_NOT_OWNER');
    expect(report.name).toBe('NotOwnerError');
    expect(report.message).toMatch(/does not hold it; another actor does/);
    expect(await lock.locked()).toBe(true);
    await lock.release();
    await lock.close();
  });

  it('whose holder is SIGKILLed goes to the next acquirer, told it was abandoned', async () => {
    const lock = new Lock();
    const child = reap(spawn(holder, { args: [lock, me(), 'victim'] }));
    expect((await next('victim')).result).toBe(true);
    expect(await lock.acquire({ blocking: false })).toBe(false);
    const waiting = lock.acquire({ timeout: 20_000 });
    child.kill();
    expect(await waiting).toBe('abandoned');
    expect(await child.join({ timeout: 10_000 })).toBe(-9);
    await lock.release();
    // The flag goes to one acquirer only.
    expect(await lock.acquire({ timeout: 1000 })).toBe(true);
    await lock.release();
    await lock.close();
  });

  it('acquire() aborted as it was granted an abandoned lock passes the flag on to the next acquirer', async () => {
    for (const lock of [new Lock(), new Value('int32', 0)]) {
      const child = reap(spawn(holder, { args: [lock, me(), 'victim'] }));
      expect((await next('victim')).result).toBe(true);
      // Seen dead by the service once the lock is free: a Value's get waits for its lock, a Lock says so.
      const freed = lock instanceof Value ? lock.get() : null;
      child.kill();
      expect(await child.join({ timeout: 10_000 })).toBe(-9);
      if (lock instanceof Lock) await until(async () => !(await lock.locked()), 'the holder seen dead');
      else await freed;
      // Granted 'abandoned' as the abort goes out: the acquire rejects, and the flag is not lost with it.
      const controller = new AbortController();
      const acquiring = lock.acquire({ signal: controller.signal });
      controller.abort();
      await expect(acquiring).rejects.toThrow(AbortError);
      expect(await lock.acquire({ timeout: 5000 })).toBe('abandoned');
      await lock.release();
      expect(await lock.acquire({ timeout: 5000 })).toBe(true);
      await lock.release();
      await lock.close();
    }
  });

  it('hold() gives an abandoned flag and rejects with TimeoutError at its deadline; await using releases it', async () => {
    const lock = new Lock();
    {
      await using held = await lock.hold();
      expect(held.abandoned).toBe(false);
      await expect(lock.hold({ timeout: 30 })).rejects.toThrow(TimeoutError);
      await expect(lock.hold({ blocking: false })).rejects.toThrow(/was not acquired within 0 ms/);
    }
    expect(await lock.locked()).toBe(false);
    await lock.close();
  });

  it('withLock() releases when its function throws', async () => {
    const lock = new Lock();
    await expect(
      lock.withLock(() => {
        throw new RangeError('inside');
      }),
    ).rejects.toThrow(RangeError);
    expect(await lock.locked()).toBe(false);
    expect(await lock.withLock(async () => 42)).toBe(42);
    await lock.close();
  });

  it('acquire() aborted while waiting rejects with AbortError and leaves nothing held', async () => {
    const lock = new Lock();
    await lock.acquire();
    const controller = new AbortController();
    const waiting = lock.acquire({ signal: controller.signal, timeout: 20_000 });
    setTimeout(() => controller.abort(new Error('enough')), 20);
    await expect(waiting).rejects.toThrow(AbortError);
    await lock.release();
    expect(await lock.locked()).toBe(false);
    // An aborted signal before the call: rejected at once.
    await expect(lock.acquire({ signal: AbortSignal.abort() })).rejects.toThrow(AbortError);
    expect(await lock.locked()).toBe(false);
    await lock.close();
  });

  it('acquire() aborted after the service granted it gives the lock back and still rejects with AbortError', async () => {
    const lock = new Lock();
    const controller = new AbortController();
    // Free lock: the grant is on its way before the cancel is sent.
    const acquiring = lock.acquire({ signal: controller.signal });
    controller.abort();
    await expect(acquiring).rejects.toThrow(AbortError);
    expect(await lock.locked()).toBe(false);
    await lock.close();
  });

  it('validates its options with one message template, and takes a negative timeout as no wait', async () => {
    const lock = new Lock();
    await expect(lock.acquire({ timeout: Number.NaN })).rejects.toThrow(InvalidArgumentError);
    await expect(lock.acquire({ timeout: 'soon' as never })).rejects.toThrow('Expected `timeout` to be a number of milliseconds (0 or less: do not wait; Infinity: for ever), got `"soon"` (string).');
    // A negative timeout is a try that does not wait, as Python's SemLock takes it.
    expect(await lock.acquire({ timeout: -1 })).toBe(true);
    const event = new Event();
    expect(await event.wait({ timeout: -5 })).toBe(false);
    await event.close();
    await lock.release();
    await expect(lock.acquire({ blocking: 'no' as never })).rejects.toThrow('Expected `blocking` to be a boolean, got `"no"` (string).');
    await lock.close();
  });

  it('travels to a grandchild, which holds it; its death hands the lock on as abandoned', async () => {
    const lock = new Lock();
    const child = reap(spawn(relayHolder, { args: [lock, me(), 'grand'] }));
    expect((await next('grand')).result).toBe(true);
    const waiting = lock.acquire({ timeout: 20_000 });
    child.kill();
    expect(await waiting).toBe('abandoned');
    await lock.release();
    await lock.close();
  });

  it('made in a child is served there: a parent waiting on it is told when that process ends', async () => {
    const maker = reap(spawn(lockMaker, { args: [me(), 'made'] }));
    const lock = (await next('made')).lock as Lock;
    expect(lock).toBeInstanceOf(Lock);
    expect(await lock.acquire({ blocking: false })).toBe(false);
    const waiting = lock.acquire({ timeout: 20_000 }).catch((e: unknown) => e);
    maker.kill();
    const err = await waiting;
    expect(err).toBeInstanceOf(ActorExitedError);
    // Said as the lock that is gone, not as an actor the program never made.
    expect((err as Error).message).toMatch(/^Lock \(.*\) is gone: the process that made it ended \(exit code -9: killed\)\. A primitive lives as long as the actor that made it/);
    await expect(lock.locked()).rejects.toThrow(ActorExitedError);
  });

  it('frees its service on close(), failing pending waits', async () => {
    const before = node().openServices;
    const lock = new Lock();
    expect(node().openServices).toBe(before + 1);
    await lock.acquire();
    const child = reap(spawn(tryAcquire, { args: [lock, me(), 'closed', 20_000] }));
    await until(async () => (await waitingOn(lock)) === 1, 'the child waits');
    await lock.close();
    expect(node().openServices).toBe(before);
    expect(await child.join({ timeout: 20_000 })).toBe(1);
    expect(child.error?.name).toBe('SyncClosedError');
  });

  it('fails a wait pending at close() with a SyncClosedError that is a ClosedError, as a closed queue fails its waits', async () => {
    const event = new Event();
    const waiting = event.wait({ timeout: 20_000 }).catch((e: unknown) => e);
    await event.close();
    const err = await waiting;
    expect(err).toBeInstanceOf(SyncClosedError);
    expect(err).toBeInstanceOf(ClosedError);
    expect((err as ClosedError).code).toBe('ERR_CLOSED');
    // Later calls too: closed, not an actor that "does not exist".
    const later = await event.isSet().catch((e: unknown) => e);
    expect(later).toBeInstanceOf(SyncClosedError);
    expect((later as Error).message).toMatch(/^Event \(.*\) was closed: close\(\) frees a primitive for good/);
  });
});

describe('RLock', () => {
  it('is re-entrant for its holder, which must release as many times; other actors wait until the last release', async () => {
    const lock = new RLock();
    expect(await lock.acquire()).toBe(true);
    expect(await lock.acquire()).toBe(true);
    expect(await lock.levels()).toBe(2);
    const other = reap(spawn(tryAcquire, { args: [lock, me(), 'other', 20_000] }));
    await until(async () => (await waitingOn(lock)) === 1, 'the child waits');
    await lock.release();
    expect(await waitingOn(lock)).toBe(1);
    await lock.release();
    expect((await next('other')).result).toBe(true);
    expect(await other.join({ timeout: 20_000 })).toBe(0);
    // As Python's RLock: released by a non-owner, nobody holding it included, an ownership error (docs/sync.md).
    await expect(lock.release()).rejects.toThrow(NotOwnerError);
    await expect(lock.release()).rejects.toThrow(/does not hold it; nobody does/);
    await lock.close();
  });

  it("says whether any actor holds it, whatever the levels (Python's RLock.locked(), test_rlock_locked_2processes)", async () => {
    const lock = new RLock();
    expect(await lock.locked()).toBe(false);
    const child = reap(spawn(holder, { args: [lock, me(), 'two-levels', 2] }));
    expect((await next('two-levels')).result).toBe(true);
    // Held by another actor: locked for this one too, which holds no level.
    expect(await lock.locked()).toBe(true);
    expect(await lock.levels()).toBe(0);
    child.send('release');
    expect((await next('two-levels')).released).toBe(true);
    expect(await lock.locked()).toBe(false);
    await lock.acquire();
    expect(await lock.locked()).toBe(true);
    await lock.release();
    await lock.close();
  });

  it('refuses a release by an actor that does not hold it (NotOwnerError, as Python raises)', async () => {
    const lock = new RLock();
    await lock.acquire();
    reap(spawn(tryRelease, { args: [lock, me(), 'thief'] }));
    expect((await next('thief')).code).toBe('ERR_NOT_OWNER');
    await lock.release();
    await lock.close();
  });

  it('whose holder dies holding three levels is released whole, and the next acquirer is told', async () => {
    const lock = new RLock();
    const child = reap(spawn(holder, { args: [lock, me(), 'deep', 3] }));
    expect((await next('deep')).result).toBe(true);
    const waiting = lock.acquire({ timeout: 20_000 });
    child.kill();
    expect(await waiting).toBe('abandoned');
    expect(await lock.levels()).toBe(1);
    await lock.release();
    await lock.close();
  });
});

describe('Semaphore', () => {
  it('counts permits: value acquirers go at once, the next waits for a release by any actor', async () => {
    const sem = new Semaphore(2);
    expect(await sem.acquire()).toBe(true);
    expect(await sem.acquire()).toBe(true);
    expect(await sem.getValue()).toBe(0);
    expect(await sem.acquire({ timeout: 30 })).toBe(false);
    const other = reap(spawn(tryAcquire, { args: [sem, me(), 'third', 20_000] }));
    await until(async () => (await waitingOn(sem)) === 1, 'the child waits');
    await sem.release();
    expect((await next('third')).result).toBe(true);
    expect(await other.join({ timeout: 20_000 })).toBe(0);
    // Unbounded: releases may raise the value past its start, as Python's may.
    await sem.release();
    await sem.release();
    expect(await sem.getValue()).toBe(3);
    await sem.close();
  });

  it('gives back the permits of a holder that is SIGKILLed; their next acquirers get abandoned', async () => {
    const sem = new Semaphore(2);
    const child = reap(spawn(holder, { args: [sem, me(), 'two', 2] }));
    expect((await next('two')).result).toBe(true);
    expect(await sem.getValue()).toBe(0);
    const first = sem.acquire({ timeout: 20_000 });
    const second = sem.acquire({ timeout: 20_000 });
    child.kill();
    expect([await first, await second]).toEqual(['abandoned', 'abandoned']);
    await sem.release();
    expect(await sem.acquire({ timeout: 1000 })).toBe(true);
    await sem.close();
  });

  it("keeps a permit taken by an actor that returns normally: a signal, consumed, does not come back (Python's idiom)", async () => {
    const sem = new Semaphore(0);
    await sem.release(); // the signal
    const child = reap(spawn(takeSignal, { args: [sem, me(), 'taker'] }));
    expect((await next('taker')).result).toBe(true);
    expect(await child.join({ timeout: 20_000 })).toBe(0);
    // Before, the permit came back as the child ended, and the next acquire got 'abandoned'.
    expect(await sem.getValue()).toBe(0);
    expect(await sem.acquire({ timeout: 50 })).toBe(false);
    await sem.close();
  });

  it('rejects a negative value', () => {
    expect(() => new Semaphore(-1)).toThrow('Expected `value` to be an integer ≥ 0, got `-1` (number).');
  });

  it("release(n) gives back n permits and wakes n waiters, as Python's threading.Semaphore.release(n)", async () => {
    const sem = new Semaphore(0);
    const waiters = [sem.acquire({ timeout: 20_000 }), sem.acquire({ timeout: 20_000 }), sem.acquire({ timeout: 20_000 })];
    await until(async () => (await waitingOn(sem)) === 3, 'three wait');
    await sem.release(2);
    expect(await Promise.all(waiters.slice(0, 2))).toEqual([true, true]);
    expect(await waitingOn(sem)).toBe(1);
    await sem.release(3);
    expect(await waiters[2]).toBe(true);
    expect(await sem.getValue()).toBe(2);
    await expect(sem.release(0)).rejects.toThrow('Expected `release() n` to be an integer ≥ 1 (the permits to give back), got `0` (number).');
    await expect(sem.release(1.5)).rejects.toThrow(InvalidArgumentError);
    expect(await sem.getValue()).toBe(2);
    await sem.close();
  });
});

describe('BoundedSemaphore', () => {
  it('refuses a release past its initial value with ReleasedTooManyError', async () => {
    const sem = new BoundedSemaphore(2);
    await sem.acquire();
    await sem.release();
    await expect(sem.release()).rejects.toThrow(ReleasedTooManyError);
    await expect(sem.release()).rejects.toThrow('BoundedSemaphore(2).release() would raise its value past 2: released more times than acquired.');
    expect(await sem.getValue()).toBe(2);
    await sem.close();
  });

  it('refuses a release(n) that would pass its initial value, and gives back none', async () => {
    const sem = new BoundedSemaphore(3);
    await sem.acquire();
    await sem.acquire();
    await expect(sem.release(3)).rejects.toThrow('BoundedSemaphore(3).release(3) would raise its value past 3: released more times than acquired.');
    expect(await sem.getValue()).toBe(1);
    await sem.release(2);
    expect(await sem.getValue()).toBe(3);
    await sem.close();
  });

  it('travels as itself: a child release past the bound fails there', async () => {
    const sem = new BoundedSemaphore(1);
    reap(spawn(tryRelease, { args: [sem, me(), 'over'] }));
    expect((await next('over')).code).toBe('ERR_RELEASED_TOO_MANY');
    await sem.close();
  });
});

describe('Event', () => {
  it('wakes every waiter in every process on set(), and wait() resolves true at once while set', async () => {
    const event = new Event();
    expect(await event.isSet()).toBe(false);
    const a = reap(spawn(eventWaiter, { args: [event, me(), 'a', 20_000] }));
    const b = reap(spawn(eventWaiter, { args: [event, me(), 'b', 20_000] }));
    await next('a', (m) => m.started === true);
    await next('b', (m) => m.started === true);
    await event.set();
    expect((await next('a', (m) => 'result' in m)).result).toBe(true);
    expect((await next('b', (m) => 'result' in m)).result).toBe(true);
    expect(await event.wait({ timeout: 10 })).toBe(true);
    await event.clear();
    expect(await event.isSet()).toBe(false);
    expect(await Promise.all([a.join({ timeout: 20_000 }), b.join({ timeout: 20_000 })])).toEqual([0, 0]);
    await event.close();
  });

  it('wait() resolves false at its timeout, and rejects with AbortError when aborted', async () => {
    const event = new Event();
    const t = performance.now();
    expect(await event.wait({ timeout: 100 })).toBe(false);
    expect(performance.now() - t).toBeGreaterThanOrEqual(95);
    expect(await event.wait({ timeout: 0 })).toBe(false);
    await expect(event.wait({ signal: AbortSignal.timeout(30) })).rejects.toThrow(AbortError);
    await event.close();
  });
});

describe('Condition', () => {
  it('wait() with a signal aborted already rejects at once, and leaves no waiter behind to swallow a notify', async () => {
    const cond = new Condition();
    await cond.acquire();
    await expect(cond.wait({ signal: AbortSignal.abort() })).rejects.toThrow(/aborted/);
    expect(await cond.ref.call({ op: 'waiting' })).toBe(0);
    // Aborted while it registers and lets go of the lock, before the service sees the wait itself.
    const controller = new AbortController();
    const waiting = cond.wait({ signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toThrow(/aborted/);
    expect(await cond.ref.call({ op: 'waiting' })).toBe(0);
    await cond.release();
  });

  it('wait() without the lock rejects with NotOwnerError, and so do notify() and notifyAll()', async () => {
    const cond = new Condition();
    await expect(cond.wait({ timeout: 10 })).rejects.toThrow(NotOwnerError);
    await expect(cond.wait({ timeout: 10 })).rejects.toThrow(/acquire\(\) the condition before using wait\(\)/);
    await expect(cond.notify()).rejects.toThrow(NotOwnerError);
    await expect(cond.notifyAll()).rejects.toThrow(NotOwnerError);
    // Checked first: 1.5 would wake two waiters, -1 none.
    await expect(cond.notify(1.5)).rejects.toThrow('Expected `n` to be an integer ≥ 0 (or Infinity), got `1.5` (number).');
    await expect(cond.notify(-1)).rejects.toThrow(InvalidArgumentError);
    await cond.close();
    await cond.lock.close();
  });

  it('takes several waiting tasks of one actor over a Lock (test_notify_n with tasks), and says what to do when they share the default RLock', async () => {
    const cond = new Condition(new Lock());
    const waiter = async (timeout: number): Promise<boolean | 'abandoned'> => {
      await cond.acquire();
      try {
        return await cond.wait({ timeout });
      } finally {
        await cond.release();
      }
    };
    const woken = [waiter(20_000), waiter(20_000), waiter(1_000)];
    await until(async () => ((await cond.ref.call({ op: 'waiting' })) as number) === 3, 'three waiting tasks');
    await cond.withLock(() => cond.notify(2));
    // Two are woken; the third is not, and its wait runs out.
    expect(await Promise.all(woken)).toEqual([true, true, false]);
    expect(await cond.lock.locked()).toBe(false);

    // With the default RLock, the tasks of one actor share its levels: the first wait gave back the second's too.
    const shared = new Condition();
    await shared.acquire();
    await shared.acquire(); // a second task's acquire: this actor holds it already
    const first = shared.wait({ timeout: 20_000 });
    await until(async () => !(await shared.lock.locked()), 'the first wait to let go of the lock');
    // Before, NotOwnerError told the second task to acquire() the lock, which it had.
    await expect(shared.wait({ timeout: 20_000 })).rejects.toThrow(/another task of this actor is waiting on this condition[^]*new Condition\(new Lock\(\)\)/);
    await shared.withLock(() => shared.notify());
    expect(await first).toBe(true);
    await shared.release();
    await shared.release();
    expect(await shared.lock.locked()).toBe(false);
  });

  it('notify(1) wakes one waiting child, notifyAll() the rest; the waiters let go of the lock while they wait', async () => {
    const cond = new Condition();
    const kids = ['w1', 'w2', 'w3'].map((tag) => reap(spawn(conditionWaiter, { args: [cond, me(), tag] })));
    for (const tag of ['w1', 'w2', 'w3']) await next(tag, (m) => m.waiting === true);
    await until(async () => ((await cond.ref.call({ op: 'waiting' })) as number) === 3, 'three waiters');
    await cond.withLock(() => cond.notify(1));
    const first = await next(['w1', 'w2', 'w3'], (m) => 'notified' in m);
    expect(first.notified).toBe(true);
    expect((await cond.ref.call({ op: 'waiting' })) as number).toBe(2);
    await cond.withLock(() => cond.notifyAll());
    const rest = ['w1', 'w2', 'w3'].filter((t) => t !== first.tag);
    for (const tag of rest) expect((await next(tag, (m) => 'notified' in m)).notified).toBe(true);
    expect(await Promise.all(kids.map((k) => k.join({ timeout: 20_000 })))).toEqual([0, 0, 0]);
    await cond.close();
    await cond.lock.close();
  });

  it('passes a wake-up on when the waiter it went to is aborted before it reads it: notify(1) still wakes one', async () => {
    const cond = new Condition();
    const dir = mkdtempSync(join(tmpdir(), 'troupe-cond-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const unblock = join(dir, 'unblock');
    const a = reap(spawn(abortingConditionWaiter, { args: [cond, me(), 'a', unblock] }));
    await until(async () => ((await cond.ref.call({ op: 'waiting' })) as number) === 1 && !(await cond.lock.locked()), 'a waiting');
    const b = reap(spawn(conditionWaiter, { args: [cond, me(), 'b'] }));
    await next('b', (m) => m.waiting === true);
    await until(async () => ((await cond.ref.call({ op: 'waiting' })) as number) === 2 && !(await cond.lock.locked()), 'b waiting');
    a.send('block');
    await next('a', (m) => m.blocked === true);
    // a is first in line: the wake-up goes to it, and its answer waits in its pipe while it is busy.
    await cond.withLock(() => cond.notify(1));
    expect((await cond.ref.call({ op: 'waiting' })) as number).toBe(1);
    writeFileSync(unblock, '');
    expect((await next('a', (m) => 'result' in m)).result).toBe('AbortError');
    expect((await next('b', (m) => 'notified' in m)).notified).toBe(true);
    expect(await Promise.all([a, b].map((k) => k.join({ timeout: 20_000 })))).toEqual([0, 0]);
    await cond.close();
    await cond.lock.close();
  });

  it('waits for ever on a timeout longer than a timer holds (2^31 ms), where Node would fire at once', async () => {
    const lock = new Lock();
    await lock.acquire();
    const second = lock.acquire({ timeout: 2 ** 31 });
    // Before, the wait ended after about 1 ms with false; 300 ms is plenty to see that.
    expect(await Promise.race([second, new Promise((r) => setTimeout(r, 300, 'waiting'))])).toBe('waiting');
    await lock.release();
    expect(await second).toBe(true);
    await lock.release();
    const event = new Event();
    const set = event.wait({ timeout: 2 ** 31 });
    expect(await Promise.race([set, new Promise((r) => setTimeout(r, 300, 'waiting'))])).toBe('waiting');
    await event.set();
    expect(await set).toBe(true);
    await Promise.all([lock.close(), event.close()]);
  });

  it('is notified from another process, which got the condition in a message (Python notifies from any process)', async () => {
    const cond = new Condition();
    const waiter = reap(spawn(conditionWaiter, { args: [cond, me(), 'waiter'] }));
    await next('waiter', (m) => m.waiting === true);
    await until(async () => ((await cond.ref.call({ op: 'waiting' })) as number) === 1, 'the waiter');
    // Before, a handle another process received had no #private methods: notify() threw a TypeError there.
    const notifier = reap(spawn(conditionNotifier, { args: [cond, me(), 'notifier', false] }));
    expect((await next('notifier')).notified).toBe(true);
    expect((await next('waiter', (m) => 'notified' in m)).notified).toBe(true);
    expect(await Promise.all([waiter, notifier].map((k) => k.join({ timeout: 20_000 })))).toEqual([0, 0]);
    await cond.close();
    await cond.lock.close();
  });

  it('wait() resolves abandoned when it takes its lock back from a notifier killed holding it', async () => {
    const cond = new Condition(new Lock());
    const waiter = reap(spawn(conditionWaiter, { args: [cond, me(), 'waiter'] }));
    await next('waiter', (m) => m.waiting === true);
    await until(async () => ((await cond.ref.call({ op: 'waiting' })) as number) === 1, 'the waiter');
    const notifier = reap(spawn(notifyAndHold, { args: [cond, me(), 'notifier'] }));
    expect((await next('notifier')).notified).toBe(true);
    notifier.kill();
    // Before, it resolved true and the abandonment was told to nobody.
    expect((await next('waiter', (m) => 'notified' in m)).notified).toBe('abandoned');
    expect(await waiter.join({ timeout: 20_000 })).toBe(0);
    await cond.close();
    await cond.lock.close();
  });

  it('wait() gives back every RLock level, returns false at its timeout, and holds all the levels again after', async () => {
    const lock = new RLock();
    const cond = new Condition(lock);
    await cond.acquire();
    await cond.acquire();
    const other = reap(spawn(tryAcquire, { args: [lock, me(), 'between', 20_000] }));
    await until(async () => (await waitingOn(lock)) === 1, 'the child waits for the lock');
    expect(await cond.wait({ timeout: 300 })).toBe(false);
    // The child got the lock while this actor waited: it reported before giving it back, and this actor holds it again.
    expect((await next('between')).result).toBe(true);
    expect(await other.join({ timeout: 20_000 })).toBe(0);
    expect(await lock.levels()).toBe(2);
    await cond.release();
    await cond.release();
    await cond.close();
    await lock.close();
  });

  it('waitFor() resolves with the predicate once it holds, and with its falsy value at the deadline', async () => {
    const cond = new Condition(new Lock());
    let ready = 0;
    await cond.acquire();
    expect(await cond.waitFor(() => ready, { timeout: 50 })).toBe(0);
    setTimeout(() => {
      ready = 7;
      void cond.withLock(() => cond.notifyAll());
    }, 20);
    expect(await cond.waitFor(() => ready, { timeout: 20_000 })).toBe(7);
    await cond.release();
    await cond.close();
    await cond.lock.close();
  });
});

describe('Barrier', () => {
  it('lets parties through together, round after round, each with a distinct index', async () => {
    const barrier = new Barrier(3);
    const tags = ['p0', 'p1', 'p2'];
    const kids = tags.map((tag) => reap(spawn(party, { args: [barrier, me(), tag, 2] })));
    for (const round of [0, 1]) {
      const reports = await Promise.all(tags.map((tag) => next(tag, (m) => m.round === round)));
      expect(reports.map((r) => r.index).sort()).toEqual([0, 1, 2]);
    }
    expect(await Promise.all(kids.map((k) => k.join({ timeout: 20_000 })))).toEqual([0, 0, 0]);
    expect(await barrier.broken()).toBe(false);
    await barrier.close();
  });

  it('runs its action once per round, in one of the waiting processes, before any goes on', async () => {
    await register('sync-spec', me());
    const barrier = new Barrier(2, { action: announceAction });
    const kid = reap(spawn(party, { args: [barrier, me(), 'kid', 2] }));
    await kid.ready;
    for (const round of [0, 1]) {
      const mine = await barrier.wait({ timeout: 20_000 });
      // The action's message left its process before the action reported done, so it is here already.
      const action = await current().receive({ match: (m): m is Report => (m as Report)?.tag === 'action', timeout: 1 });
      expect([process.pid, kid.pid]).toContain((action as Report).pid);
      expect([mine, (await next('kid', (m) => m.round === round)).index].sort()).toEqual([0, 1]);
    }
    expect(await kid.join({ timeout: 20_000 })).toBe(0);
    await expect(current().receive({ match: (m): m is Report => (m as Report)?.tag === 'action', timeout: 50 })).rejects.toThrow(TimeoutError);
    await unregister('sync-spec');
    await barrier.close();
  });

  it('breaks when a party dies while waiting: the others get BrokenBarrierError, never a hang', async () => {
    const barrier = new Barrier(3);
    const survivor = reap(spawn(party, { args: [barrier, me(), 'survivor', 1] }));
    const victim = reap(spawn(party, { args: [barrier, me(), 'victim', 1] }));
    await until(async () => (await barrier.nWaiting()) === 2, 'two parties wait');
    victim.kill();
    expect((await next('survivor')).code).toBe('ERR_BROKEN_BARRIER');
    expect(await barrier.broken()).toBe(true);
    await expect(barrier.wait({ timeout: 1000 })).rejects.toThrow(BrokenBarrierError);
    expect(await survivor.join({ timeout: 20_000 })).toBe(0);
    expect(await victim.join({ timeout: 20_000 })).toBe(-9);
    await barrier.reset();
    expect(await barrier.broken()).toBe(false);
    await barrier.close();
  });

  it('breaks when a party is killed between rounds, so those who come next are not left waiting for it', async () => {
    const barrier = new Barrier(2);
    const victim = reap(spawn(party, { args: [barrier, me(), 'between', 1, true] }));
    expect(await barrier.wait({ timeout: 20_000 })).toBeGreaterThanOrEqual(0);
    await next('between');
    victim.kill();
    expect(await victim.join({ timeout: 20_000 })).toBe(-9);
    await until(() => barrier.broken(), 'the barrier breaks');
    await expect(barrier.wait({ timeout: 20_000 })).rejects.toThrow(/ended \(killed\) between rounds/);
    await barrier.close();
  });

  it('does not break when a party returns normally between rounds while another waits: one taking its place passes the round, as in Python', async () => {
    const barrier = new Barrier(2);
    const first = reap(spawn(partyThenReturns, { args: [barrier, me(), 'first'] }));
    expect(await barrier.wait({ timeout: 20_000 })).toBeGreaterThanOrEqual(0);
    expect((await next('first')).index).toBeGreaterThanOrEqual(0);
    const round2 = barrier.wait({ timeout: 20_000 });
    await until(async () => (await barrier.nWaiting()) === 1, 'this party waits for round 2');
    first.send('go');
    expect(await first.join({ timeout: 20_000 })).toBe(0);
    // Before, its end broke the barrier, as it came while this party waited (had it come before, it did not).
    expect(await barrier.broken()).toBe(false);
    reap(spawn(partyThenReturns, { args: [barrier, me(), 'second'] }));
    expect([await round2, (await next('second')).index].sort()).toEqual([0, 1]);
    await barrier.close();
  });

  it('breaks for everyone at a wait timeout, the waiter that timed out included', async () => {
    const barrier = new Barrier(3);
    reap(spawn(party, { args: [barrier, me(), 'patient', 1] }));
    await until(async () => (await barrier.nWaiting()) === 1, 'one party waits');
    await expect(barrier.wait({ timeout: 100 })).rejects.toThrow(BrokenBarrierError);
    expect((await next('patient')).code).toBe('ERR_BROKEN_BARRIER');
    await barrier.close();
  });

  it('fails the party running the action too, once the round broke at another party\'s deadline while it ran', async () => {
    const barrier = new Barrier(2, { action: gatedAction });
    let open!: () => void;
    (globalThis as Record<symbol, unknown>)[Symbol.for('troupe.spec.barrier-gate')] = new Promise<void>((resolve) => (open = resolve));
    const first = barrier.wait({ timeout: 200 });
    const runner = barrier.wait({ timeout: 20_000 }); // the last to come: it runs the action
    await expect(first).rejects.toThrow(BrokenBarrierError);
    open();
    // Before, it went on with its index, through a round the other was told had broken.
    await expect(runner).rejects.toThrow(/broke while this party ran its action \(a party \([^)]+\) waited past its timeout\)/);
    expect(await barrier.broken()).toBe(true);
    await barrier.close();
  });

  it('abort() breaks it for waiting and later parties; reset() makes it whole again', async () => {
    const barrier = new Barrier(2, { timeout: 20_000 });
    const waiting = barrier.wait();
    await until(async () => (await barrier.nWaiting()) === 1, 'one party waits');
    await barrier.abort();
    await expect(waiting).rejects.toThrow(BrokenBarrierError);
    await expect(barrier.wait()).rejects.toThrow(/was broken before this party came/);
    await barrier.reset();
    const kid = reap(spawn(party, { args: [barrier, me(), 'again', 1] }));
    expect(await barrier.wait()).toBeGreaterThanOrEqual(0);
    expect(await kid.join({ timeout: 20_000 })).toBe(0);
    await barrier.close();
  });

  it('breaks when its action throws: the party that ran it gets the error, the others BrokenBarrierError', async () => {
    const barrier = new Barrier(2, { action: failingAction });
    reap(spawn(party, { args: [barrier, me(), 'other', 1] }));
    const mine = await barrier.wait({ timeout: 20_000 }).catch((e: unknown) => e);
    const theirs = await next('other');
    // Whichever came last ran the action.
    const codes = [mine instanceof BrokenBarrierError ? 'ERR_BROKEN_BARRIER' : mine instanceof RangeError ? 'action' : String(mine), theirs.code ?? 'action'];
    expect(codes.sort()).toEqual(['ERR_BROKEN_BARRIER', 'action']);
    await barrier.close();
  });

  it('rejects bad options', () => {
    expect(() => new Barrier(0)).toThrow('Expected `parties` to be an integer ≥ 1, got `0` (number).');
    expect(() => new Barrier(2, { action: (() => {}) as never })).toThrow(/Expected `action` to be a task made with task\(fn\)/);
  });
});
