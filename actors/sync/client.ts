/**
 * The handle side shared by every primitive: option checks, waits whose
 * deadline the service enforces, cancellation by AbortSignal that never
 * leaves a caller holding what it does not know it holds, and the
 * acquire/release/hold/withLock family.
 */
import { AbortError, ActorExitedError, ActorRef, DEFAULT_CALL_TIMEOUT_MS, Handle, NoSuchActorError, RemoteError, TimeoutError, TroupeError, invalidOption, onlyKnown } from '../../runtime/index.ts';
import { SyncClosedError } from './errors.ts';
import { CANCELLED } from './core.ts';

import type { WaitOptions } from '../queue/client.ts';

/** Options of every wait: the same as a queue's. */
export type { WaitOptions };

/** Options of `acquire`, `hold` and `withLock`. */
export interface AcquireOptions extends WaitOptions {
  /** `false`: answer at once, as `timeout: 0` (Python's `block=False`). Default `true`. */
  readonly blocking?: boolean;
}

/**
 * What `acquire` resolves to: `true` acquired; `'abandoned'` acquired, and the
 * previous holder ended while holding it (its state may be half-updated);
 * `false` not acquired (timeout, or a non-blocking miss).
 */
export type AcquireResult = boolean | 'abandoned';

/** A lock (or permit) held: release it once, or let `await using` release it. */
export interface Held {
  /** Whether the previous holder ended while holding it (robust-mutex `EOWNERDEAD`). */
  readonly abandoned: boolean;
  /** Releases it (without waiting for the service's answer: it cannot fail); a second call does nothing. */
  release(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * How long a handle's call waits past the deadline the service enforces
 * before it gives up on the service itself (its process hung or the link
 * broke): the service answers at the deadline, so this is only a backstop.
 */
export const SERVICE_GRACE_MS = 10_000;

let nextToken = 1;

/** The timeout the service enforces: `null` forever, `0` no wait. */
export function waitTimeout(options: AcquireOptions | undefined, what: string): number | null {
  if (options === undefined || options === null) return null;
  if (typeof options !== 'object' || Array.isArray(options) || options instanceof AbortSignal) throw invalidOption(`${what} options`, 'an object of options (`{ signal }` for an AbortSignal)', options);
  onlyKnown(options, `${what} options`, ['timeout', 'blocking', 'signal'], { block: 'did you mean `blocking`?' });
  const { timeout, blocking, signal } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidOption('signal', 'an AbortSignal', signal);
  if (blocking !== undefined && typeof blocking !== 'boolean') throw invalidOption('blocking', 'a boolean', blocking);
  if (blocking === false) return 0;
  if (timeout === undefined || timeout === Infinity) return null;
  if (typeof timeout !== 'number' || Number.isNaN(timeout)) throw invalidOption('timeout', 'a number of milliseconds (0 or less: do not wait; Infinity: for ever)', timeout);
  // As Python's SemLock takes a negative timeout: a try that does not wait.
  return Math.max(0, timeout);
}

/**
 * The troupe error a service raised, as itself rather than wrapped in the
 * `RemoteError` of the call; and a service that is no more, said as the
 * primitive it served: closed (`SyncClosedError`), or gone with the process
 * that made it (`ActorExitedError`, naming the primitive, not an actor).
 */
export function unwrap(err: unknown, ref?: ActorRef): unknown {
  if (err instanceof RemoteError && err.cause instanceof TroupeError) return err.cause;
  if (ref === undefined) return err;
  if (err instanceof NoSuchActorError) return new SyncClosedError(`${ref.name} (${ref.id}) was closed: close() frees a primitive for good, and a closed one cannot be used again.`, ref.name);
  if (err instanceof ActorExitedError && err.actorId === ref.id) {
    // The call's error says how the process ended ("(exit code -9: killed)"): kept.
    const how = /\(exit code [^)]*\)/.exec(err.message)?.[0];
    const message = `${ref.name} (${ref.id}) is gone: the process that made it ended${how === undefined ? '' : ` ${how}`}. A primitive lives as long as the actor that made it: make it in one that outlives its users (the main program, say).`;
    return new ActorExitedError(message, ref.id, { cause: err });
  }
  return err;
}

/**
 * A call whose errors come back as the service raised them. Requests that
 * never wait on other actors are answered at once, so the kernel's default
 * call timeout bounds them; those that may wait pass their own.
 */
export async function request(ref: ActorRef, message: object, timeout = DEFAULT_CALL_TIMEOUT_MS): Promise<unknown> {
  try {
    return await ref.call(message, { timeout });
  } catch (err) {
    throw unwrap(err, ref);
  }
}

/**
 * A wait decided by the service: it answers at the deadline. An aborted
 * signal sends a cancel naming this wait's token; should the service have
 * granted the wait before the cancel reached it, `undo` gives back what was
 * granted, and the wait still rejects with `AbortError`.
 */
export async function waitOn(
  ref: ActorRef,
  message: Record<string, unknown>,
  options: AcquireOptions | undefined,
  what: string,
  undo?: (granted: unknown) => Promise<unknown>,
  token = nextToken++,
): Promise<unknown> {
  const timeout = waitTimeout(options, what);
  const signal = options?.signal;
  if (signal?.aborted) throw new AbortError(`${what} was aborted before it started.`, { cause: signal.reason });
  const onAbort = (): void => void ref.send({ op: 'cancel', token });
  signal?.addEventListener('abort', onAbort, { once: true });
  let result: unknown;
  try {
    result = await ref.call({ ...message, token, timeout }, { timeout: timeout === null ? Infinity : timeout + SERVICE_GRACE_MS });
  } catch (err) {
    throw unwrap(err, ref);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (result === CANCELLED || signal?.aborted) {
    if (result !== CANCELLED && undo !== undefined) await undo(result).catch(() => undefined);
    throw new AbortError(`${what} was aborted.`, { cause: signal?.reason });
  }
  return result;
}

/** A fresh wait token (Condition registers one before it waits with it). */
export function newToken(): number {
  return nextToken++;
}

/**
 * The base of Lock, RLock, the semaphores and shared values: a handle whose
 * service grants and takes back with `acquire` and `release` ops.
 */
export abstract class Acquirable extends Handle {
  /** The service that holds its state, in the process that made it. */
  readonly ref: ActorRef;
  constructor(ref: ActorRef) {
    super();
    this.ref = ref;
  }
  /** How messages name it: `Lock`, `Semaphore(3)`… */
  protected abstract get what(): string;

  /**
   * Acquires it, waiting up to `timeout` ms (forever by default).
   * Resolves `true`, `'abandoned'` (acquired; the previous holder ended while
   * holding it) or `false` (timeout, or `blocking: false` and it was taken).
   * Rejects with `AbortError` (`ERR_ABORTED`; nothing is held then),
   * `InvalidArgumentError`, or `ActorExitedError` when the process that made
   * it ended.
   */
  acquire(options?: AcquireOptions): Promise<AcquireResult> {
    // Granted as the abort went out: given back, and an 'abandoned' flag with it, for the next acquirer to be told.
    return waitOn(this.ref, { op: 'acquire' }, options, `${this.what}.acquire()`, (granted) =>
      granted === false ? Promise.resolve() : request(this.ref, { op: 'release', abandoned: granted === 'abandoned' }),
    ) as Promise<AcquireResult>;
  }

  /**
   * Releases it. Rejects with `NotOwnerError` (`ERR_NOT_OWNER`, another actor
   * holds it) or `ReleasedTooManyError` (`ERR_RELEASED_TOO_MANY`, nobody
   * holds it, or a BoundedSemaphore past its value).
   */
  async release(): Promise<void> {
    await request(this.ref, { op: 'release' });
  }

  /**
   * Acquires it and returns the holding, for `await using held = await lock.hold()`.
   * Rejects with `TimeoutError` (`ERR_TIMEOUT`) at the deadline, and as `acquire` does.
   */
  async hold(options?: AcquireOptions): Promise<Held> {
    const result = await this.acquire(options);
    if (result === false) {
      const ms = options?.blocking === false ? 0 : (options?.timeout ?? 0);
      throw new TimeoutError(`${this.what} was not acquired within ${ms} ms: another actor holds it. Raise \`timeout\`, or find who holds it too long.`, ms);
    }
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      // A send, not a call: this actor holds it, so the release cannot fail,
      // and its later requests reach the service after it (sends and calls
      // from one process arrive in order). One round trip per withLock, not two.
      this.ref.send({ op: 'release' });
    };
    return { abandoned: result === 'abandoned', release, [Symbol.asyncDispose]: release };
  }

  /**
   * Runs `fn` while holding it and releases it after, whether `fn` returns or
   * throws. `fn` gets the holding (see `Held.abandoned`). Resolves with what
   * `fn` returns; rejects with what it throws, or as `hold` does.
   */
  async withLock<R>(fn: (held: Held) => R | Promise<R>, options?: AcquireOptions): Promise<R> {
    if (typeof fn !== 'function') throw invalidOption('withLock() fn', 'a function to run holding the lock', fn);
    const held = await this.hold(options);
    try {
      return await fn(held);
    } finally {
      await held.release();
    }
  }

  /** Frees its service: pending waits and later calls fail with `SyncClosedError`. */
  async close(): Promise<void> {
    await request(this.ref, { op: 'close' }, 10_000);
  }

  toWire(): unknown {
    return this.ref;
  }
}

/**
 * Builds a handle of `Class` around `ref` without running its constructor
 * (which would start a service). Such an object has none of the class's
 * `#private` fields or methods: a handle class must not declare any.
 */
export function adopt<T extends object>(Class: abstract new (...args: never[]) => T, fields: Record<string, unknown>): T {
  return Object.assign(Object.create(Class.prototype) as T, fields);
}
