/**
 * `Value` and `SharedArray`: Python's `multiprocessing.Value` and `Array`,
 * as a typed array held by a service in the process that made them. Every
 * operation is one round trip to that service; `add`, `compareAndSet` and
 * `update` are atomic. Each has its own re-entrant lock, as Python's
 * `Synchronized` has: while one actor holds it, the plain gets and sets of
 * other actors wait their turn, so `withLock` makes compound updates safe.
 *
 * Not shared memory: Node's SharedArrayBuffer does not cross OS processes,
 * and mapping a segment into several would need a native addon (see
 * docs/sync.md for the cost this has and what would remove it).
 */
import { ActorRef, InvalidArgumentError, invalidOption, registerHandle, type ServiceCall } from '../../runtime/index.ts';
import { Acquirable, adopt, request } from '../sync/client.ts';
import { SyncService, type Request, type Waiter } from '../sync/core.ts';
import { NotOwnerError, ReleasedTooManyError, SharedValueError } from '../sync/errors.ts';
import { asStored, checkElement, checkElements, checkKind, isBig, makeStore, type ElementOf, type Kind, type KindName, type NameOf, type Store } from './kinds.ts';

class SharedService extends SyncService {
  readonly #store: Store;
  readonly #what: string;
  #holder: string | null = null;
  #levels = 0;
  #abandoned = false;

