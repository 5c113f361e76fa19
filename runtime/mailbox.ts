/**
 * An actor's mailbox: a FIFO of letters with selective receive. Letters keep
 * their encoded bytes until someone looks at them, so decoding happens in the
 * receiving actor's turn, off the transport's path.
 */
import { decode } from './codec.ts';
import { AbortError, MailboxFullError, TimeoutError, checkOptions, invalidOption } from './errors.ts';
import { flushHeld } from './framing.ts';
import { isForever } from './timers.ts';

export const KIND_SEND = 1;
export const KIND_CALL = 2;

/** A call an actor took, as its node remembers it until it is answered (not the message: see Node.taken). */
export interface TakenCall {
  readonly from: string;
  readonly callId: number;
  /** Put off with `ctx.deferReply()`: left to the work that holds it when the actor ends. */
  deferred: boolean;
}

/** One message in a mailbox, with what is needed to answer it if it came by `call`. */
export class Letter {
  readonly kind: number;
  readonly from: string;
  readonly callId: number;
  readonly #flags: number;
  #payload: Uint8Array | null;
  #attachments: readonly Buffer[];
  #value: unknown;
  replied = false;
  #deferred = false;
  /** Its record among the calls its node's actor took and has not answered (see Node.taken); null until taken. */
  taken: TakenCall | null = null;

  /** Its answer was put off with `ctx.deferReply()`: a class actor's `handle()` does not answer it with its return value. */
  get deferred(): boolean {
    return this.#deferred;
  }

  set deferred(deferred: boolean) {
    this.#deferred = deferred;
    if (this.taken !== null) this.taken.deferred = deferred;
  }

  constructor(kind: number, from: string, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[]) {
    this.kind = kind;
    this.from = from;
    this.callId = callId;
    this.#flags = flags;
    this.#payload = payload;
    this.#attachments = attachments;
  }

  get isCall(): boolean {
    return this.kind === KIND_CALL;
  }

  /** The message, decoded on first use. */
  get value(): unknown {
    if (this.#payload !== null) {
      this.#value = decode(this.#payload, this.#attachments, this.#flags);
      this.#payload = null;
      this.#attachments = [];
    }
    return this.#value;
  }
}

/** What a full mailbox does with a new message: hold its sender (`block`), drop it (`drop-new`), or refuse it (`fail`, `MailboxFullError`). */
export type Overflow = 'block' | 'drop-new' | 'fail';

/** An actor's mailbox (`spawn`'s `mailbox` option): its bound, and what a full one does. */
export interface MailboxOptions {
  /** Most letters held at once; unbounded when absent. */
  readonly max?: number;
  /**
   * What happens to a letter that arrives when `max` are held: `'fail'`
   * refuses it (a `call` rejects with `MailboxFullError`, a send becomes a
   * dead letter), `'drop-new'` drops it, `'block'` holds it back in order
   * and the sender's `send()` promise waits until it gets in (backpressure).
   */
  readonly overflow?: Overflow;
}

/** Options of `ctx.receive`: which message to take, and how long to wait. */
export interface ReceiveOptions<T> {
  /** Only a message for which this returns true is taken; others stay queued in order. */
  readonly match?: (message: unknown) => message is T;
  /** Milliseconds to wait; waits forever when absent. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

interface Waiter {
  match: ((message: unknown) => boolean) | undefined;
  resolve: (letter: Letter | null) => void;
  reject: (error: unknown) => void;
}

export function validateMailboxOptions(options: unknown): MailboxOptions {
  if (options === undefined) return {};
  checkOptions(options, 'mailbox', 'an object like `{ max: 1000, overflow: "fail" }`', 'mailbox options', ['max', 'overflow'], { maxsize: 'did you mean `max`?' });
  const { max, overflow } = options as MailboxOptions;
  if (max !== undefined && (!Number.isInteger(max) || max < 1)) throw invalidOption('mailbox.max', 'a positive integer', max);
  if (overflow !== undefined && overflow !== 'block' && overflow !== 'drop-new' && overflow !== 'fail') {
    throw invalidOption('mailbox.overflow', "'block', 'drop-new' or 'fail'", overflow);
  }
  return { max, overflow: overflow ?? 'fail' };
}

export class Mailbox {
  readonly #owner: string;
  readonly #max: number;
  readonly #overflow: Overflow;
  #queue: Letter[] = [];
  #head = 0;
  #waiters: Waiter[] = [];
  #closed = false;
  /** Letters held back by a full `'block'` mailbox, in arrival order, each with what tells its sender it got in. */
  #parked: { letter: Letter; admit: (() => void) | undefined }[] = [];

