/**
 * `ActorRef`: a serializable, typed handle naming an actor by ID. It works the
 * same wherever the actor lives; its methods build a message and hand it to
 * the node of the process the ref is used in.
 */
import { registerRefCodec } from './codec.ts';
import { invalidOption } from './errors.ts';

export interface CallOptions {
  /** Milliseconds to wait for the reply (default 5000); `Infinity` waits forever. */
  readonly timeout?: number;
  /** Aborting it rejects the call with `AbortError`; a late reply is dropped. */
  readonly signal?: AbortSignal;
}

export const DEFAULT_CALL_TIMEOUT_MS = 5000;

/** What a ref needs from the node of the process it is used in. */
export interface RefKernel {
  send(to: ActorRef, message: unknown): void;
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

export class ActorRef<Msg = unknown, Reply = unknown> {
  /** The actor's ID: its node's ID and a local number (`Vx3k9TqA.2/0`). */
  readonly id: string;
  /** The actor's name (`worker-1`, or the one given at spawn). */
  readonly name: string;
  declare readonly __types?: { msg: Msg; reply: Reply };

  constructor(id: string, name: string) {
    this.id = id;
    this.name = name;
  }

  /**
   * Sends `message`: fire-and-forget, at most once, in order with this
   * process's other sends to the same actor. A message to an actor that is
   * gone becomes a `deadLetter` event; it never throws for that.
   * @throws {SerializationError} `ERR_SERIALIZATION` when `message` cannot be encoded, naming the path inside it.
   */
  send(message: Msg): void {
    currentKernel().send(this, message);
  }

  /**
   * Sends `message` and waits for the actor's reply.
   * Resolves with the reply. Rejects with `TimeoutError` (`ERR_TIMEOUT`),
   * `AbortError` (`ERR_ABORTED`), `ActorExitedError` (`ERR_ACTOR_EXITED`, the
   * actor ended before replying), `NoSuchActorError` (`ERR_NO_SUCH_ACTOR`),
   * `RemoteError` (`ERR_REMOTE`, the handler threw) or `SerializationError`.
   */
  call(message: Msg, options: CallOptions = {}): Promise<Reply> {
    const { timeout = DEFAULT_CALL_TIMEOUT_MS, signal } = options;
    if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout <= 0) {
      return Promise.reject(invalidOption('timeout', 'a positive number of milliseconds (or Infinity)', timeout));
    }
    return currentKernel().call(this, message, timeout, signal) as Promise<Reply>;
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
  (ref) => [ref.id, ref.name],
  (data) => {
    const [id, name] = data as [string, string];
    return new ActorRef(id, name);
  },
);
