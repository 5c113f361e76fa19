/**
 * `Queue`, `JoinableQueue`, `SimpleQueue`: Python's multiprocessing queues as
 * handles on a queue service. The service lives in the process that made the
 * queue; the handle travels in args and messages to any actor in the tree.
 *
 * What Python loses, these keep: `put` resolves once the queue holds the item
 * (a producer killed right after loses nothing); an item sent to a consumer
 * stays the queue's until the consumer's process confirms it, and goes back
 * to the front if that process dies first; a `JoinableQueue` item goes back
 * if its consumer dies before `taskDone()`, so `join()` still completes.
 */
import { ActorRef, Handle, checkOptions, invalidOption, node, onlyKnown, optionsOf, registerHandle, type Down } from '../../runtime/index.ts';
import { Channel, seqAt, type Batch } from './channel.ts';
import { Callers, clientFor, isBatch, isRefusal, waitMs, type ChannelClient, type WaitOptions } from './client.ts';
import { ClosedError, QueueEmptyError, QueueFullError, TaskDoneError } from './errors.ts';
import { TRACK_FLIGHTS } from './flights.ts';
import { holdAlive } from '../../runtime/timers.ts';

export type { WaitOptions } from './client.ts';

/** `new Queue(options)`, `new JoinableQueue(options)`. */
export interface QueueOptions {
  /** Most items held at once; `put` waits while it is reached. `0` (the default) is unbounded. */
  readonly maxsize?: number;
  /** How errors and `ps`-style listings name it; default `queue-<n>`. */
  readonly name?: string;
}

/** The most items `for await` asks for at once; they are confirmed one by one as the loop takes them. */
const PREFETCH = 1024;
/** A loop that takes a batch within this many milliseconds is fast: it gets bigger batches. */
const FAST_MS = 10;
/** From this batch size on, a loop asks for its next batch before taking the current one. */
const PIPELINE_FROM = 16;
/**
 * A loop that stays on one item this long (between one and two times it) gives back the rest of
 * its batch, and the batch it fetched ahead: others take them while it works.
 */
const STALLED_MS = 50;

/** Requests a queue service takes. */
/** Confirmations from a consumer, sent alone (`t: 's'`) or riding on its next request (`s`). */
type Settle = { a: number[]; r?: number[] };
type Request = { s?: Settle } & (
  | { t: 'put'; vs: unknown[]; ms?: number; k?: number }
  | { t: 'get'; n: number; ms?: number; k?: number }
  | ({ t: 's' } & Settle)
  | { t: 'x'; k: number }
  | { t: 'info' }
  | { t: 'close' }
  | { t: 'done' }
  | { t: 'join'; ms?: number; k?: number }
);

/** What `info` answers. */
interface Info {
  readonly size: number;
  readonly full: boolean;
  readonly closed: boolean;
  readonly unfinished: number;
}
/** What a queue whose service has gone (closed and drained) answers for its size. */
const DRAINED: Info = Object.freeze({ size: 0, full: false, closed: true, unfinished: 0 });

let queues = 0;

/** Starts a queue service in this process; it frees itself once closed and drained. */
function serveQueue(name: string, maxsize: number, joinable: boolean): ActorRef {
  const channel = new Channel(maxsize, joinable, TRACK_FLIGHTS);
  const service = node().service(name, (message, from, call) => {
    const ended = callers.ended(message);
    if (ended !== undefined) {
      channel.down(ended, (message as Down).reason === 'normal');
    } else {
      const m = message as Request;
      callers.see(from);
      if (m.s !== undefined) channel.settle(from, m.s.a, m.s.r);
      if (call === undefined) {
        if (m.t === 's') channel.settle(from, m.a, m.r);
        else if (m.t === 'x') channel.cancel(from, m.k);
      } else if (m.t === 'put') channel.put(from, call, m.vs, m.ms, m.k);
      else if (m.t === 'get') channel.get(from, call, m.n, m.ms, m.k);
      else if (m.t === 'info') call.reply({ size: channel.size, full: channel.full, closed: channel.closed, unfinished: channel.unfinished } satisfies Info);
      else if (m.t === 'close') {
        channel.close();
        call.reply(true);
      } else if (m.t === 'done') channel.taskDone(from, call);
      else if (m.t === 'join') channel.join(from, call, m.ms, m.k);
      else call.fail(new TypeError(`queue ${name}: unknown request ${JSON.stringify(m.t)}`));
    }
    if (channel.finished) {
      channel.dispose({ e: 'closed' }); // what it still held, done (copies of pipe ends in it land)
      callers.release();
      service.close();
    }
  });
  const callers = new Callers(service);
  return service.ref;
}

/** Marks a handle rebuilt from the wire rather than made by a user. */
const ATTACH = Symbol('attach');
type Attach = { readonly [ATTACH]: true; readonly ref: ActorRef; readonly maxsize: number };

