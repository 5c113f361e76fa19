/**
 * The handle side of a channel service: requests with their deadline and
 * abort, and the confirmations (acks) of items received, sent in one message
 * per turn.
 */
import { AbortError, ActorExitedError, ActorRef, NoSuchActorError, SerializationError, invalidOption, isDown, node, onProcessEnding, optionsOf } from '../../runtime/index.ts';
import type { Batch, Refusal } from './channel.ts';

/** Options of a wait on a queue or pipe. */
export interface WaitOptions {
  /** Milliseconds to wait; waits forever when absent. `0` does not wait. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

/** A batch of puts goes out as soon as its buffers and strings reach this many bytes. */
const BATCH_BYTES = 1 << 20;

/** Kept past a wait's own deadline before the kernel call gives up: only reached if the service is unresponsive. */
const BACKSTOP_MS = 30_000;

/** Python's spellings of a wait that does not block, answered. */
const NO_BLOCK = "Python's `block=False` is `{ timeout: 0 }` here (or getNowait() / putNowait()).";
const WAIT_HINTS = { block: NO_BLOCK, blocking: NO_BLOCK };

/**
 * A wait's milliseconds from its options (`timeout`, `signal`): undefined for
 * no deadline. A negative timeout does not wait, as Python's queue and
 * connection waits take it (`deadline - time.monotonic()` often is).
 */
export function waitMs(options: WaitOptions | undefined, what = 'wait options'): number | undefined {
  const timeout = optionsOf(options, what, ['timeout', 'signal'], WAIT_HINTS).timeout;
  if (timeout === undefined || timeout === Infinity) return undefined;
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) throw invalidOption('timeout', 'a number of milliseconds (or Infinity)', timeout);
  return Math.max(0, timeout);
}

export function isRefusal(answer: unknown): answer is Refusal {
  return typeof answer === 'object' && answer !== null && 'e' in answer;
}

export function isBatch(answer: unknown): answer is Batch {
  return typeof answer === 'object' && answer !== null && 's' in answer;
}

/** A put waiting in a batch. */
interface Put {
  readonly value: unknown;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly refused: (answer: unknown) => Error;
}

function settlePut(put: Put, answer: unknown): void {
  if (answer === true) put.resolve();
  else put.reject(put.refused(answer));
}

let nextToken = 1;
const CLOSED: Refusal = { e: 'closed' };

const clients = new Map<string, WeakRef<ChannelClient>>();
const forget = new FinalizationRegistry<string>((key) => {
  if (clients.get(key)?.deref() === undefined) clients.delete(key);
});

/**
 * The client of this process for one channel (one end, for a pipe): every
 * handle of it here shares one, so puts made through two copies of a handle
 * (one from args, one from a message) still go out in the order they were made.
 */
export function clientFor(ref: ActorRef, label: string, gone: (cause: Error) => Error, putHead: Record<string, unknown>): ChannelClient {
  const key = `${ref.id}#${JSON.stringify(putHead)}`;
  let client = clients.get(key)?.deref();
  if (client === undefined) {
    client = new ChannelClient(ref, label, gone, putHead);
    clients.set(key, new WeakRef(client));
    forget.register(client, key);
  }
  return client;
}

/** The clients of this process with puts gathered and not yet sent. */
const withPuts = new Set<ChannelClient>();
/** The clients of this process holding acks (or items to give back) for the end of the turn. */
const unsettled = new Set<ChannelClient>();
// Puts gathered for the end of the turn go before the process does, as Python's feeder thread
// flushes at exit: a producer that returns right after a put that was not awaited loses nothing.
// An item taken just before the process ends is taken: its ack goes too.
onProcessEnding(() => {
  for (const client of withPuts) client.flushPutsNow();
  for (const client of unsettled) client.settleNow();
});

/** Talks to one channel service for the handles of this process (see clientFor). */
export class ChannelClient {
  readonly ref: ActorRef;
  /** How errors name the object (`queue jobs`, `pipe end 0 of pipe-3`). */
  readonly label: string;
  /** Builds the error for a service whose process ended. */
  readonly #gone: (cause: Error) => Error;
  /** The request that carries a batch of puts, without its `vs`. */
  readonly #putHead: Record<string, unknown>;
  /** What names this client's channel to its service besides `t` (a pipe's end, `d`): its acks and cancels carry it too. */
  readonly #address: Record<string, unknown>;
  #batch: Put[] = [];
  #batchBytes = 0;
  /** Batches of puts sent and not yet answered. */
  #batchesOut = 0;
  /** Items confirmed, as `[first, count]` pairs. */
  #acks: number[] = [];
  #returns: number[] = [];
  #flushing = false;

