/**
 * `ctx`: what a running actor knows about itself and how it receives.
 * Like Python's `current_process()` and `os.getppid()`, plus the mailbox.
 */
import { constants } from 'node:os';
import { AbortError, MAILBOX_CLOSED, TroupeError, invalidOption, optionsOf } from './errors.ts';
import { type Letter, type Mailbox, type ReceiveOptions } from './mailbox.ts';
import { ActorRef } from './ref.ts';

/** What a context needs from the node hosting it. */
export interface ContextHost {
  reply(letter: Letter, value: unknown): void;
  replyError(letter: Letter, error: unknown): void;
  monitor(target: ActorRef): number;
  demonitor(target: ActorRef, monitor: number): void;
  link(target: ActorRef): void;
  unlink(target: ActorRef): void;
  trapExits: boolean;
  exit(code: number | NodeJS.Signals): Promise<never>;
  /** The actor took `letter` from its mailbox: null to go on at once, or what to wait for first (see Node.taken). */
  taken(letter: Letter): Promise<void> | null;
}

/**
 * The signals an actor may end itself by: those whose default action ends a
 * process. Not SIGUSR1 (Node starts its inspector on it), nor SIGPIPE and
 * SIGXFSZ (Node ignores them), nor those ignored (SIGCHLD, SIGCONT, SIGURG,
 * SIGWINCH) or stopping (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU) by default: the
 * process would live on, and exit() never settle.
 */
const ENDING_SIGNALS: ReadonlySet<string> = new Set(
  ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGKILL', 'SIGUSR2', 'SIGSEGV', 'SIGALRM', 'SIGTERM', 'SIGXCPU', 'SIGVTALRM', 'SIGPROF', 'SIGIO', 'SIGPOLL', 'SIGPWR', 'SIGSYS', 'SIGSTKFLT'].filter((name) => name in constants.signals),
);

/**
 * @internal Takes, at once, every message queued that `match` accepts: a
 * pool worker's look for the cancels of the job it is about to run.
 */
export const TAKE_MATCHING_NOW = Symbol('troupe.take-matching-now');

/**
 * What a behaviour is given first (`ctx`): its inbox and `receive`, replies
 * to calls, its parent and children, monitors and links, stop hooks, and
 * `exit`. Typed by the messages the actor takes and the replies it gives.
 */
export class Context<Msg = unknown, Reply = unknown> {
  /** This actor's own ref. */
  readonly self: ActorRef<Msg, Reply>;
  /** The actor that spawned this one; null for the root. */
  readonly parent: ActorRef | null;
  /** Aborted when the actor is asked to stop; pass it to anything that waits. */
  readonly signal: AbortSignal;
  readonly #mailbox: Mailbox;
  readonly #host: ContextHost;
  readonly #stopHooks: (() => unknown)[] = [];
  #childrenStopper: (() => Promise<void>) | null = null;
  #current: Letter | null = null;

  constructor(self: ActorRef<Msg, Reply>, parent: ActorRef | null, mailbox: Mailbox, host: ContextHost, signal: AbortSignal) {
    this.self = self;
    this.parent = parent;
    this.#mailbox = mailbox;
    this.#host = host;
    this.signal = signal;
  }

  get name(): string {
    return this.self.name;
  }

  /** This process's pid. */
  get pid(): number {
    return process.pid;
  }

  /** The parent process's pid (`os.getppid()`). */
  get ppid(): number {
    return process.ppid;
  }

  /** Messages waiting in the mailbox. */
  get pending(): number {
    return this.#mailbox.size;
  }

  /** @internal See TAKE_MATCHING_NOW. */
  [TAKE_MATCHING_NOW](match: (message: unknown) => boolean): unknown[] {
    const taken: unknown[] = [];
    for (let letter = this.#mailbox.pollMatching(match); letter !== null; letter = this.#mailbox.pollMatching(match)) {
      void this.#host.taken(letter);
      taken.push(letter.value);
    }
    return taken;
  }

  /**
   * The mailbox as an async iterable: `for await (const msg of ctx.inbox)`.
   * It ends when the actor is asked to stop. A message that came by `call` is
   * answered with `ctx.reply(value)` before the next one is taken.
   */
  get inbox(): AsyncIterable<Msg> {
    const toResult = (letter: Letter | null): IteratorResult<Msg> => {
      this.#current = letter;
      return letter === null ? { done: true, value: undefined } : { done: false, value: letter.value as Msg };
    };
    const taken = (letter: Letter | null): IteratorResult<Msg> | Promise<IteratorResult<Msg>> => {
      const wait = letter === null ? null : this.#host.taken(letter);
      return wait === null ? toResult(letter) : wait.then(() => toResult(letter));
    };
    return {
      [Symbol.asyncIterator]: () => ({
        // A queued letter is returned without waiting: one settled promise per message.
        next: (): Promise<IteratorResult<Msg>> => {
          const letter = this.#mailbox.poll();
          return letter !== null ? Promise.resolve(taken(letter)) : this.#mailbox.take().then(taken);
        },
        return: (): Promise<IteratorResult<Msg>> => Promise.resolve({ done: true, value: undefined }),
      }),
    };
  }

