/**
 * `Lock`, `RLock`, `Semaphore` and `BoundedSemaphore`: Python's, served by
 * the node of the process that made them, owner-aware. A holder is an actor
 * (one per process); when it ends, the lock it held is released, and the
 * semaphore permits it held unless it returned normally, and the next
 * acquirer is told it was abandoned (robust-mutex semantics, where Python's
 * stay held forever).
 */
import { ActorRef, invalidOption, registerHandle, type ExitReason, type ServiceCall } from '../../runtime/index.ts';
import { Acquirable, adopt, request } from './client.ts';
import { SyncService, type Request, type Waiter } from './core.ts';
import { NotOwnerError, ReleasedTooManyError } from './errors.ts';

type Flavour = 'Lock' | 'RLock' | 'Semaphore' | 'BoundedSemaphore';

/** The state of one lock or semaphore; exported for the Condition and the specs. */
export class PermitService extends SyncService {
  readonly #flavour: Flavour;
  /** Owned: only a holder may release (Lock, RLock). */
  readonly #owned: boolean;
  readonly #reentrant: boolean;
  readonly #bound: number | null;
  #value: number;
  /** Per actor: the permits it holds (semaphores), or its recursion levels (RLock), or 1 (Lock). In order of first acquire. */
  readonly #holders = new Map<string, number>();
  /** Permits released by the death of their holder and not yet handed on: the next acquirers are told. */
  #abandoned = 0;

  constructor(flavour: Flavour, value: number) {
    super(flavour === 'Lock' || flavour === 'RLock' ? flavour : `${flavour}(${value})`);
    this.#flavour = flavour;
    this.#owned = flavour === 'Lock' || flavour === 'RLock';
    this.#reentrant = flavour === 'RLock';
    this.#bound = flavour === 'BoundedSemaphore' ? value : null;
    this.#value = value;
  }