  constructor(ref: ActorRef, label: string, gone: (cause: Error) => Error, putHead: Record<string, unknown>) {
    this.ref = ref;
    this.label = label;
    this.#gone = gone;
    this.#putHead = putHead;
    const { t: _put, ...address } = putHead;
    this.#address = address;
  }

  /**
   * Puts `value` with the others put in this turn, in one request: a loop of
   * puts costs one message each way, not one per item. Resolves once the
   * service holds it; rejects with `refused(answer)` for the refusal that
   * stopped it (one promise per put, the put's own: no chained `then`).
   */
  putSoon(value: unknown, refused: (answer: unknown) => Error): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#batch.push({ value, resolve, reject, refused }) === 1) {
        withPuts.add(this);
        // Idle: go at the end of this microtask run, for the latency of a lone put. With batches
        // already on their way the producer is streaming: gather to the end of the turn (as Nagle does).
        if (this.#batchesOut === 0) queueMicrotask(() => this.#flushPuts());
        else setImmediate(() => this.#flushPuts());
      }
      // Large items go at once: waiting for a turn's worth of megabytes would only delay the first.
      this.#batchBytes += ArrayBuffer.isView(value) ? value.byteLength : typeof value === 'string' ? value.length : 0;
      if (this.#batchBytes >= BATCH_BYTES) this.#flushPuts();
    });
  }

  /** Sends the puts gathered for the end of the turn, now. */
  flushPutsNow(): void {
    this.#flushPuts();
  }

  #flushPuts(): void {
    const batch = this.#batch;
    if (batch.length === 0) return;
    withPuts.delete(this);
    this.#batch = [];
    this.#batchBytes = 0;
    this.#batchesOut++;
    const sent = this.#call({ ...this.#putHead, vs: batch.map((b) => b.value) }, undefined);
    void sent.finally(() => this.#batchesOut--).catch(() => {});
    sent.then(
      (answer) => {
        if (answer === true) {
          for (let i = 0; i < batch.length; i++) batch[i]!.resolve();
          return;
        }
        const n = (answer as Refusal).n ?? 0;
        for (let i = 0; i < batch.length; i++) settlePut(batch[i]!, i < n ? true : answer);
      },
      (err: unknown) => {
        if (!(err instanceof SerializationError) || batch.length === 1) {
          for (const b of batch) b.reject(err);
          return;
        }
        // One item cannot be encoded: put them one by one, so only that one fails, naming its path.
        for (const b of batch) this.#call({ ...this.#putHead, vs: [b.value] }, undefined).then((answer) => settlePut(b, answer), b.reject);
      },
    );
  }

  /**
   * Sends `message` to the service and resolves with its answer. With a
   * signal, an abort asks the service to drop the wait; the answer then says
   * `aborted`, unless the service had served it first (then the answer is
   * the real one, and the caller decides).
   */
  request(message: Record<string, unknown>, ms: number | undefined, signal: AbortSignal | undefined, what: string): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(this.aborted(what, signal));
    // Nothing overtakes the puts made before, through this client or another of the same service
    // (a pipe's other end: a poll() right after a send() on it finds the message).
    for (const client of withPuts) if (client.ref.id === this.ref.id) client.#flushPuts();
    const settle = this.#takeSettle();
    if (settle !== undefined) message.s = settle;
    let onAbort: (() => void) | undefined;
    if (signal !== undefined) {
      const token = nextToken++;
      message.k = token;
      onAbort = () => this.ref.send({ t: 'x', ...this.#address, k: token });
      signal.addEventListener('abort', onAbort, { once: true });
    }
    return this.#call(message, ms).then(
      (answer) => {
        if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
        return answer;
      },
      (err: unknown) => {
        if (onAbort !== undefined) signal!.removeEventListener('abort', onAbort);
        // Not sent (an item put that cannot be encoded): the acks it carried go on their own, or the
        // items they confirm would count as lost with this process, and be taken again.
        if (settle !== undefined && err instanceof SerializationError) this.#keepSettle(settle);
        throw err;
      },
    );
  }

  #call(message: Record<string, unknown>, ms: number | undefined): Promise<unknown> {
    const limit = ms === undefined ? Infinity : ms + BACKSTOP_MS;
    return node().call(this.ref, message, limit, undefined).catch(
      (err: unknown) => {
        // A service is freed only once it is closed and done with: to its callers it is closed.
        if (err instanceof NoSuchActorError) return CLOSED;
        throw err instanceof ActorExitedError ? this.#gone(err) : err;
      },
    );
  }

  /**
   * Takes the one item a get answered with, confirming it; an abort that lost
   * the race to the service hands the item back untouched and still rejects.
   */
  takeOne(answer: unknown, what: string, signal: AbortSignal | undefined, refused: (answer: unknown) => Error): unknown {
    if (!isBatch(answer)) throw refused(answer);
    if (signal?.aborted) {
      this.giveBack([answer.s]);
      throw this.aborted(what, signal);
    }
    this.ack(answer.s);
    return answer.v[0];
  }

  aborted(what: string, signal: AbortSignal): AbortError {
    return new AbortError(`${what} on ${this.label} was aborted.`, { cause: signal.reason });
  }

  /** Confirms item `seq`: it reached user code here. */
  ack(seq: number): void {
    // Runs of numbers, as [first, count] pairs: a batch of 1024 items is acked in two numbers.
    const acks = this.#acks;
    const n = acks.length;
    if (n > 0 && acks[n - 2]! + acks[n - 1]! === seq) acks[n - 1]!++;
    else acks.push(seq, 1);
    this.#flushSoon();
  }

  /** Hands items back to the front of the channel: they never reached user code. */
  giveBack(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.#returns.push(...seqs);
    this.#flushSoon();
  }

  /**
   * Acks wait for the end of the turn (a loop taking many items sends one
   * message, not one per item) or ride on the next request, whichever comes first.
   */
  #flushSoon(): void {
    // Added each time: an ack taken after the ending hooks ran (and emptied the set) still goes.
    unsettled.add(this);
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      this.#flushing = false;
      this.settleNow();
    });
  }

  /** Sends the acks and give-backs held for the end of the turn, now. */
  settleNow(): void {
    unsettled.delete(this);
    const settle = this.#takeSettle();
    if (settle !== undefined) this.ref.send({ t: 's', ...this.#address, ...settle });
  }

  /** Acks and give-backs taken for a message that did not go: sent with the next, or at the end of the turn. */
  #keepSettle(settle: { a: number[]; r?: number[] }): void {
    this.#acks = [...settle.a, ...this.#acks];
    if (settle.r !== undefined) this.#returns = [...settle.r, ...this.#returns];
    this.#flushSoon();
  }

  #takeSettle(): { a: number[]; r?: number[] } | undefined {
    if (this.#acks.length === 0 && this.#returns.length === 0) return undefined;
    const a = this.#acks;
    const r = this.#returns;
    this.#acks = [];
    this.#returns = [];
    return r.length === 0 ? { a } : { a, r };
  }
}

