/**
 * `Condition`: Python's condition variable over a Lock or RLock (a new RLock
 * by default). A waiter registers with the condition before it lets go of
 * the lock, so a notify between the two is never lost, as in Python.
 */
import { AbortError, ActorRef, Handle, invalidOption, registerHandle, type ServiceCall } from '../../runtime/index.ts';
import { adopt, newToken, request, waitOn, waitTimeout, type AcquireOptions, type AcquireResult, type Held, type WaitOptions } from './client.ts';
import { CANCELLED, SyncService, type Request, type Waiter } from './core.ts';
import { NotOwnerError } from './errors.ts';
import { Lock, RLock } from './lock.ts';

interface Entry {
  notified: boolean;
  waiter: Waiter | undefined;
}

class ConditionService extends SyncService {
  /** Registered waiters by `from token`, in registration order. */
  readonly #entries = new Map<string, Entry>();
  constructor() {
    super('Condition');
  }
  protected serve(request: Request, from: string, call: ServiceCall | undefined): void {
    const key = `${from} ${request.token}`;
    switch (request.op) {
      case 'register':
        this.watch(from);
        this.#entries.set(key, { notified: false, waiter: undefined });
        return void call?.reply(true);
      case 'wait': {
        const entry = this.#entries.get(key);
        if (entry === undefined) return void call?.reply(false);
        if (entry.notified || request.timeout === 0 || call === undefined) {
          this.#entries.delete(key);
          return void call?.reply(entry.notified);
        }
        entry.waiter = this.enqueue(from, call, request);
        return;
      }
      case 'unregister':
        this.#drop(key);
        return void call?.reply(true);
      case 'notify':
        this.#notify(typeof request.n === 'number' ? request.n : Infinity);
        return void call?.reply(undefined);
      case 'waiting':
        return void call?.reply([...this.#entries.values()].filter((e) => !e.notified).length);
      default:
        throw new TypeError(`Condition has no op ${JSON.stringify(request.op)}`);
    }
  }
  protected override timedOut(waiter: Waiter): void {
    this.#entries.delete(`${waiter.from} ${waiter.token}`);
    waiter.call.reply(false);
  }
  protected override cancelled(waiter: Waiter): void {
    this.#entries.delete(`${waiter.from} ${waiter.token}`);
  }
  protected ended(actor: string, _waiters: Waiter[]): void {
    for (const key of [...this.#entries.keys()]) if (key.startsWith(`${actor} `)) this.#drop(key);
  }

  /** Wakes the first `n` registered waiters not woken yet; one whose wait has not arrived is told as it does. */
  #notify(n: number): void {
    for (const [k, entry] of this.#entries) {
      if (n <= 0) break;
      if (entry.notified) continue;
      entry.notified = true;
      n--;
      if (entry.waiter !== undefined) {
        this.takeWhere((w) => w === entry.waiter);
        this.#entries.delete(k);
        entry.waiter.call.reply(true);
      }
    }
  }

  /**
   * A registration goes (its wait given up, or its process ended). If it had
   * been woken and its wait had not come to take the wake-up, the wake-up goes
   * on to the next waiter: a notify(1) still wakes one that can return.
   */
  #drop(key: string): void {
    const entry = this.#entries.get(key);
    this.#entries.delete(key);
    if (entry?.notified === true) this.#notify(1);
  }
}

/**
 * A condition variable (Python's `multiprocessing.Condition`). `wait` needs
 * the lock held by the calling actor, lets go of every level of it while it
 * waits, and takes them all back before it returns, whatever the outcome.
 */
export class Condition extends Handle {
  readonly ref: ActorRef;
  /** The lock it is over: holding the condition is holding this. */
  readonly lock: Lock | RLock;

  /** @throws {InvalidArgumentError} when `lock` is neither a Lock nor an RLock. */
  constructor(lock?: Lock | RLock) {
    super();
    if (lock !== undefined && !(lock instanceof Lock) && !(lock instanceof RLock)) throw invalidOption('lock', 'a Lock or an RLock', lock);
    this.lock = lock ?? new RLock();
    this.ref = new ConditionService().ref;
  }

  /** Acquires the lock (see `Lock.acquire`). */
  acquire(options?: AcquireOptions): Promise<AcquireResult> {
    return this.lock.acquire(options);
  }
  /** Releases the lock (see `Lock.release`). */
  release(): Promise<void> {
    return this.lock.release();
  }
  /** Holds the lock (see `Lock.hold`). */
  hold(options?: AcquireOptions): Promise<Held> {
    return this.lock.hold(options);
  }
  /** Runs `fn` holding the lock (see `Lock.withLock`). */
  withLock<R>(fn: (held: Held) => R | Promise<R>, options?: AcquireOptions): Promise<R> {
    return this.lock.withLock(fn, options);
  }

  /**
   * Lets go of the lock, waits to be notified, then takes the lock back
   * (every level of an RLock). Resolves `true` when notified, `false` at the
   * deadline, and `'abandoned'` (notified or not) when it took the lock back
   * from an actor that died holding it, as `acquire` tells it: check the
   * state the lock guards. Rejects with `NotOwnerError` when this actor does
   * not hold the lock, or `AbortError` (the lock is held again then too).
   */
  async wait(options?: WaitOptions): Promise<boolean | 'abandoned'> {
    waitTimeout(options, 'Condition.wait()');
    const signal = options?.signal;
    // Aborted already: the lock stays held and nothing is registered, so no later notify is spent on this wait.
    if (signal?.aborted) throw new AbortError('Condition.wait() was aborted before it started.', { cause: signal.reason });
    const token = newToken();
    await request(this.ref, { op: 'register', token });
    let levels: number;
    try {
      levels = (await request(this.lock.ref, { op: 'releaseAll' })) as number;
    } catch (err) {
      await request(this.ref, { op: 'unregister', token });
      if (err instanceof NotOwnerError && (waitsHere.get(this.ref.id) ?? 0) > 0) {
        // Its caller acquired the lock, in its own eyes: another task of this actor waits, and gave back every level this actor held.
        throw new NotOwnerError(
          `Condition.wait() needs its lock held by this actor, and another task of this actor is waiting on this condition, which gave back every level of its lock this actor held: the tasks of one actor are one owner, and share an RLock's levels (the default lock). For several tasks of one actor waiting on one condition, make it over a Lock: \`new Condition(new Lock())\`.`,
          'Condition',
        );
      }
      throw err;
    }
    waitsHere.set(this.ref.id, (waitsHere.get(this.ref.id) ?? 0) + 1);
    let notified: boolean | undefined;
    let failure: unknown;
    try {
      // Notified as the abort went out: the wake-up goes on to the next waiter (as asyncio's Condition
      // does), so a notify(1) still wakes one wait that returns true.
      notified = (await waitOn(this.ref, { op: 'wait' }, options, 'Condition.wait()', (woken) => (woken === true ? request(this.ref, { op: 'notify', n: 1 }) : Promise.resolve()), token)) as boolean;
    } catch (err) {
      failure = err;
      // A wait that failed before the service saw it (aborted meanwhile) is still registered: a notify must not be spent on it.
      await request(this.ref, { op: 'unregister', token }).catch(() => {});
    }
    // Python takes the lock back whatever happened, with no deadline.
    let back: unknown;
    try {
      back = await request(this.lock.ref, { op: 'acquire', levels, token: newToken(), timeout: null }, Infinity);
    } finally {
      const left = waitsHere.get(this.ref.id)! - 1;
      if (left === 0) waitsHere.delete(this.ref.id);
      else waitsHere.set(this.ref.id, left);
    }
    if (back === false || back === CANCELLED) throw new Error(`Condition.wait() could not take its lock back (${String(back)})`);
    if (failure !== undefined) throw failure;
    return back === 'abandoned' ? 'abandoned' : notified!;
  }

  /**
   * Waits until `predicate()` is truthy, calling it with the lock held, first
   * at once and then after each notify. Resolves with its last value, which
   * is falsy when the deadline passed. Rejects as `wait` does, or with what
   * `predicate` throws.
   */
  async waitFor<T>(predicate: () => T | Promise<T>, options?: WaitOptions): Promise<T> {
    if (typeof predicate !== 'function') throw invalidOption('waitFor() predicate', 'a function that says whether to stop waiting', predicate);
    const timeout = waitTimeout(options, 'Condition.waitFor()');
    const deadline = timeout === null ? Infinity : performance.now() + timeout;
    let result = await predicate();
    while (!result) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await this.wait({ timeout: left, signal: options?.signal });
      result = await predicate();
    }
    return result;
  }

  /**
   * Wakes up to `n` waiters (1 by default). Rejects with `NotOwnerError` when
   * this actor does not hold the lock.
   */
  async notify(n = 1): Promise<void> {
    // Python's islice refuses a fraction too; 1.5 would wake two.
    if (typeof n !== 'number' || !((Number.isInteger(n) && n >= 0) || n === Infinity)) throw invalidOption('n', 'an integer ≥ 0 (or Infinity)', n);
    await mustHold(this, 'notify');
    await request(this.ref, { op: 'notify', n });
  }

  /** Wakes every waiter. Rejects with `NotOwnerError` when this actor does not hold the lock. */
  async notifyAll(): Promise<void> {
    await mustHold(this, 'notifyAll');
    await request(this.ref, { op: 'notify', n: Infinity });
  }

  /** Frees its service (not its lock's). */
  async close(): Promise<void> {
    await request(this.ref, { op: 'close' }, 10_000);
  }

  toWire(): unknown {
    return [this.ref, this.lock];
  }
}

/** The waits of this process on each condition (by its service), between giving its lock back and taking it again. */
const waitsHere = new Map<string, number>();

/** Not a private method: a Condition another process sent is made without its constructor (see adopt). */
async function mustHold(condition: Condition, what: string): Promise<void> {
  const { mine } = (await request(condition.lock.ref, { op: 'state' })) as { mine: number };
  if (mine === 0) throw new NotOwnerError(`Condition.${what}() needs its lock held by this actor: acquire() the condition first.`, 'Condition');
}

registerHandle('troupe.condition', Condition, (data) => {
  const [ref, lock] = data as [ActorRef, Lock | RLock];
  return adopt(Condition, { ref, lock });
});