function isAttach(options: unknown): options is Attach {
  return typeof options === 'object' && options !== null && ATTACH in options;
}

function validMaxsize(options: QueueOptions | undefined): number {
  checkOptions(options, 'options', 'an object like `{ maxsize: 100 }`', 'Queue options', ['maxsize', 'name']);
  const maxsize = options?.maxsize ?? 0;
  // As Python's: a maxsize of 0 or less is no bound.
  if (!Number.isInteger(maxsize)) throw invalidOption('maxsize', 'an integer (0 or less is unbounded)', maxsize);
  if (options?.name !== undefined && typeof options.name !== 'string') throw invalidOption('name', 'a string', options.name);
  return Math.max(0, maxsize);
}

/**
 * A multi-producer, multi-consumer FIFO queue shared by actors, as Python's
 * `multiprocessing.Queue`. Make it in any actor, pass it in `args` or in a
 * message, and use it anywhere in the tree. It lives as long as the process
 * that made it, or until it is closed and drained.
 */
export class Queue<T = unknown> extends Handle {
  /** The most items it holds at once; 0 is unbounded. */
  readonly maxsize: number;
  readonly #client: ChannelClient;
  readonly #putRefused: (answer: unknown) => Error;

  constructor(options?: QueueOptions);
  /** @internal */
  constructor(options: Attach);
  constructor(options?: QueueOptions | Attach) {
    super();
    let ref: ActorRef;
    if (isAttach(options)) {
      ref = options.ref;
      this.maxsize = options.maxsize;
    } else {
      this.maxsize = validMaxsize(options);
      ref = serveQueue(options?.name ?? `queue-${++queues}`, this.maxsize, this.joinable);
    }
    this.#putRefused = (answer) => this.#refused(answer, 'put()', undefined, undefined);
    this.#client = clientFor(
      ref,
      `queue ${ref.name}`,
      (cause) => new ClosedError(`queue ${ref.name} is gone: the process that made it ended. A queue lives as long as the actor that made it.`, { cause }),
      { t: 'put' },
    );
  }

  /** @internal Whether this queue counts unfinished tasks (JoinableQueue). */
  protected get joinable(): boolean {
    return false;
  }

  /** The service's ref (for monitors and diagnostics). */
  get ref(): ActorRef {
    return this.#client.ref;
  }

  /**
   * Puts `item` at the back, waiting while the queue is full. Resolves once
   * the queue holds it: from then on it is not lost, even if this process
   * dies. Puts keep their order; on an unbounded queue, those made in one
   * turn (not awaited one by one) travel together as one message.
   * @throws {QueueFullError} `ERR_QUEUE_FULL` still full at `timeout` (at once with `timeout: 0`).
   * @throws {ClosedError} `ERR_CLOSED` the queue is closed.
   * @throws {SerializationError} `ERR_SERIALIZATION` `item` cannot be encoded (thrown here, with its path).
   * @throws {AbortError} `ERR_ABORTED` `signal` was aborted first.
   */
  put(item: T, options?: WaitOptions): Promise<void> {
    let ms: number | undefined;
    try {
      ms = waitMs(options, 'put() options');
    } catch (err) {
      return Promise.reject(err);
    }
    const signal = options?.signal;
    // An unbounded queue takes a turn's puts together (one promise each, refusals mapped by the
    // client); a bounded one answers each put as it gets in.
    if (this.maxsize === 0 && ms === undefined && signal === undefined) return this.#client.putSoon(item, this.#putRefused);
    // The put waits in the service while the queue is full: until it is answered it keeps this process,
    // as Python's put blocks its producer. A producer that returns right after puts it did not await
    // loses none of them (before, its process ended with them unanswered, and they were dropped).
    const release = holdAlive();
    return this.#client
      .request({ t: 'put', vs: [item], ms }, ms, signal, 'put()')
      .finally(release)
      .then((answer) => {
        if (answer === true) return;
        throw this.#refused(answer, 'put()', ms, signal);
      });
  }

  /** `put` without waiting: rejects with `QueueFullError` at once when full. */
  putNowait(item: T): Promise<void> {
    return this.put(item, { timeout: 0 });
  }

  /**
   * Takes the item at the front, waiting while the queue is empty.
   * @throws {QueueEmptyError} `ERR_QUEUE_EMPTY` still empty at `timeout` (at once with `timeout: 0`).
   * @throws {ClosedError} `ERR_CLOSED` the queue is closed and has no items left.
   * @throws {AbortError} `ERR_ABORTED` `signal` was aborted first.
   */
  get(options?: WaitOptions): Promise<T> {
    let ms: number | undefined;
    try {
      ms = waitMs(options, 'get() options');
    } catch (err) {
      return Promise.reject(err);
    }
    const message: Record<string, unknown> = ms === undefined ? { t: 'get', n: 1 } : { t: 'get', n: 1, ms };
    const signal = options?.signal;
    return this.#client
      .request(message, ms, signal, 'get()')
      .then((answer) => this.#client.takeOne(answer, 'get()', signal, (refusal) => this.#refused(refusal, 'get()', ms, signal)) as T);
  }

  /** `get` without waiting: rejects with `QueueEmptyError` at once when empty. */
  getNowait(): Promise<T> {
    return this.get({ timeout: 0 });
  }

  /**
   * Takes items until the queue is closed and drained. Items are fetched a
   * few at a time, more as the loop shows it is fast (up to 1024, and never
   * much more than 1 MiB of buffers and strings at once), one at a time
   * while it is slow, so a slow consumer does not sit on items others could
   * take. A fast loop asks for the next items while it takes the last ones.
   * A loop that stays on one item for 50–100 ms gives back the items of its
   * batch it has not reached (and those it fetched ahead) for others to take,
   * and goes on one at a time. Items the loop has not reached when it ends
   * early (`break`, a throw) go back to the front of the queue.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    let want = 1;
    let fast = false;
    // Each fetch has its own controller: one fetched ahead is given back alone when the loop stalls.
    let aheadStop: AbortController | null = null;
    const fetch = (): Promise<unknown> => {
      aheadStop = new AbortController();
      return this.#client.request({ t: 'get', n: want }, undefined, aheadStop.signal, 'for await');
    };
    let ahead: Promise<unknown> | null = fetch();
    let batch: Batch | null = null;
    let next = 0;
    const giveBackRest = (): void => {
      const held = batch;
      batch = null;
      if (held !== null && next < held.v.length) this.#client.giveBack(Array.from({ length: held.v.length - next }, (_, i) => seqAt(held, next + i)));
    };
    const dropAhead = (): void => {
      if (ahead === null) return;
      aheadStop!.abort();
      // An answer that raced the abort goes back whole.
      ahead.then(
        (answer) => isBatch(answer) && this.#client.giveBack(answer.v.map((_, i) => seqAt(answer, i))),
        () => {},
      );
      ahead = null;
    };
    let stall: ReturnType<typeof setTimeout> | undefined;
    try {
      for (;;) {
        const answer: unknown = await ahead;
        ahead = null;
        if (!isBatch(answer)) {
          if (isRefusal(answer) && answer.e === 'closed') return;
          throw this.#refused(answer, 'for await', undefined, undefined);
        }
        batch = answer;
        // Fetch ahead only while the loop has been fast: a loop turning slow must not sit on a second batch.
        if (fast && want >= PIPELINE_FROM) ahead = fetch();
        const started = performance.now();
        // Watched while it holds items it has not reached: no progress over a whole period, and the
        // loop is stalled on one item (an await, a slow step) with the rest of the batch waiting.
        let stalled = false;
        let seen = -1;
        const watch = (): void => {
          stall = setTimeout(() => {
            if (next !== seen) {
              seen = next;
              watch();
              return;
            }
            stalled = true;
            giveBackRest();
            dropAhead();
          }, STALLED_MS);
          stall.unref();
        };
        if (batch.v.length > 1 || ahead !== null) watch();
        for (next = 0; batch !== null && next < batch.v.length; ) {
          const i = next++;
          this.#client.ack(seqAt(batch, i));
          yield batch.v[i] as T;
        }
        clearTimeout(stall);
        batch = null;
        // Fast: the loop took the batch within FAST_MS. Slow: fall back towards one at a time.
        fast = !stalled && performance.now() - started < FAST_MS;
        want = stalled ? 1 : fast ? Math.min(want * 2, PREFETCH) : Math.max(want >> 1, 1);
        ahead ??= fetch();
      }
    } finally {
      clearTimeout(stall);
      giveBackRest();
      dropAhead();
    }
  }

  /** Items in the queue now (not counting those on their way to a consumer). Approximate, as in Python, since others put and get meanwhile. */
  async size(): Promise<number> {
    return (await this.#info()).size;
  }

  /** Whether the queue holds no items now. */
  async empty(): Promise<boolean> {
    return (await this.#info()).size === 0;
  }

  /** Whether the queue holds `maxsize` items now. */
  async full(): Promise<boolean> {
    return (await this.#info()).full;
  }

  /**
   * Closes the queue for everyone: later puts reject with `ClosedError`;
   * consumers take what is left, then `get` rejects with `ClosedError` and
   * `for await` loops end. Waiting puts are refused. Idempotent; a queue that
   * is closed and drained frees its service.
   */
  async close(): Promise<void> {
    await this.#client.request({ t: 'close' }, undefined, undefined, 'close()');
  }

  protected get client(): ChannelClient {
    return this.#client;
  }

  async #info(): Promise<Info> {
    const answer = await this.#client.request({ t: 'info' }, undefined, undefined, 'size()');
    // Freed: closed and drained, so empty (Python's empty() on a closed queue is true, not an error).
    if (isRefusal(answer)) return DRAINED;
    return answer as Info;
  }

  #refused(answer: unknown, what: string, ms: number | undefined, signal: AbortSignal | undefined): Error {
    const label = this.#client.label;
    if (!isRefusal(answer)) return new TypeError(`${label}: unexpected answer to ${what}`);
    switch (answer.e) {
      case 'full':
        return new QueueFullError(`${label} is full (maxsize ${this.maxsize})${ms ? ` and stayed full for ${ms} ms` : ''}; the item was not put. Wait longer, raise maxsize, or add consumers.`);
      case 'empty':
        return new QueueEmptyError(`${label} is empty${ms ? ` and stayed empty for ${ms} ms` : ''}.`);
      case 'closed':
        return new ClosedError(what === 'put()' ? `${label} is closed; nothing more can be put.` : `${label} is closed and has no items left.`);
      case 'aborted':
        return this.#client.aborted(what, signal ?? new AbortController().signal);
      default:
        return new TypeError(`${label}: unexpected answer ${answer.e} to ${what}`);
    }
  }

  override toWire(): unknown {
    return [this.#client.ref, this.maxsize];
  }

  /** @internal Rebuilds a handle of this class from its wire form. */
  static attach<Q extends Queue>(this: new (a: Attach) => Q, data: unknown): Q {
    const [ref, maxsize] = data as [ActorRef, number];
    return new this({ [ATTACH]: true, ref, maxsize });
  }

  override toString(): string {
    return `${this.constructor.name}(${this.#client.ref.name} ${this.#client.ref.id})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/**
 * A `Queue` that counts unfinished items, as Python's `JoinableQueue`: each
 * put adds one, each `taskDone()` takes one away, and `join()` waits for
 * none. An item whose consumer dies before its `taskDone()` goes back to the
 * front and is delivered again (at-least-once for that case), so `join()`
 * still completes.
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  protected override get joinable(): boolean {
    return true;
  }

  /**
   * Marks one item taken from the queue as done (this process's oldest).
   * @throws {TaskDoneError} `ERR_TASK_DONE` more calls than items put.
   */
  async taskDone(): Promise<void> {
    const answer = await this.client.request({ t: 'done' }, undefined, undefined, 'taskDone()');
    if (answer !== true) throw new TaskDoneError(`taskDone() was called more times than items were put on ${this.client.label}.`);
  }

  /** Waits until every item put has been marked done. Resolves `true`, or `false` at `timeout`. */
  async join(options?: WaitOptions): Promise<boolean> {
    const ms = waitMs(options, 'join() options');
    const answer = await this.client.request(ms === undefined ? { t: 'join' } : { t: 'join', ms }, ms, options?.signal, 'join()');
    if (isRefusal(answer)) {
      // Freed: closed, drained and every item marked done, so nothing is unfinished.
      if (answer.e === 'closed') return true;
      throw this.client.aborted('join()', options?.signal ?? new AbortController().signal);
    }
    return answer === true;
  }

  /** Items put and not yet marked done. */
  async unfinished(): Promise<number> {
    const answer = await this.client.request({ t: 'info' }, undefined, undefined, 'unfinished()');
    // Freed: closed, drained and every item marked done.
    return isRefusal(answer) ? 0 : (answer as Info).unfinished;
  }
}

/** The unbounded queue, as Python's `SimpleQueue`: `put`, `get`, `empty`, `close`. */
export class SimpleQueue<T = unknown> extends Queue<T> {
  constructor(options?: { readonly name?: string });
  /** @internal */
  constructor(options: Attach);
  constructor(options?: { readonly name?: string } | Attach) {
    if (isAttach(options)) super(options);
    else {
      const given = optionsOf(options, 'SimpleQueue options');
      // Python's SimpleQueue has no maxsize: one given here would be dropped silently.
      if ((given as { maxsize?: unknown }).maxsize !== undefined) throw invalidOption('SimpleQueue options.maxsize', 'absent (a SimpleQueue is unbounded; use Queue for a bounded one)', (given as { maxsize?: unknown }).maxsize);
      onlyKnown(given, 'SimpleQueue options', ['name']);
      super({ name: given.name });
    }
  }
}

registerHandle('queue', Queue, (data) => Queue.attach(data));
registerHandle('joinable-queue', JoinableQueue, (data) => JoinableQueue.attach(data));
registerHandle('simple-queue', SimpleQueue, (data) => SimpleQueue.attach(data));