  constructor(what: string, kind: KindName, initial: readonly (number | bigint)[] | number) {
    super(what);
    this.#what = what;
    this.#store = makeStore(kind, typeof initial === 'number' ? initial : initial.length);
    if (typeof initial !== 'number') (this.#store as unknown as { set(v: readonly unknown[]): void }).set(initial);
  }

  protected serve(request: Request, from: string, call: ServiceCall | undefined): void {
    if (request.op === 'release') {
      if (this.#holder !== from) {
        if (this.#holder === null) throw new ReleasedTooManyError(`${this.#what}'s lock was released while nobody held it.`, this.#what);
        throw new NotOwnerError(`${this.#what}'s lock was released by an actor that does not hold it; another actor does.`, this.#what);
      }
      if (--this.#levels === 0) this.#holder = null;
      // An acquire aborted after it was granted the lock of a holder that died: the flag goes on to the next.
      if (request.abandoned === true) this.#abandoned = true;
      call?.reply(undefined);
      this.#pump();
      return;
    }
    if (this.#holder === from || (this.#holder === null && this.waiters.length === 0)) return void this.#run(request, from, call);
    if (request.op === 'acquire' && request.timeout === 0) return void call?.reply(false);
    if (call !== undefined) this.enqueue(from, call, request);
  }

  /** Runs a request whose turn it is. */
  #run(request: Request, from: string, call: ServiceCall | undefined): void {
    if (request.op === 'acquire') {
      if (this.#holder === null) {
        this.#holder = from;
        this.watch(from);
      }
      this.#levels++;
      const abandoned = this.#abandoned;
      this.#abandoned = false;
      return void call?.reply(abandoned ? 'abandoned' : true);
    }
    const store = this.#store as unknown as (number | bigint)[];
    const at = (i: unknown): number => {
      if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= this.#store.length) {
        throw new SharedValueError(`index ${String(i)} is out of range for ${this.#what}, of length ${this.#store.length}.`);
      }
      return i;
    };
    switch (request.op) {
      case 'get':
        return void call?.reply(store[at(request.i)]);
      case 'set':
        store[at(request.i)] = request.v as number;
        return void call?.reply(undefined);
      case 'add': {
        const i = at(request.i);
        let v = request.v as number;
        // An integer delta is wrapped to the kind's width first (exactly: % of a double is): added
        // whole, 1 + 2**53 as doubles would lose the 1 before the store wrapped the sum.
        const float = this.#store instanceof Float32Array || this.#store instanceof Float64Array;
        if (typeof v === 'number' && !float) v %= 2 ** (8 * this.#store.BYTES_PER_ELEMENT);
        store[i] = (store[i] as number) + v;
        return void call?.reply(store[i]);
      }
      case 'cas': {
        const i = at(request.i);
        const expected = request.expected as number | bigint;
        const now = store[i];
        // Exactly equal: an expected value the kind cannot hold (1.5, or 2**32 + 1 for int32) never matches.
        // float32 stores rounded, so its expected value is rounded the same way first.
        const wanted = this.#store instanceof Float32Array ? Math.fround(expected as number) : expected;
        const same = now === wanted || (Number.isNaN(now) && Number.isNaN(wanted));
        if (same) store[i] = request.v as number;
        return void call?.reply(same);
      }
      case 'slice': {
        const start = request.start as number;
        const end = request.end as number;
        return void call?.reply(Array.from(this.#store.subarray(start, end) as ArrayLike<number | bigint>));
      }
      case 'setSlice': {
        const values = request.values as (number | bigint)[];
        const start = request.start as number;
        if (start < 0 || start + values.length > this.#store.length) {
          throw new SharedValueError(`${values.length} values from index ${start} do not fit ${this.#what}, of length ${this.#store.length}.`);
        }
        (this.#store as unknown as { set(v: readonly unknown[], at: number): void }).set(values, start);
        return void call?.reply(undefined);
      }
      case 'state':
        return void call?.reply({ locked: this.#holder !== null, mine: this.#holder === from ? this.#levels : 0, waiting: this.waiters.length });
      default:
        throw new TypeError(`${this.#what} has no op ${JSON.stringify(request.op)}`);
    }
  }

  /** Serves queued requests in order, while nobody holds the lock (or for the holder, which never waits on itself). */
  #pump(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const waiter = this.waiters[i]!;
      if (this.#holder !== null && this.#holder !== waiter.from) {
        i++;
        continue;
      }
      this.takeWhere((w) => w === waiter);
      try {
        this.#run(waiter.request, waiter.from, waiter.call);
      } catch (err) {
        waiter.call.fail(err);
      }
    }
  }

  protected override timedOut(waiter: Waiter): void {
    waiter.call.reply(false);
  }

  protected ended(actor: string, _waiters: Waiter[]): void {
    if (this.#holder === actor) {
      this.#holder = null;
      this.#levels = 0;
      this.#abandoned = true;
    }
    this.#pump();
  }
}

/** The expected value of a compare-and-set: of the kind's type (a bigint for the 64-bit kinds), any such value. */
function checkExpected(kind: KindName, expected: unknown): void {
  if (isBig(kind) ? typeof expected !== 'bigint' : typeof expected !== 'number') {
    throw new SharedValueError(`the expected value must be a ${isBig(kind) ? 'bigint' : 'number'} for kind ${kind}, got ${typeof expected} ${String(expected)}.`);
  }
}

/** Plain gets and sets wait while another actor holds the lock, for as long as it holds it. */
const WAITS = Infinity;

/** `i` as an index from 0; a negative one counts from the end, as Python's `arr[-1]` and `Array.prototype.at` do. */
function checkIndex(i: unknown, length: number, what: string): number {
  if (typeof i !== 'number' || !Number.isInteger(i)) throw invalidOption('index', 'an integer', i);
  if (i < -length || i >= length) {
    throw new SharedValueError(`index ${String(i)} is out of range for ${what}, of length ${length}.`);
  }
  return i < 0 ? i + length : i;
}

/** `Value`'s class, generic over its kind's name (see `Value`). */
class ValueOf<N extends KindName = KindName> extends Acquirable {
  /** The element kind, by name (`'int32'` for a Value made with `'i'`). */
  readonly kind: N;

  /**
   * `kind`: by name (`'int32'`) or by Python's typecode (`'i'`).
   * @throws {InvalidArgumentError} for an unknown kind, or an argument after `initial` (Python's `lock=`: a Value has its own lock, and its operations are atomic); {SharedValueError} for an initial value of the wrong type.
   */
  constructor(kind: Kind, initial?: ElementOf<N>) {
    const k = checkKind(kind);
    noLockOption('Value', 'new Value(kind, initial)', arguments.length, 2);
    // Absent is 0; null is no number (Python's Value('i', None) is a TypeError), not 0.
    const start = initial === undefined ? ((isBig(k) ? 0n : 0) as ElementOf<N>) : initial;
    checkElement(k, start, 'the initial value');
    super(new SharedService(`Value(${k})`, k, [start]).ref);
    this.kind = k as N;
  }
  protected get what(): string {
    return `Value(${this.kind})`;
  }

  /** The value now; waits while another actor holds the lock. */
  async get(): Promise<ElementOf<N>> {
    return (await request(this.ref, { op: 'get', i: 0 }, WAITS)) as ElementOf<N>;
  }
  /** Stores `value` (wrapped to the kind, C-style); waits while another actor holds the lock. Throws `SharedValueError` for a value of the wrong type. */
  async set(value: ElementOf<N>): Promise<void> {
    checkElement(this.kind, value, 'the value');
    await request(this.ref, { op: 'set', i: 0, v: value }, WAITS);
  }
  /** Adds `delta` atomically; resolves with the new value (wrapped to the kind). */
  async add(delta: ElementOf<N>): Promise<ElementOf<N>> {
    checkElement(this.kind, delta, 'the delta');
    return (await request(this.ref, { op: 'add', i: 0, v: delta }, WAITS)) as ElementOf<N>;
  }
  /** Stores `value` if the value is `expected` (as the kind stores it: `0.1` matches a float32's 0.1), atomically; resolves with whether it did. */
  async compareAndSet(expected: ElementOf<N>, value: ElementOf<N>): Promise<boolean> {
    checkElement(this.kind, value, 'the value');
    checkExpected(this.kind, expected);
    return (await request(this.ref, { op: 'cas', i: 0, expected, v: value }, WAITS)) as boolean;
  }
  /**
   * Replaces the value with `fn(value)` atomically, by compare-and-set until
   * no other actor changed it in between (`fn` may run more than once: keep
   * it pure). Resolves with the value stored.
   */
  async update(fn: (value: ElementOf<N>) => ElementOf<N>): Promise<ElementOf<N>> {
    if (typeof fn !== 'function') throw invalidOption('update() fn', 'a function from the value to the new value', fn);
    for (;;) {
      const now = await this.get();
      const next = fn(now);
      if (await this.compareAndSet(now, next)) return asStored(this.kind, next);
    }
  }

  override toWire(): unknown {
    return [this.ref, this.kind];
  }
}

/**
 * Python's `Value(kind, x, lock=False)` has a counterpart in neither
 * argument nor meaning: said, rather than the argument ignored.
 */
function noLockOption(what: string, signature: string, given: number, takes: number): void {
  if (given > takes) {
    throw new InvalidArgumentError(
      `${what} takes ${takes} arguments (${signature}), got ${given}. Python's lock= has no counterpart: every operation is atomic, and the ${what} has its own re-entrant lock (acquire, withLock) for compound updates.`,
    );
  }
}

/** The longest SharedArray taken: past it a typed array cannot be made (a length of 2 ** 53 was a bare RangeError). */
const MAX_LENGTH = 2 ** 30;

/** `SharedArray`'s class, generic over its kind's name (see `SharedArray`). */
class SharedArrayOf<N extends KindName = KindName> extends Acquirable {
  /** The element kind, by name (`'float64'` for an array made with `'d'`). */
  readonly kind: N;
  /** The fixed number of elements. */
  readonly length: number;

  /**
   * `kind`: by name (`'float64'`) or by Python's typecode (`'d'`);
   * `lengthOrValues`: a length (zero-filled) or the initial elements.
   * @throws {InvalidArgumentError} for an unknown kind, a bad length, or an argument after `lengthOrValues` (Python's `lock=`); {SharedValueError} for elements of the wrong type.
   */
  constructor(kind: Kind, lengthOrValues: number | readonly ElementOf<N>[] | ArrayLike<ElementOf<N>>) {
    const k = checkKind(kind);
    noLockOption('SharedArray', 'new SharedArray(kind, lengthOrValues)', arguments.length, 2);
    // Any sequence, as Python's Array takes one: a typed array, say.
    if (typeof lengthOrValues === 'object' && lengthOrValues !== null && !Array.isArray(lengthOrValues) && typeof (lengthOrValues as ArrayLike<unknown>).length === 'number') {
      lengthOrValues = Array.from(lengthOrValues as ArrayLike<ElementOf<N>>);
    }
    if (typeof lengthOrValues === 'number') {
      if (!Number.isInteger(lengthOrValues) || lengthOrValues < 0 || lengthOrValues > MAX_LENGTH) throw invalidOption('length', `an integer from 0 to ${MAX_LENGTH}`, lengthOrValues);
    } else if (Array.isArray(lengthOrValues)) {
      checkElements(k, lengthOrValues);
    } else throw invalidOption('lengthOrValues', 'a length or an array (or typed array) of elements', lengthOrValues);
    const length = typeof lengthOrValues === 'number' ? lengthOrValues : lengthOrValues.length;
    super(new SharedService(`Array(${k}, ${length})`, k, lengthOrValues as number | (number | bigint)[]).ref);
    this.kind = k as N;
    this.length = length;
  }
  protected get what(): string {
    return `Array(${this.kind}, ${this.length})`;
  }

  /** Element `i` (a negative `i` counts from the end, as in Python). Throws `SharedValueError` for an index out of range. */
  async get(i: number): Promise<ElementOf<N>> {
    return (await request(this.ref, { op: 'get', i: checkIndex(i, this.length, this.what) }, WAITS)) as ElementOf<N>;
  }
  /** Stores `value` at `i` (wrapped to the kind). Throws `SharedValueError` for an index out of range or a value of the wrong type. */
  async set(i: number, value: ElementOf<N>): Promise<void> {
    checkElement(this.kind, value, 'the value');
    await request(this.ref, { op: 'set', i: checkIndex(i, this.length, this.what), v: value }, WAITS);
  }
  /** Adds `delta` to element `i` atomically; resolves with its new value. */
  async add(i: number, delta: ElementOf<N>): Promise<ElementOf<N>> {
    checkElement(this.kind, delta, 'the delta');
    return (await request(this.ref, { op: 'add', i: checkIndex(i, this.length, this.what), v: delta }, WAITS)) as ElementOf<N>;
  }
  /** Stores `value` at `i` if the element is `expected` (as the kind stores it), atomically; resolves with whether it did. */
  async compareAndSet(i: number, expected: ElementOf<N>, value: ElementOf<N>): Promise<boolean> {
    checkElement(this.kind, value, 'the value');
    checkExpected(this.kind, expected);
    return (await request(this.ref, { op: 'cas', i: checkIndex(i, this.length, this.what), expected, v: value }, WAITS)) as boolean;
  }
  /** Replaces element `i` with `fn(element)` atomically (compare-and-set until it holds; keep `fn` pure). */
  async update(i: number, fn: (value: ElementOf<N>) => ElementOf<N>): Promise<ElementOf<N>> {
    if (typeof fn !== 'function') throw invalidOption('update() fn', 'a function from the element to the new element', fn);
    for (;;) {
      const now = await this.get(i);
      const next = fn(now);
      if (await this.compareAndSet(i, now, next)) return asStored(this.kind, next);
    }
  }
  /** Elements `start..end-1` (as `Array.prototype.slice` counts them, negatives from the end) in one round trip. */
  async slice(start = 0, end = this.length): Promise<ElementOf<N>[]> {
    if (!Number.isInteger(start)) throw invalidOption('start', 'an integer', start);
    if (!Number.isInteger(end)) throw invalidOption('end', 'an integer', end);
    const s = start < 0 ? Math.max(0, this.length + start) : Math.min(start, this.length);
    const e = end < 0 ? Math.max(0, this.length + end) : Math.min(end, this.length);
    return (await request(this.ref, { op: 'slice', start: s, end: Math.max(s, e) }, WAITS)) as ElementOf<N>[];
  }
  /** Every element. */
  toArray(): Promise<ElementOf<N>[]> {
    return this.slice();
  }
  /**
   * Stores `values` (an array, or a typed array) from index `start` on (a
   * negative `start` counts from the end), in one round trip. Throws
   * `SharedValueError` when they do not fit or have the wrong type.
   */
  async setSlice(start: number, elements: readonly ElementOf<N>[] | ArrayLike<ElementOf<N>>): Promise<void> {
    if (!Number.isInteger(start)) throw invalidOption('start', 'an integer', start);
    // A length past this array's is SharedValueError below ("do not fit"), as a slice that overruns it.
    if (typeof elements !== 'object' || elements === null || !Number.isSafeInteger(elements.length) || elements.length < 0) throw invalidOption('values', 'an array of elements', elements);
    if (elements.length > this.length) throw new SharedValueError(`${elements.length} values do not fit ${this.what}.`);
    const values: readonly ElementOf<N>[] = Array.isArray(elements) ? elements : Array.from(elements);
    if (start < 0) start += this.length;
    if (start < 0 || start + values.length > this.length) {
      throw new SharedValueError(`${values.length} values from index ${start} do not fit ${this.what}.`);
    }
    checkElements(this.kind, values);
    await request(this.ref, { op: 'setSlice', start, values }, WAITS);
  }

  /**
   * The elements as bytes (`uint8` arrays: Python's `Array('c')` `.raw`).
   * @throws {SharedValueError} `ERR_SHARED_VALUE` for another kind.
   */
  async getBytes(): Promise<Buffer> {
    this.bytesOnly('getBytes()');
    return Buffer.from((await this.slice()) as number[]);
  }

  /**
   * Stores `bytes` from index `start` on, in one round trip.
   * @throws {SharedValueError} `ERR_SHARED_VALUE` for another kind, or bytes that do not fit.
   */
  async setBytes(bytes: Uint8Array, start = 0): Promise<void> {
    this.bytesOnly('setBytes()');
    if (!ArrayBuffer.isView(bytes)) throw invalidOption('bytes', 'a Buffer or Uint8Array', bytes);
    await this.setSlice(start, Array.from(bytes) as ElementOf<N>[]);
  }

  /**
   * The bytes up to the first 0, as UTF-8 text (`uint8` arrays: Python's `Array('c')` `.value`).
   * @throws {SharedValueError} `ERR_SHARED_VALUE` for another kind.
   */
  async getString(): Promise<string> {
    const bytes = await this.getBytes();
    const end = bytes.indexOf(0);
    return bytes.subarray(0, end === -1 ? bytes.length : end).toString('utf8');
  }

  /**
   * Stores `text` as UTF-8 from index 0, followed by a 0 when it is shorter
   * than the array (Python's `.value = b'…'`).
   * @throws {SharedValueError} `ERR_SHARED_VALUE` for another kind, or text longer than the array.
   */
  async setString(text: string): Promise<void> {
    this.bytesOnly('setString()');
    if (typeof text !== 'string') throw invalidOption('text', 'a string', text);
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > this.length) throw new SharedValueError(`${bytes.length} bytes of text do not fit ${this.what}, of length ${this.length}.`);
    await this.setBytes(bytes.length < this.length ? Buffer.concat([bytes, Buffer.alloc(1)]) : bytes);
  }

  // Not a #private method: an array another process sent is made without its constructor (see adopt).
  private bytesOnly(what: string): void {
    if (this.kind !== 'uint8') throw new SharedValueError(`${what} needs a 'uint8' array; ${this.what} holds ${this.kind}.`);
  }

  override toWire(): unknown {
    return [this.ref, this.kind, this.length];
  }
}

/**
 * One shared element of a C kind (Python's `multiprocessing.Value`): `get`,
 * `set`, atomic `add`, `compareAndSet` and `update`, and a re-entrant lock
 * (`acquire`, `release`, `hold`, `withLock`) for compound updates.
 */
export type Value<K extends Kind = KindName> = ValueOf<NameOf<K>>;
/** How `Value` is constructed: typed by the kind given, a name or Python's typecode (`new Value('i', 0)` is a `Value<'int32'>`). */
export interface ValueConstructor {
  /**
   * `kind`: by name (`'int32'`) or by Python's typecode (`'i'`); `initial`: 0 if absent.
   * @throws {InvalidArgumentError} for an unknown kind, or an argument after `initial` (Python's `lock=`: a Value has its own lock, and its operations are atomic); {SharedValueError} for an initial value of the wrong type.
   */
  new <K extends Kind = KindName>(kind: K, initial?: ElementOf<K>): Value<K>;
  readonly prototype: Value;
}
export const Value = ValueOf as unknown as ValueConstructor;
Object.defineProperty(ValueOf, 'name', { value: 'Value' });

/**
 * A fixed-length shared array of a C kind (Python's `multiprocessing.Array`;
 * named so that it does not shadow the global `Array`): element `get`/`set`,
 * atomic `add`/`compareAndSet`/`update` per element, `slice`/`setSlice`, and
 * a re-entrant lock as `Value` has.
 */
export type SharedArray<K extends Kind = KindName> = SharedArrayOf<NameOf<K>>;
/** How `SharedArray` is constructed: typed by the kind given, a name or Python's typecode (`new SharedArray('d', 3)` is a `SharedArray<'float64'>`). */
export interface SharedArrayConstructor {
  /**
   * `kind`: by name (`'float64'`) or by Python's typecode (`'d'`);
   * `lengthOrValues`: a length (zero-filled) or the initial elements.
   * @throws {InvalidArgumentError} for an unknown kind, a bad length, or an argument after `lengthOrValues` (Python's `lock=`); {SharedValueError} for elements of the wrong type.
   */
  new <K extends Kind = KindName>(kind: K, lengthOrValues: number | readonly ElementOf<K>[] | ArrayLike<ElementOf<K>>): SharedArray<K>;
  readonly prototype: SharedArray;
}
export const SharedArray = SharedArrayOf as unknown as SharedArrayConstructor;
Object.defineProperty(SharedArrayOf, 'name', { value: 'SharedArray' });

registerHandle('troupe.value', ValueOf, (data) => {
  const [ref, kind] = data as [ActorRef, KindName];
  return adopt(ValueOf<KindName>, { ref, kind });
});
registerHandle('troupe.array', SharedArrayOf, (data) => {
  const [ref, kind, length] = data as [ActorRef, KindName, number];
  return adopt(SharedArrayOf<KindName>, { ref, kind, length });
});