  /**
   * Takes the first message (matching `match`, when given), leaving the others
   * queued in order. Rejects with `TimeoutError` at `timeout`, `AbortError`
   * when `signal` aborts or the actor is stopping.
   */
  async receive<T extends Msg = Msg>(options?: ReceiveOptions<T>): Promise<T> {
    const given = optionsOf(options, 'receive() options', ['match', 'timeout', 'signal']);
    if (given.match !== undefined && typeof given.match !== 'function') throw invalidOption('receive() options.match', 'a function that tells the message wanted', given.match);
    const letter = await this.#take(given as ReceiveOptions<unknown>);
    if (letter === null) {
      throw Object.defineProperty(new AbortError(`receive() on actor ${this.self.name}: the actor is stopping and its mailbox is closed.`), MAILBOX_CLOSED, { value: true });
    }
    return letter.value as T;
  }

  /** Whether the message taken last came by `call` and has not been answered yet. */
  get canReply(): boolean {
    return this.#current !== null && this.#current.isCall && !this.#current.replied;
  }

  /**
   * Answers the message taken last, which came by `call`.
   * @throws {TroupeError} `ERR_NO_CALL` when that message was sent, not called, or was answered already.
   */
  reply(value: Reply): void {
    this.#host.reply(this.#answerable('reply()'), value);
  }

  #answerable(what: string): Letter {
    const letter = this.#current;
    if (letter === null || !letter.isCall) {
      throw new TroupeError('ERR_NO_CALL', `${what} in actor ${this.self.name}: the message taken last came by send(), not call(), so there is no caller to answer.`);
    }
    if (letter.replied) throw new TroupeError('ERR_NO_CALL', `${what} in actor ${this.self.name}: that call was answered already.`);
    return letter;
  }

  /**
   * Answers the message taken last, which came by `call`, with an error: the
   * caller's promise rejects with `RemoteError` carrying this error.
   * @throws {TroupeError} `ERR_NO_CALL` as `reply` does.
   */
  replyError(error: unknown): void {
    this.#host.replyError(this.#answerable('replyError()'), error);
  }

  /**
   * The call taken last, to answer later, as OTP's `gen_server:reply(From, …)`:
   * the actor may take other messages meanwhile and answer this one when it
   * can. Answer it once; its caller waits until then (or its timeout).
   * @throws {TroupeError} `ERR_NO_CALL` when the message taken last was sent, not called, or was answered already.
   */
  deferReply(): DeferredReply<Reply> {
    const letter = this.#answerable('deferReply()');
    letter.deferred = true;
    return new DeferredReply(this.#host, letter, this.self.name);
  }

  /** @internal The call taken last, held by a class actor's loop to answer with `handle()`'s return value; null if it is not an unanswered call. */
  heldCall(): DeferredReply<Reply> | null {
    return this.canReply ? new DeferredReply(this.#host, this.#current!, this.self.name) : null;
  }

  /**
   * Watches `target`: when it ends (or at once, if it never was or has ended
   * already), a `down` message comes to this actor's mailbox:
   * `{ type: 'down', monitor, actor, reason }` (see `isDown`). Returns the
   * monitor's number, for `demonitor`.
   */
  monitor(target: ActorRef): number {
    return this.#host.monitor(refArgument(target, 'monitor()'));
  }

  /**
   * Stops watching: no `down` of this monitor comes after this returns, as
   * Erlang's `demonitor/1` promises (one already taken into the mailbox stays).
   */
  demonitor(target: ActorRef, monitor: number): void {
    if (!Number.isInteger(monitor)) throw invalidOption('demonitor() monitor', 'the number monitor() returned', monitor);
    this.#host.demonitor(refArgument(target, 'demonitor()'), monitor);
  }

  /**
   * Links this actor and `target` both ways: when either ends abnormally (any
   * reason but `normal`), the other ends too, with a `LinkedExitError`,
   * unless it traps exits.
   */
  link(target: ActorRef): void {
    this.#host.link(refArgument(target, 'link()'));
  }

  unlink(target: ActorRef): void {
    this.#host.unlink(refArgument(target, 'unlink()'));
  }

  /** When true, a linked actor's end comes as `{ type: 'exit', actor, reason }` in the mailbox instead of ending this actor. */
  get trapExits(): boolean {
    return this.#host.trapExits;
  }

  set trapExits(value: boolean) {
    if (typeof value !== 'boolean') throw invalidOption('trapExits', 'true or false', value);
    this.#host.trapExits = value;
  }

  /**
   * Ends this actor's process with exit code `code` (0 when absent, as
   * Python's `sys.exit()`), or by signal `code` (exit code -N), once
   * everything it sent has been written: unlike
   * `process.exit()`, which drops what the pipe to the parent has not taken yet.
   */
  exit(code: number | NodeJS.Signals | null = 0): Promise<never> {
    // Python's sys.exit(None) is a success too.
    if (code === null) code = 0;
    if (typeof code !== 'string' && !Number.isSafeInteger(code)) {
      return Promise.reject(invalidOption('code', 'an integer exit code (0 when absent), or the name of a signal that ends a process (SIGTERM)', code));
    }
    if (typeof code === 'string' && !ENDING_SIGNALS.has(code)) {
      return Promise.reject(
        invalidOption('code', 'an exit code, or a signal that ends a process (SIGTERM, SIGKILL, SIGINT, SIGHUP, SIGUSR2...; not SIGUSR1, which starts Node\'s inspector, nor one ignored or stopping by default)', code),
      );
    }
    return this.#host.exit(code);
  }

  /** Registers a hook that runs when the actor is asked to stop, before it ends. */
  onStop(hook: () => unknown): void {
    if (typeof hook !== 'function') throw invalidOption('onStop() hook', 'a function to run when the actor is asked to stop', hook);
    this.#stopHooks.push(hook);
  }

  /**
   * Replaces how this actor's children are ended when it is stopped (by
   * default: each as its `shutdown` option says, newest first). A supervisor
   * ends them in the reverse of its child specs' order.
   */
  onStopChildren(stopper: () => Promise<void>): void {
    this.#childrenStopper = stopper;
  }

  /** @internal The children stopper, if one was set. */
  get childrenStopper(): (() => Promise<void>) | null {
    return this.#childrenStopper;
  }

  /** @internal The stop hooks, in registration order. */
  get stopHooks(): readonly (() => unknown)[] {
    return this.#stopHooks;
  }

  /** @internal The letter taken last, for the handler style's automatic reply. */
  get current(): Letter | null {
    return this.#current;
  }

  async #take(options: ReceiveOptions<unknown> | undefined): Promise<Letter | null> {
    const letter = await this.#mailbox.take(options);
    const wait = letter === null ? null : this.#host.taken(letter);
    if (wait !== null) await wait;
    this.#current = letter;
    return letter;
  }
}

