/**
 * The supervisor: an actor that starts children from specs, watches them, and
 * restarts them by strategy, as OTP's `supervisor` does. A supervisor is an
 * actor process like any other, so supervisors nest: a supervisor is a child
 * spec whose `actor` is `supervisor`.
 *
 * Its children are its own child processes, so their exits reach it as node
 * events; every change (an exit, a request) runs through one queue, so a
 * restart never interleaves with another.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ActorExitedError,
  ENDS_AS_SHUTDOWN,
  SpawnError,
  TroupeError,
  actorIn,
  registerOwnErrorClasses,
  node,
  spawn,
  type ActorRef,
  type ChildRef,
  type Context,
  type ExitEvent,
  type ExitReason,
  isExitSignal,
} from '../../runtime/index.ts';
import { backoffDelay, nextAttempt, recordRestart } from './intensity.ts';
import { resolveChildSpec, resolveSpec, type ChildSpec, type ResolvedChildSpec, type ResolvedSpec, type SupervisorSpec } from './spec.ts';

/**
 * The supervisor restarted children more often than its intensity allows, and
 * ended: its children first, then itself, with exit reason `shutdown` (as
 * OTP's), this error on its ref's `error`.
 */
export class RestartIntensityError extends TroupeError {
  declare readonly [ENDS_AS_SHUTDOWN]: true;
  constructor(message: string) {
    super('ERR_RESTART_INTENSITY', message);
    Object.defineProperty(this, ENDS_AS_SHUTDOWN, { value: true });
  }
}

/** A request named a child id the supervisor does not have. */
export class NoSuchChildError extends TroupeError {
  readonly childId: string;
  constructor(message: string, childId: string) {
    super('ERR_NO_SUCH_CHILD', message);
    this.childId = childId;
  }
}

/** `startChild` was given an id the supervisor has, or `restartChild`/`deleteChild` a child that is running. */
export class ChildExistsError extends TroupeError {
  readonly childId: string;
  /** The child is running (OTP's `already_started`), or only its spec is there (`already_present`). */
  readonly running: boolean;
  constructor(message: string, childId: string, running = true) {
    super('ERR_CHILD_EXISTS', message);
    this.childId = childId;
    this.running = running;
  }
}

/**
 * `startChild` or `restartChild` reached a supervisor that is stopping: it
 * starts no child it would not stop (OTP's terminating supervisor answers
 * no more calls).
 */
export class SupervisorStoppingError extends TroupeError {
  constructor(message: string) {
    super('ERR_SUPERVISOR_STOPPING', message);
  }
}

registerOwnErrorClasses([RestartIntensityError, NoSuchChildError, ChildExistsError, SupervisorStoppingError]);

/** OTP's count_children: specs, running children, and how many of the specs are supervisors and workers. */
export interface ChildCounts {
  readonly specs: number;
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}

/** One child, as `whichChildren()` tells it. */
export interface ChildInfo {
  readonly id: string;
  /** Its ref while it runs (a plain ref: the lifecycle is the supervisor's); null when terminated or between restarts. */
  readonly ref: ActorRef | null;
  readonly restart: ResolvedChildSpec['restart'];
  /** `supervisor` when the child is a supervisor itself. */
  readonly type: 'worker' | 'supervisor';
}

/** The calls a supervisor actor takes (what its handle's methods send). */
export type SupervisorRequest =
  | { op: 'startChild'; spec: ChildSpec }
  | { op: 'terminateChild'; id: string }
  | { op: 'restartChild'; id: string }
  | { op: 'deleteChild'; id: string }
  | { op: 'whichChildren' }
  | { op: 'countChildren' };

interface Entry {
  spec: ResolvedChildSpec;
  ref: ChildRef | null;
  /** Set while the supervisor itself is ending this child: its exit is not a failure. */
  ending: boolean;
  /**
   * Its restart failed: `ref` is the process that could not start, kept until
   * its exit comes back as one more failure (OTP's `restarting`). Meanwhile it
   * is neither running nor terminated: no ref in whichChildren, not active.
   */
  restarting: boolean;
  attempt: number;
  lastRestartAt: number | undefined;
}

