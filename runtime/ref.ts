/**
 * `ActorRef`: a serializable, typed handle naming an actor by ID. It works the
 * same wherever the actor lives; its methods build a message and hand it to
 * the node of the process the ref is used in.
 */
import { registerRefCodec } from './codec.ts';
import { invalidOption, optionsOf, rejecting } from './errors.ts';

/** Options of `ref.call`. */
export interface CallOptions {
  /** Milliseconds to wait for the reply (default 5000); `Infinity` waits forever. */
  readonly timeout?: number;
  /** Aborting it rejects the call with `AbortError`; a late reply is dropped. */
  readonly signal?: AbortSignal;
}

/** The `timeout` of a `call` that gives none, in ms (OTP's default too). */
export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/** What `send()` returns when there is nothing to wait for. */
const SENT: Promise<void> = Promise.resolve();

/** What a ref needs from the node of the process it is used in. */
export interface RefKernel {
  send(to: ActorRef, message: unknown): void;
  /** Sends to a `'block'` mailbox: resolves once the message is in it (or the actor is gone). */
  sendAdmitted(to: ActorRef, message: unknown): Promise<void>;
  call(to: ActorRef, message: unknown, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown>;
}

let kernel: (() => RefKernel) | null = null;

/** Installed once by the node module; refs reach their node through it. */
export function installRefKernel(get: () => RefKernel): void {
  kernel = get;
}

function currentKernel(): RefKernel {
  if (kernel === null) throw new Error('troupe: no node is installed in this process');
  return kernel();
}

/**
 * An actor's address: send it messages and call it, from any process (a ref
 * travels in messages). Typed by the messages it takes and the replies it
 * gives, inferred from the actor's definition.
 */
export class ActorRef<Msg = unknown, Reply = unknown> {
  /** The actor's ID: its node's ID and a local number (`Vx3k9TqA.2/0`). */
  readonly id: string;
  /** The actor's name (`worker-1`, or the one given at spawn). */
  readonly name: string;
  /** Whether the actor's mailbox is bounded with `overflow: 'block'`: then `send()` waits for room. */
  readonly blocking: boolean;
  declare readonly __types?: { msg: Msg; reply: Reply };

  constructor(id: string, name: string, blocking = false) {
    this.id = id;
    this.name = name;
    this.blocking = blocking;
  }

  /**
   * Sends `message`: fire-and-forget, at most once, in order with this
   * process's other sends to the same actor. A message to an actor that is
   * gone becomes a `deadLetter` event; it never throws for that.
   *
   * The promise resolves at once, except for an actor spawned with
   * `mailbox: { max, overflow: 'block' }`: then it resolves once the message
   * is in the mailbox, so `await ref.send(x)` in a loop slows the sender to
   * the receiver's pace. It never rejects; ignoring it is fine.
   * @throws {SerializationError} `ERR_SERIALIZATION` when `message` cannot be encoded, naming the path inside it.
   */
  send(message: Msg): Promise<void> {
    const kernel = currentKernel();
    if (this.blocking) return kernel.sendAdmitted(this, message);
    kernel.send(this, message);
    return SENT;
  }

  /**
   * Sends `message` and waits for the actor's reply.
   * Resolves with the reply. Rejects with `TimeoutError` (`ERR_TIMEOUT`),
   * `AbortError` (`ERR_ABORTED`), `ActorExitedError` (`ERR_ACTOR_EXITED`, the
   * actor ended before replying), `NoSuchActorError` (`ERR_NO_SUCH_ACTOR`),
   * `RemoteError` (`ERR_REMOTE`, the handler threw) or `SerializationError`.
   */
  call(message: Msg, options?: CallOptions): Promise<Reply> {
    return rejecting(() => {
      const { timeout = DEFAULT_CALL_TIMEOUT_MS, signal } = optionsOf(options, 'call() options', ['timeout', 'signal']);
      // 0 is OTP's call with a timeout of 0: an answer not there at once is a TimeoutError.
      if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) throw invalidOption('timeout', 'a number of milliseconds >= 0 (or Infinity)', timeout);
      return currentKernel().call(this, message, timeout, signal) as Promise<Reply>;
    });
  }

  toString(): string {
    return `ActorRef(${this.name} ${this.id})`;
  }

  /** How `console.log` shows a ref. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

registerRefCodec(
  ActorRef,
  (ref) => (ref.blocking ? [ref.id, ref.name, 1] : [ref.id, ref.name]),
  (data) => {
    const [id, name, blocking] = data as [string, string, number?];
    return new ActorRef(id, name, blocking === 1);
  },
);