  protected serve(request: Request, from: string, call: ServiceCall | undefined): void {
    switch (request.op) {
      case 'acquire': {
        const levels = typeof request.levels === 'number' ? request.levels : 1;
        const granted = this.#waiting(from) ? null : this.#grant(from, levels);
        if (granted !== null) call?.reply(granted);
        else if (request.timeout === 0) call?.reply(false);
        else if (call !== undefined) this.enqueue(from, call, request);
        return;
      }
      case 'release':
        this.#release(from, typeof request.n === 'number' ? request.n : 1);
        // An acquire aborted after it was granted an abandoned permit: the flag goes on to the next.
        if (request.abandoned === true) this.#abandoned += 1;
        call?.reply(undefined);
        this.#pump();
        return;
      case 'releaseAll': {
        // Condition.wait: every level this actor holds, given back at once.
        const levels = this.#holders.get(from);
        if (levels === undefined) throw new NotOwnerError(`Condition.wait() needs its lock held by this actor: acquire() the condition before using wait().`, 'Condition');
        this.#holders.delete(from);
        this.#value += 1;
        call?.reply(levels);
        this.#pump();
        return;
      }
      case 'state':
        call?.reply({ value: this.#value, mine: this.#holders.get(from) ?? 0, holders: this.#holders.size, waiting: this.waiters.length });
        return;
      default:
        throw new TypeError(`${this.#flavour} has no op ${JSON.stringify(request.op)}`);
    }
  }

  /** Whether a grant to `from` must wait its turn: others queued first, unless it re-enters an RLock it holds. */
  #waiting(from: string): boolean {
    return this.waiters.length > 0 && !(this.#reentrant && this.#holders.has(from));
  }

  #grant(from: string, levels: number): true | 'abandoned' | null {
    const held = this.#holders.get(from);
    if (this.#reentrant && held !== undefined) {
      this.#holders.set(from, held + levels);
      return true;
    }
    if (this.#value < 1) return null;
    this.#value -= 1;
    this.#holders.set(from, (held ?? 0) + (this.#reentrant ? levels : 1));
    this.watch(from);
    if (this.#abandoned > 0) {
      this.#abandoned -= 1;
      return 'abandoned';
    }
    return true;
  }

  /** Gives back one level of an owned lock, or `n` permits of a semaphore. */
  #release(from: string, n: number): void {
    const held = this.#holders.get(from);
    if (this.#owned) {
      if (held === undefined) {
        // An RLock is Python's: released by a non-owner (nobody holds it included), an ownership error.
        if (this.#holders.size === 0 && this.#flavour !== 'RLock') {
          throw new ReleasedTooManyError(`${this.#flavour}.release() was called while nobody held it: release only what acquire() gave you.`, this.#flavour);
        }
        throw new NotOwnerError(`${this.#flavour}.release() was called by an actor that does not hold it; ${this.#holders.size === 0 ? 'nobody does' : 'another actor does'}. Only the holder may release it.`, this.#flavour);
      }
      if (held > 1) this.#holders.set(from, held - 1);
      else {
        this.#holders.delete(from);
        this.#value += 1;
      }
      return;
    }
    if (this.#bound !== null && this.#value + n > this.#bound) {
      throw new ReleasedTooManyError(`BoundedSemaphore(${this.#bound}).release(${n === 1 ? '' : n}) would raise its value past ${this.#bound}: released more times than acquired.`, 'BoundedSemaphore');
    }
    // A semaphore may be released by any actor (Python's signalling idiom). It
    // is counted against the caller's own permits first, else against the
    // oldest holder's, so that a holder's death never returns a permit twice.
    for (let i = 0; i < n; i++) {
      const debtor = this.#holders.has(from) ? from : this.#holders.keys().next().value;
      if (debtor === undefined) break;
      const permits = this.#holders.get(debtor)!;
      if (permits > 1) this.#holders.set(debtor, permits - 1);
      else this.#holders.delete(debtor);
    }
    this.#value += n;
  }

  /** Hands free permits to waiters, first come first served. */
  #pump(): void {
    while (this.waiters.length > 0) {
      const head = this.waiters[0]!;
      const levels = typeof head.request.levels === 'number' ? head.request.levels : 1;
      const granted = this.#grant(head.from, levels);
      if (granted === null) return;
      this.shift();
      head.call.reply(granted);
    }
  }

  protected ended(actor: string, _waiters: Waiter[], reason: ExitReason): void {
    const held = this.#holders.get(actor);
    if (held !== undefined) {
      this.#holders.delete(actor);
      // A lock's holder gone for any reason frees it: nobody else may release it. A semaphore's
      // permits kept by an actor that returned normally stay taken, as Python's: in its signalling
      // idiom (release() in one process, acquire() in another) a consumed signal must not come back.
      if (this.#owned || reason !== 'normal') {
        const permits = this.#owned ? 1 : held;
        this.#value += permits;
        this.#abandoned += permits;
      }
    }
    this.#pump();
  }
}

/**
 * A mutual-exclusion lock owned by the actor that acquired it (Python's
 * `multiprocessing.Lock`, but owned: only the holder may release it, and it
 * is released when its holder ends). Not re-entrant: a second acquire by the
 * same actor waits, as Python's does. Two async tasks of one actor count as
 * the same owner.
 */
export class Lock extends Acquirable {
  constructor() {
    super(new PermitService('Lock', 1).ref);
  }
  protected get what(): string {
    return 'Lock';
  }
  /** Whether some actor holds it now. */
  async locked(): Promise<boolean> {
    return ((await request(this.ref, { op: 'state' })) as { value: number }).value === 0;
  }
}

/**
 * A re-entrant lock: the actor holding it may acquire it again, and must
 * release it as many times. Released whole when its holder ends.
 */
export class RLock extends Acquirable {
  constructor() {
    super(new PermitService('RLock', 1).ref);
  }
  protected get what(): string {
    return 'RLock';
  }
  /** How many levels this actor holds (0 when it does not hold it). */
  async levels(): Promise<number> {
    return ((await request(this.ref, { op: 'state' })) as { mine: number }).mine;
  }
  /** Whether some actor holds it now, this one or another (Python 3.14's `RLock.locked()`). */
  async locked(): Promise<boolean> {
    return ((await request(this.ref, { op: 'state' })) as { holders: number }).holders > 0;
  }
}

function checkValue(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw invalidOption('value', 'an integer ≥ 0', value);
  return value;
}

/**
 * A counting semaphore (Python's `Semaphore(value)`): `acquire` takes a
 * permit, waiting for one; `release` gives one back (any actor may release,
 * and the value may grow past its start). Permits held by an actor that ends
 * are given back, and their next acquirers get `'abandoned'`.
 */
export class Semaphore extends Acquirable {
  /** Whether `release` past the initial value is an error. */
  protected static readonly bounded: boolean = false;
  /** @throws {InvalidArgumentError} when `value` is not an integer ≥ 0. */
  constructor(value = 1) {
    super(new PermitService(new.target.bounded ? 'BoundedSemaphore' : 'Semaphore', checkValue(value)).ref);
  }
  protected get what(): string {
    return 'Semaphore';
  }
  /**
   * Gives back `n` permits (Python's `threading.Semaphore.release(n)`),
   * waking up to `n` waiters. Rejects with `InvalidArgumentError` for an `n`
   * that is not an integer ≥ 1, and a BoundedSemaphore with
   * `ReleasedTooManyError` when they would raise its value past its start
   * (none is given back then).
   */
  override async release(n = 1): Promise<void> {
    if (!Number.isInteger(n) || n < 1) throw invalidOption('release() n', 'an integer ≥ 1 (the permits to give back)', n);
    await request(this.ref, n === 1 ? { op: 'release' } : { op: 'release', n });
  }
  /** The permits free now (Python's `get_value()`). */
  async getValue(): Promise<number> {
    return ((await request(this.ref, { op: 'state' })) as { value: number }).value;
  }
}

/** A semaphore whose `release` past its initial value rejects with `ReleasedTooManyError`. */
export class BoundedSemaphore extends Semaphore {
  protected static override readonly bounded: boolean = true;
  protected override get what(): string {
    return 'BoundedSemaphore';
  }
}

registerHandle('troupe.lock', Lock, (ref) => adopt(Lock, { ref: ref as ActorRef }));
registerHandle('troupe.rlock', RLock, (ref) => adopt(RLock, { ref: ref as ActorRef }));
registerHandle('troupe.semaphore', Semaphore, (ref) => adopt(Semaphore, { ref: ref as ActorRef }));
registerHandle('troupe.bounded-semaphore', BoundedSemaphore, (ref) => adopt(BoundedSemaphore, { ref: ref as ActorRef }));