class SupervisorCore {
  readonly #ctx: Context;
  readonly #spec: ResolvedSpec;
  readonly #entries: Entry[];
  #history: number[] = [];
  #queue: Promise<unknown> = Promise.resolve();
  #failed: ((error: Error) => void) | null = null;
  readonly failure: Promise<never>;

  constructor(ctx: Context, spec: ResolvedSpec) {
    this.#ctx = ctx;
    this.#spec = spec;
    this.#entries = spec.children.map((c) => ({ spec: c, ref: null, ending: false, restarting: false, attempt: 0, lastRestartAt: undefined }));
    this.failure = new Promise<never>((_, reject) => (this.#failed = reject));
    this.failure.catch(() => {});
    node().on('exit', (event) => void this.#enqueue(() => this.#onExit(event)));
    // On stop: children in the reverse of their specs' order, each as its spec says.
    ctx.onStopChildren(() => this.#endAll());
  }

  /**
   * Starts the children in order, each ready before the next; a child that
   * cannot start ends the supervisor. In the queue, as OTP's init: a child
   * that ends while later ones start is dealt with once all have started,
   * by strategy, never in the middle of the start. False when a stop cut
   * the start short.
   */
  startAll(): Promise<boolean> {
    return this.#enqueue(async () => {
      for (const entry of this.#entries) {
        // Asked to stop meanwhile: no child starts after the stop has begun ending them.
        if (this.#ctx.signal.aborted) return false;
        try {
          await this.#start(entry);
        } catch (err) {
          await this.#endAll();
          // A start cut short by a stop is the stop's doing, not a child that cannot start.
          if (this.#ctx.signal.aborted) return false;
          throw new SpawnError(`Supervisor ${this.#ctx.name} could not start child ${entry.spec.id}: ${(err as Error).message}`, entry.spec.name, { cause: err });
        }
      }
      return true;
    });
  }

  handle(request: SupervisorRequest): Promise<unknown> {
    return this.#enqueue(() => this.#handle(request));
  }

  async #handle(request: SupervisorRequest): Promise<unknown> {
    // Its stop ends the children it has; one started now would outlive it, or hold its end for ever.
    if ((request.op === 'startChild' || request.op === 'restartChild') && this.#ctx.signal.aborted) {
      throw new SupervisorStoppingError(`Supervisor ${this.#ctx.name} is stopping: it starts no more children (${request.op} refused). Start the child under a supervisor that is running.`);
    }
    switch (request.op) {
      case 'startChild': {
        const spec = resolveChildSpec(request.spec);
        const existing = this.#find(spec.id);
        if (existing !== undefined) {
          const running = existing.ref !== null && !existing.restarting;
          throw new ChildExistsError(
            running
              ? `Supervisor ${this.#ctx.name} has a child ${JSON.stringify(spec.id)} running already.`
              : `Supervisor ${this.#ctx.name} has the spec of a child ${JSON.stringify(spec.id)} already, not running: restartChild() starts it, deleteChild() removes it.`,
            spec.id,
            running,
          );
        }
        const entry: Entry = { spec, ref: null, ending: false, restarting: false, attempt: 0, lastRestartAt: undefined };
        this.#entries.push(entry);
        try {
          return await this.#start(entry);
        } catch (err) {
          this.#entries.splice(this.#entries.indexOf(entry), 1);
          throw err;
        }
      }
      case 'terminateChild': {
        const entry = this.#get(request.id);
        await this.#end(entry);
        if (entry.spec.restart === 'temporary') this.#entries.splice(this.#entries.indexOf(entry), 1);
        return true;
      }
      case 'restartChild': {
        const entry = this.#get(request.id);
        this.#refuseRestarting(entry, 'restart');
        if (entry.ref !== null) throw new ChildExistsError(`Child ${JSON.stringify(request.id)} of supervisor ${this.#ctx.name} is running: terminate it first.`, request.id);
        return this.#start(entry);
      }
      case 'deleteChild': {
        const entry = this.#get(request.id);
        this.#refuseRestarting(entry, 'delete');
        if (entry.ref !== null) throw new ChildExistsError(`Child ${JSON.stringify(request.id)} of supervisor ${this.#ctx.name} is running: terminate it before deleting its spec.`, request.id);
        this.#entries.splice(this.#entries.indexOf(entry), 1);
        return true;
      }
      case 'whichChildren':
        return this.#entries.map(
          (e): ChildInfo => ({ id: e.spec.id, ref: e.restarting ? null : e.ref, restart: e.spec.restart, type: e.spec.actor === supervisor ? 'supervisor' : 'worker' }),
        );
      case 'countChildren': {
        const supervisors = this.#entries.filter((e) => e.spec.actor === supervisor).length;
        return { specs: this.#entries.length, active: this.#entries.filter((e) => e.ref !== null && !e.restarting).length, supervisors, workers: this.#entries.length - supervisors } satisfies ChildCounts;
      }
      default:
        throw new TypeError(`unknown supervisor request ${JSON.stringify((request as { op: unknown }).op)}`);
    }
  }

  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** OTP's `{error, restarting}`: a child whose restart failed is restarted by the supervisor, not on request. */
  #refuseRestarting(entry: Entry, what: 'restart' | 'delete'): void {
    if (!entry.restarting) return;
    throw new ChildExistsError(
      `Child ${JSON.stringify(entry.spec.id)} of supervisor ${this.#ctx.name} is being restarted (its last restart failed, and the supervisor tries again): terminateChild() ends that${what === 'delete' ? ', and then its spec can be deleted' : ''}.`,
      entry.spec.id,
      false,
    );
  }

  #find(id: string): Entry | undefined {
    return this.#entries.find((e) => e.spec.id === id);
  }

  #get(id: string): Entry {
    const entry = this.#find(id);
    if (entry === undefined) throw new NoSuchChildError(`Supervisor ${this.#ctx.name} has no child ${JSON.stringify(id)}.`, id);
    return entry;
  }