  constructor(owner: string, options: MailboxOptions = {}) {
    this.#owner = owner;
    this.#max = options.max ?? Infinity;
    this.#overflow = options.overflow ?? 'fail';
  }

  get size(): number {
    return this.#queue.length - this.#head;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds a letter. Returns false when the letter was refused (closed, or full
   * with `drop-new`); throws `MailboxFullError` when full with `fail`. With
   * `block`, a letter that does not fit waits its turn and is accepted.
   * `admit` runs once the letter is in (at once unless it waits).
   */
  put(letter: Letter, admit?: () => void): boolean {
    if (this.#closed) return false;
    if (this.#handToWaiter(letter)) {
      admit?.();
      return true;
    }
    if (this.size >= this.#max || this.#parked.length > 0) {
      if (this.#overflow === 'block') {
        this.#parked.push({ letter, admit });
        return true;
      }
      if (this.#overflow === 'drop-new') return false;
      throw new MailboxFullError(`The mailbox of actor ${this.#owner} is full (max ${this.#max}); the message was refused. Raise \`mailbox.max\` or slow the sender down.`, this.#owner);
    }
    this.#queue.push(letter);
    admit?.();
    return true;
  }

  /**
   * Puts a down or exit message: past `max`, never refused (it is one per
   * monitor or link, so it cannot flood); dropped only once the mailbox is
   * closed. In a `block` mailbox with letters waiting for room, it waits
   * behind them.
   */
  putNotice(letter: Letter): void {
    if (this.#closed || this.#handToWaiter(letter)) return;
    // Behind the letters parked in a 'block' mailbox: those may be the ended actor's last ones.
    if (this.#parked.length > 0) this.#parked.push({ letter, admit: undefined });
    else this.#queue.push(letter);
  }

  /** Whether a waiting receive took the letter. */
  #handToWaiter(letter: Letter): boolean {
    for (let i = 0; i < this.#waiters.length; i++) {
      const w = this.#waiters[i]!;
      let matched: boolean;
      try {
        matched = w.match === undefined || w.match(letter.value);
      } catch (err) {
        // A match that throws is the receiver's error, raised where it waits:
        // it must never reach the transport that is delivering this letter.
        this.#waiters.splice(i--, 1);
        w.reject(err);
        continue;
      }
      if (matched) {
        this.#waiters.splice(i, 1);
        // What the actor wrote before must not wait while it handles this one (see flushHeld).
        flushHeld();
        w.resolve(letter);
        return true;
      }
    }
    return false;
  }

  /** Lets held-back letters in, in order, as far as there is room. */
  #admitParked(): void {
    while (this.#parked.length > 0 && this.size < this.#max) {
      const { letter, admit } = this.#parked.shift()!;
      this.#queue.push(letter);
      admit?.();
    }
  }

  /** The id of the last call from `from` queued now, or 0 when there is none. */
  lastCallFrom(from: string): number {
    for (let i = this.#queue.length - 1; i >= this.#head; i--) {
      const letter = this.#queue[i]!;
      if (letter.kind === KIND_CALL && letter.from === from) return letter.callId;
    }
    return 0;
  }

  /** The first letter if one is queued now; null otherwise. */
  poll(): Letter | null {
    return this.#takeNow(undefined);
  }

  /** The first letter that `match` accepts, if one is queued now (held-back ones too); null otherwise. */
  pollMatching(match: (message: unknown) => boolean): Letter | null {
    return this.#takeNow(match);
  }

  /** Takes the first letter (that matches), waiting as told. Resolves null when the mailbox closes. */
  take(options: ReceiveOptions<unknown> = {}): Promise<Letter | null> {
    const { timeout: limit } = options;
    if (limit !== undefined && (typeof limit !== 'number' || Number.isNaN(limit) || limit < 0)) {
      return Promise.reject(invalidOption('timeout', 'a number of milliseconds >= 0 (or Infinity)', limit));
    }
    const found = this.#takeNow(options.match);
    if (found !== null || this.#closed) return Promise.resolve(found);
    const { timeout, signal } = options;
    if (signal?.aborted) return Promise.reject(new AbortError(`receive() on actor ${this.#owner} was aborted.`, { cause: signal.reason }));
    return new Promise<Letter | null>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) this.#waiters.splice(i, 1);
      };
      const waiter: Waiter = {
        match: options.match,
        resolve: (letter) => {
          done();
          resolve(letter);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const onAbort = (): void => {
        done();
        reject(new AbortError(`receive() on actor ${this.#owner} was aborted.`, { cause: signal?.reason }));
      };
      if (timeout !== undefined && !isForever(timeout)) {
        timer = setTimeout(() => {
          done();
          reject(new TimeoutError(`receive() on actor ${this.#owner} got no ${options.match ? 'matching ' : ''}message within ${timeout} ms.`, timeout));
        }, timeout);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Takes the calls out of the mailbox (held-back ones too), leaving the sends queued in order. */
  takeCalls(): Letter[] {
    const calls: Letter[] = [];
    const kept: Letter[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const letter = this.#queue[i]!;
      (letter.isCall ? calls : kept).push(letter);
    }
    this.#queue = kept;
    this.#head = 0;
    this.#parked = this.#parked.filter((p) => {
      if (!p.letter.isCall) return true;
      calls.push(p.letter);
      return false;
    });
    // Room was made: held-back sends come in, in order.
    if (this.#parked.length > 0) this.#admitParked();
    return calls;
  }

  /** Ends the mailbox: waiters get null, later letters are refused. Returns the letters still queued (held-back ones last; their senders are released). */
  close(): Letter[] {
    this.#closed = true;
    const parked = this.#parked;
    this.#parked = [];
    for (const p of parked) p.admit?.();
    const left = [...this.#queue.slice(this.#head), ...parked.map((p) => p.letter)];
    this.#queue = [];
    this.#head = 0;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.resolve(null);
    return left;
  }

  #takeNow(match: ((message: unknown) => boolean) | undefined): Letter | null {
    const letter = this.#takeQueued(match);
    if (letter !== null) {
      if (this.#parked.length > 0) this.#admitParked();
      // What the actor wrote before must not wait while it handles this one (see flushHeld).
      flushHeld();
      return letter;
    }
    if (match === undefined || this.#parked.length === 0) return null;
    // A selective receive must see held-back letters too, or a full mailbox of other messages would block it for ever.
    const at = this.#parked.findIndex((p) => match(p.letter.value));
    if (at === -1) return null;
    const [found] = this.#parked.splice(at, 1);
    found!.admit?.();
    flushHeld();
    return found!.letter;
  }

  #takeQueued(match: ((message: unknown) => boolean) | undefined): Letter | null {
    if (this.size === 0) return null;
    if (match === undefined) {
      const letter = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as unknown as Letter;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      return letter;
    }
    for (let i = this.#head; i < this.#queue.length; i++) {
      const letter = this.#queue[i]!;
      if (match(letter.value)) {
        this.#queue.splice(i, 1);
        return letter;
      }
    }
    return null;
  }
}
