/**
 * `Supervisor`: the handle a program holds on a supervisor it started. A thin
 * class over the supervisor actor's ref: each method is a call.
 */
import { ActorExitedError, RemoteError, SpawnError, checkOptions, spawn, type ActorRef, type CallOptions, type ChildRef, type StopOptions } from '../../runtime/index.ts';
import type { CheckedChildSpec, CheckedChildren, ChildSpec, SupervisorSpec } from './spec.ts';
import { resolveSpec } from './spec.ts';
import { supervisor, type ChildCounts, type ChildInfo, type SupervisorRequest } from './supervisor.ts';

/** How `Supervisor.start` runs the supervisor actor itself. */
export interface StartOptions {
  /** The supervisor's process name; by default, as `spawn` names an actor (`actor-<n>`). */
  readonly name?: string;
  readonly daemon?: boolean;
}

/**
 * A supervision tree's handle (OTP's supervisor): `Supervisor.start(spec)`
 * starts the supervisor actor, which starts its children in order and
 * restarts them by its strategy and restart intensity.
 */
export class Supervisor {
  /** The supervisor actor. It travels in messages like any ref. */
  readonly ref: ChildRef<SupervisorRequest, unknown>;

  private constructor(ref: ChildRef<SupervisorRequest, unknown>) {
    this.ref = ref;
  }

  /**
   * Starts a supervisor process, which starts its children in order.
   * `ready` resolves once every child is ready; a child that cannot start
   * ends the supervisor (its `exitCode` 1, a `SpawnError` naming the child on `error`).
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` for a bad spec, naming the field.
   */
  static start<const C extends readonly ChildSpec<any>[] = ChildSpec[]>(spec: SupervisorSpec & { readonly children?: C & CheckedChildren<C> } = {}, options: StartOptions = {}): Supervisor {
    resolveSpec(spec);
    checkOptions(options, 'options', 'an object like `{ name, daemon }`', 'Supervisor.start() options', ['name', 'daemon']);
    return new Supervisor(spawn(supervisor, { args: [spec], name: options.name ?? '', daemon: options.daemon ?? false, shutdown: 'infinity' }));
  }

  /**
   * Resolves when the supervisor and all its initial children are up (as
   * OTP's start_link returns after init). Rejects when a child could not
   * start: the supervisor ended, its reason on `ref.error`.
   */
  get ready(): Promise<this> {
    // The supervisor answers requests only once its children are started: one answer means all are up.
    // No deadline: a deep or slow tree takes as long as it takes, and a supervisor that ends rejects the call.
    // A child that could not start ended it with a SpawnError naming that child: `ready` rejects with it.
    this.#ready ??= this.ref.ready
      .then(() => this.#call({ op: 'countChildren' }, { timeout: Infinity }))
      .then(
        () => this,
        (err: unknown) => {
          throw err instanceof ActorExitedError && err.cause instanceof SpawnError ? err.cause : err;
        },
      );
    return this.#ready;
  }

  #ready: Promise<this> | undefined;

  /**
   * Adds a child and starts it; resolves its ref (a plain ref: its lifecycle
   * belongs to the supervisor). Rejects with `ChildExistsError` for a taken id.
   */
  startChild<const S extends ChildSpec<any>>(spec: S & CheckedChildSpec<S>, options?: CallOptions): Promise<ActorRef> {
    return this.#call({ op: 'startChild', spec }, options) as Promise<ActorRef>;
  }

  /** Ends a child as its spec's `shutdown` says; a temporary child's spec goes with it. */
  async terminateChild(id: string, options?: CallOptions): Promise<void> {
    await this.#call({ op: 'terminateChild', id }, options);
  }

  /** Starts again a child that was terminated (its spec kept). */
  restartChild(id: string, options?: CallOptions): Promise<ActorRef> {
    return this.#call({ op: 'restartChild', id }, options) as Promise<ActorRef>;
  }

  /** Forgets the spec of a terminated child. */
  async deleteChild(id: string, options?: CallOptions): Promise<void> {
    await this.#call({ op: 'deleteChild', id }, options);
  }

  /** Its children in start order, each with its ref while it runs (OTP's `which_children`). */
  whichChildren(options?: CallOptions): Promise<ChildInfo[]> {
    return this.#call({ op: 'whichChildren' }, options) as Promise<ChildInfo[]>;
  }

  /** Its child specs, those running, and how many are supervisors and workers (OTP's `count_children`). */
  countChildren(options?: CallOptions): Promise<ChildCounts> {
    return this.#call({ op: 'countChildren' }, options) as Promise<ChildCounts>;
  }

  /** Stops the supervisor: its children end in reverse order, each as its spec says, then it ends. */
  stop(options: StopOptions = { timeout: 60_000 }): Promise<number> {
    return this.ref.stop(options);
  }

  /** Waits for the supervisor to end (it gave up, or was stopped); its exit code, or null at `timeout`. */
  join(options?: { timeout?: number }): Promise<number | null> {
    return this.ref.join(options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #call(request: SupervisorRequest, options: CallOptions = {}): Promise<unknown> {
    try {
      return await this.ref.call(request, { timeout: 30_000, ...options });
    } catch (err) {
      // The supervisor's own errors (NoSuchChildError…) come back whole, not wrapped.
      if (err instanceof RemoteError && err.cause instanceof Error && typeof (err.cause as { code?: unknown }).code === 'string') throw err.cause;
      throw err;
    }
  }
}