  /**
   * Starts a child and waits for it to be ready. When it cannot start, a
   * restart keeps its ref (`restarting`), so that its exit comes back to
   * `#onExit` as one more failure; a first start forgets it.
   */
  async #start(entry: Entry, restarting = false): Promise<ChildRef> {
    const { actor: def, args, daemon, shutdown, deathSignal, name } = entry.spec;
    const ref = spawn(def, { args: [...args], daemon, shutdown, deathSignal, name } as never) as ChildRef;
    entry.ref = ref;
    entry.ending = false;
    entry.restarting = false;
    try {
      await ref.ready;
      // A supervisor is up once its own children are, as OTP's start_link returns after init: it
      // answers requests only then, and ends with why if one of them cannot start.
      if (def === supervisor) await ref.call({ op: 'countChildren' }, { timeout: Infinity, signal: this.#ctx.signal });
    } catch (err) {
      if (restarting) entry.restarting = true;
      else entry.ref = null;
      // A supervisor that could not start a child of its own ended with that SpawnError: it is why.
      throw err instanceof ActorExitedError && err.cause instanceof SpawnError ? err.cause : err;
    }
    return ref;
  }

  async #end(entry: Entry): Promise<void> {
    const ref = entry.ref;
    if (ref === null) return;
    entry.ending = true;
    await ref.shutdown();
    entry.ref = null;
    entry.restarting = false;
  }