/** A call an actor took and answers later (`ctx.deferReply()`). */
export class DeferredReply<Reply = unknown> {
  readonly #host: ContextHost;
  readonly #letter: Letter;
  readonly #actor: string;

  /** @internal Made by `ctx.deferReply()`. */
  constructor(host: ContextHost, letter: Letter, actor: string) {
    this.#host = host;
    this.#letter = letter;
    this.#actor = actor;
  }

  /** Whether the call has been answered (here, or with `ctx.reply` while it was the message taken last). */
  get answered(): boolean {
    return this.#letter.replied;
  }

  /** Whether its answer was put off with `ctx.deferReply()`. */
  get deferred(): boolean {
    return this.#letter.deferred;
  }

  /**
   * Answers the call with `value`.
   * @throws {TroupeError} `ERR_NO_CALL` when it was answered already.
   * @throws {SerializationError} `ERR_SERIALIZATION` `value` cannot be encoded (the call stays unanswered).
   */
  reply(value: Reply): void {
    this.#host.reply(this.#unanswered('reply()'), value);
  }

  /**
   * Answers the call with an error: the caller's promise rejects with `RemoteError` carrying it.
   * @throws {TroupeError} `ERR_NO_CALL` when it was answered already.
   */
  replyError(error: unknown): void {
    this.#host.replyError(this.#unanswered('replyError()'), error);
  }

  #unanswered(what: string): Letter {
    if (this.#letter.replied) throw new TroupeError('ERR_NO_CALL', `${what} of a deferred reply in actor ${this.#actor}: that call was answered already.`);
    return this.#letter;
  }
}

/** `target` as the ActorRef an operation needs, or `InvalidArgumentError` naming the operation. */
function refArgument(target: ActorRef, what: string): ActorRef {
  if (!(target instanceof ActorRef)) throw invalidOption(`${what} target`, 'an ActorRef (a ChildRef, ctx.self, ctx.parent, or one received in a message)', target);
  return target;
}
