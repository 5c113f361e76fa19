/**
 * `ChildRef`: what `spawn` returns to the actor that spawned. It is an
 * `ActorRef` (send, call, and it travels in messages as a plain ref) plus the
 * lifecycle that only the parent owns, as only a Python parent can join its
 * child: `ready`, `exitCode`, `join`, `terminate`, `kill`, `stop`.
 */
import { TroupeError, optionsOf, rejecting } from '../errors.ts';
import { ActorRef } from '../ref.ts';

/** Options of `join`. */
export interface JoinOptions {
  /** Milliseconds to wait; `join` resolves null when they pass and the actor is still alive. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

/** Options of `stop`. */
export interface StopOptions {
  /** Milliseconds for the whole graceful stop before SIGKILL (default 5000). */
  readonly timeout?: number;
}

/** The private core a `ChildRef` delegates to (process/child.ts). */
export interface ChildCore {
  readonly pid: number | null;
  readonly exitCode: number | null;
  readonly error: Error | undefined;
  readonly daemon: boolean;
  readonly ready: Promise<void>;
  /** Resolves with the exit code when the process has ended; holds nothing alive (unlike `join()` on a daemon). */
  readonly exited: Promise<number>;
  isAlive(): boolean;
  join(options: JoinOptions): Promise<number | null>;
  signal(signal: 'SIGTERM' | 'SIGKILL'): void;
  stop(options: StopOptions): Promise<number>;
  shutdown(): Promise<number>;
}

/** @internal The key of a ChildRef's end, for troupe's own actors: `join()` that keeps nothing alive, even for a daemon. */
export const EXITED = Symbol('troupe.exited');

/**
 * What `spawn` returns in the process that spawned the actor: its ref, and
 * its lifecycle as Python's `Process` has it (`ready`, `pid`, `exitCode`,
 * `isAlive`, `join`, `terminate`, `kill`, `close`), with `stop` and
 * `shutdown` for a graceful end.
 */
export class ChildRef<Msg = unknown, Reply = unknown> extends ActorRef<Msg, Reply> {
  readonly #core: ChildCore;
  readonly #ready: Promise<this>;
  #closed = false;
  /** The actor that spawned this one. */
  readonly parent: ActorRef;

  constructor(id: string, name: string, parent: ActorRef, core: ChildCore, blocking = false) {
    super(id, name, blocking);
    this.parent = parent;
    this.#core = core;
    this.#ready = core.ready.then(() => this);
    // Not awaiting `ready` is fine: a failed start shows in exitCode, error and the exit event.
    this.#ready.catch(() => {});
  }

  /** @internal Resolves with the exit code once the actor has ended; unlike `join()`, keeps a daemon's parent alive for nothing. */
  get [EXITED](): Promise<number> {
    return this.#core.exited;
  }

  /** Resolves when the actor runs; rejects with `SpawnError` (`ERR_SPAWN`, `ERR_SPAWN_AT_IMPORT`) when it cannot start. */
  get ready(): Promise<this> {
    return this.#ready;
  }

  /**
   * The OS pid: set when `spawn` returns, unless the actor's module had to be
   * bundled first (its first spawn after an edit): null until then (`await ref.ready`).
   * @throws {TroupeError} `ERR_CLOSED` once the ref was closed, as Python's `pid` raises then.
   */
  get pid(): number | null {
    this.#mustBeOpen('pid');
    return this.#core.pid;
  }

  /**
   * null while alive; 0 when the behaviour returned; 1 on an uncaught error
   * (see `error`); n after `process.exit(n)`; -N when ended by signal N
   * (`terminate()` → -15, `kill()` → -9).
   * @throws {TroupeError} `ERR_CLOSED` once the ref was closed, as Python's `exitcode` raises then.
   */
  get exitCode(): number | null {
    this.#mustBeOpen('exitCode');
    return this.#core.exitCode;
  }

  /** The uncaught error that ended the actor, with its remote stack; undefined otherwise. */
  get error(): Error | undefined {
    return this.#core.error;
  }

  /** Whether it was spawned as a daemon: ended when its parent ends, never waited for. */
  get daemon(): boolean {
    return this.#core.daemon;
  }

  /** True from `spawn` until the process has ended. */
  isAlive(): boolean {
    this.#mustBeOpen('isAlive()');
    return this.#core.isAlive();
  }

  /**
   * Waits for the actor to end. Resolves with its exit code, or null if
   * `timeout` passed first (the actor is then still alive). Never rejects for
   * the actor's own failure; rejects with `AbortError` when `signal` aborts.
   */
  join(options?: JoinOptions): Promise<number | null> {
    if (this.#closed) return Promise.reject(this.#closedError('join()'));
    return rejecting(() => this.#core.join(optionsOf(options, 'join() options', ['timeout', 'signal'])));
  }

  /** Sends SIGTERM (exit code -15), after ending the actor's descendants. Does nothing once it has ended. */
  terminate(): void {
    this.#mustBeOpen('terminate()');
    this.#core.signal('SIGTERM');
  }

  /** Sends SIGKILL (exit code -9), after ending the actor's descendants. Does nothing once it has ended. */
  kill(): void {
    this.#mustBeOpen('kill()');
    this.#core.signal('SIGKILL');
  }

  /**
   * Stops the actor gracefully: its children are stopped, its stop hooks run
   * and its inbox ends; if it has not returned by then it gets SIGTERM, and
   * SIGKILL at `timeout`. Resolves with the exit code: 0 if the behaviour
   * returned, -15 or -9 if it had to be ended.
   */
  stop(options?: StopOptions): Promise<number> {
    if (this.#closed) return Promise.reject(this.#closedError('stop()'));
    return rejecting(() => this.#core.stop(optionsOf(options, 'stop() options', ['timeout'])));
  }

  /** Ends the actor as its spawn option `shutdown` says (a graceful stop by default); resolves the exit code. */
  shutdown(): Promise<number> {
    if (this.#closed) return Promise.reject(this.#closedError('shutdown()'));
    return this.#core.shutdown();
  }

  /**
   * Python's `Process.close()`: declares this ref done with, once the actor
   * has ended. Its lifecycle methods (`isAlive`, `join`, `terminate`, `kill`,
   * `stop`, `shutdown`) and its `exitCode` and `pid` then throw `TroupeError`
   * `ERR_CLOSED`, as Python's raise `ValueError`; its `error`, name and
   * messaging stay (a ref is also an actor's address). A second call
   * does nothing. (The process and its pipe are released as it ends, closed
   * or not.)
   * @throws {TroupeError} `ERR_STILL_RUNNING` while the actor runs: join, stop or kill it first.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#core.isAlive()) {
      throw new TroupeError('ERR_STILL_RUNNING', `close() on actor ${this.name}: it is still running. Join, stop or kill it first.`);
    }
    this.#closed = true;
  }

  #closedError(what: string): TroupeError {
    return new TroupeError('ERR_CLOSED', `${what} on actor ${this.name}: its ref was closed (close()).`);
  }

  #mustBeOpen(what: string): void {
    if (this.#closed) throw this.#closedError(what);
  }

  /** `await using child = spawn(…)` stops the actor at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#closed) await this.stop();
  }
}