  async #endAll(): Promise<void> {
    for (const entry of [...this.#entries].reverse()) await this.#end(entry).catch(() => {});
  }

  async #onExit(event: ExitEvent): Promise<void> {
    const entry = this.#entries.find((e) => e.ref?.id === event.ref.id);
    if (entry === undefined || entry.ending || this.#ctx.signal.aborted) return;
    entry.ref = null;
    entry.restarting = false;
    if (!needsRestart(entry.spec.restart, event.reason)) {
      if (entry.spec.restart === 'temporary') this.#entries.splice(this.#entries.indexOf(entry), 1);
      return;
    }
    const now = Date.now();
    const window = recordRestart(this.#history, now, this.#spec);
    this.#history = window.history;
    if (window.exceeded) {
      await this.#endAll();
      this.#failed?.(
        new RestartIntensityError(
          `Supervisor ${this.#ctx.name} reached its restart intensity: more than ${this.#spec.maxRestarts} restart(s) in ${this.#spec.periodMs} ms (child ${entry.spec.id} ended: ${describe(event.reason)}). It ended its children and itself; its own supervisor decides what comes next.`,
        ),
      );
      return;
    }
    entry.attempt = nextAttempt(entry.attempt, entry.lastRestartAt, now, this.#spec.backoff);
    entry.lastRestartAt = now;
    // The children to restart with it, by strategy; those started after it are ended newest first.
    const index = this.#entries.indexOf(entry);
    const group = this.#spec.strategy === 'one-for-one' ? [entry] : this.#spec.strategy === 'one-for-all' ? [...this.#entries] : this.#entries.slice(index);
    for (const other of [...group].reverse()) if (other !== entry) await this.#end(other);
    // Temporary children ended by a sibling's restart are not restarted, and their specs go.
    for (const other of group) if (other !== entry && other.spec.restart === 'temporary') this.#entries.splice(this.#entries.indexOf(other), 1);
    // A stop ends the wait: what is queued behind this restart (requests) runs, and the loop below starts nothing.
    await sleep(backoffDelay(entry.attempt, this.#spec.backoff), undefined, { signal: this.#ctx.signal }).catch(() => {});
    for (const member of group) {
      // A stop that came during the backoff or between starts: start nothing more.
      if (this.#ctx.signal.aborted) return;
      if (!this.#entries.includes(member) || member.ref !== null) continue;
      // A child that fails to start exits, and that exit comes back here as a failure like any other,
      // restarting the group again. Those after it do not start meanwhile (OTP's start_children stops
      // at the first that fails): under rest-for-one they may rely on it.
      const up = await this.#start(member, true).then(
        () => true,
        () => false,
      );
      if (!up) break;
    }
    node().emitRestart({ supervisor: this.#ctx.self, child: entry.spec.id, attempt: entry.attempt, reason: event.reason });
  }
}

function needsRestart(restart: ResolvedChildSpec['restart'], reason: ExitReason): boolean {
  if (restart === 'temporary') return false;
  if (restart === 'transient') return reason !== 'normal' && reason !== 'shutdown';
  return true;
}

function describe(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  return 'error' in reason ? `${reason.error.name}: ${reason.error.message}` : `exit code ${reason.exitCode}`;
}

/**
 * The supervisor behaviour. Spawn it directly (`spawn(supervisor, { args: [spec] })`),
 * through `startSupervisor(spec)`, or as a child spec of another supervisor.
 */
export const supervisor = actorIn(import.meta.url, async (ctx: Context<SupervisorRequest, unknown>, spec: SupervisorSpec = {}) => {
  // As OTP's supervisors: an exit signal from a link (a child that linked to it, an actor it was
  // linked to) does not end it. Its children's exits reach it as events, whatever their links.
  ctx.trapExits = true;
  const core = new SupervisorCore(ctx, resolveSpec(spec));
  // A start cut short by a stop: it never was up, and answers nothing (`ready` rejects, as OTP's
  // start_link does not return {ok, Pid} for a supervisor shut down in its init).
  if (!(await core.startAll())) return;
  const requests = (async () => {
    for await (const request of ctx.inbox) {
      if (isExitSignal(request)) continue;
      try {
        const answer = await core.handle(request);
        if (ctx.canReply) ctx.reply(answer);
      } catch (err) {
        if (ctx.canReply) ctx.replyError(err);
      }
    }
  })();
  await Promise.race([requests, core.failure]);
});