/** A watch whose monitor() call has not returned yet (see Callers.see). */
const WATCH_PENDING = -1;

/**
 * Keeps a service's callers monitored, so it hears when one ends; frees the
 * monitors when the service goes.
 */
export class Callers {
  readonly #monitors = new Map<string, number>();
  readonly #monitor: (target: ActorRef) => number;
  readonly #demonitor: (target: ActorRef, monitor: number) => void;

  constructor(service: { monitor(target: ActorRef): number; demonitor(target: ActorRef, monitor: number): void }) {
    this.#monitor = (target) => service.monitor(target);
    this.#demonitor = (target, monitor) => service.demonitor(target, monitor);
  }

  /** Starts watching `from` if it is new. */
  see(from: string): void {
    if (this.#monitors.has(from)) return;
    // Marked first: the down of an actor that is gone already may come within monitor() (a service
    // and the node that answers noproc share a process), and must be known as this watch's.
    this.#monitors.set(from, WATCH_PENDING);
    const monitor = this.#monitor(new ActorRef(from, from));
    if (this.#monitors.get(from) === WATCH_PENDING) this.#monitors.set(from, monitor);
  }

  /** The actor that ended, if `message` is a down for one of them. */
  ended(message: unknown): string | undefined {
    if (!isDown(message) || !this.#monitors.has(message.actor.id)) return undefined;
    this.#monitors.delete(message.actor.id);
    return message.actor.id;
  }

  release(): void {
    for (const [id, monitor] of this.#monitors) this.#demonitor(new ActorRef(id, id), monitor);
    this.#monitors.clear();
  }
}
