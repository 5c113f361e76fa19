/**
 * `Barrier`: Python's, for actors. Parties that end, time out or give up
 * while waiting break it for the others, who get `BrokenBarrierError`: a
 * barrier never hangs on a party that is gone.
 */
import { ActorRef, Handle, describeReason, checkOptions, invalidOption, isTask, registerHandle, resolveTask, type ExitReason, type ServiceCall, type Task } from '../../runtime/index.ts';
import { adopt, request, waitOn, waitTimeout, type WaitOptions } from './client.ts';
import { CANCELLED, SyncService, type Request, type Waiter } from './core.ts';
import { BrokenBarrierError, SyncClosedError } from './errors.ts';

/** What a party's wait is answered with; `action: true` for the one that must run the action first. */
interface Passed {
  readonly index: number;
  readonly action?: true;
}

class BarrierService extends SyncService {
  readonly #parties: number;
  readonly #hasAction: boolean;
  #broken = false;
  /** Why it broke, for the waits that come after. */
  #why = '';
  /** The party running the action: the others wait until it reports. */
  #runner: Waiter | undefined;
  /** The party whose action was running when the barrier broke (or was reset): told so when it reports. */
  #brokeUnder: string | undefined;
  /** Waits that came while the action ran: they belong to the next round, served once this one ends. */
  #early: { request: Request; from: string; call: ServiceCall }[] = [];

  constructor(parties: number, hasAction: boolean) {
    super(`Barrier(${parties})`);
    this.#parties = parties;
    this.#hasAction = hasAction;
  }

  protected serve(request: Request, from: string, call: ServiceCall | undefined): void {
    switch (request.op) {
      case 'wait': {
        if (call === undefined) return;
        if (this.#runner !== undefined) return void this.#early.push({ request, from, call });
        if (this.#broken) throw this.#brokenError(`was broken before this party came (${this.#why})`);
        const index = this.waiters.length;
        const waiter = this.enqueue(from, call, request);
        if (index + 1 < this.#parties) return;
        if (this.#hasAction) {
          // Python runs the action in the last party to come, before any is released.
          // The others' deadlines keep running: an action that hangs breaks the barrier at them (Python's
          // parties would hang with it), and the runner is told when it reports (see #brokeUnder).
          this.#runner = waiter;
          this.takeWhere((w) => w === waiter);
          waiter.call.reply({ index, action: true } satisfies Passed);
        } else this.#pass();
        return;
      }
      case 'actionDone': {
        if (this.#runner === undefined && this.#brokeUnder === from) {
          this.#brokeUnder = undefined;
          // Its round broke while it ran the action (a party's deadline, an abort, a reset): it does not pass either.
          if (request.ok === true) throw this.#brokenError(`broke while this party ran its action (${this.#why})`);
        }
        if (this.#runner === undefined || this.#runner.from !== from) return void call?.reply(undefined);
        this.#runner = undefined;
        if (request.ok === true) this.#pass();
        else this.#break(`its action threw in ${from}: ${String(request.error)}`);
        call?.reply(undefined);
        const early = this.#early;
        this.#early = [];
        for (const e of early) this.#serveEarly(e.request, e.from, e.call);
        return;
      }
      case 'abort':
        this.#break('abort() was called');
        return void call?.reply(undefined);
      case 'reset':
        this.#break('reset() was called');
        this.#broken = false;
        return void call?.reply(undefined);
      case 'state':
        return void call?.reply({ waiting: this.waiters.length, broken: this.#broken });
      default:
        throw new TypeError(`Barrier has no op ${JSON.stringify(request.op)}`);
    }
  }

  /** A wait of the next round, cancelled before its round began: it never joined one, so it just goes. */
  protected override cancelElsewhere(from: string, token: number | undefined): void {
    const at = this.#early.findIndex((e) => e.from === from && e.request.token === token);
    if (at !== -1) this.#early.splice(at, 1)[0]!.call.reply(CANCELLED);
  }

  /** Closing fails the waits of the next round too. */
  override close(): void {
    if (this.closed) return;
    for (const e of this.#early.splice(0)) e.call.fail(new SyncClosedError(`Barrier(${this.#parties}) (${this.ref.id}) was closed while this actor waited on it.`, `Barrier(${this.#parties})`));
    super.close();
  }

  #serveEarly(request: Request, from: string, call: ServiceCall): void {
    try {
      this.serve(request, from, call);
    } catch (err) {
      call.fail(err);
    }
  }

  /** Every party came (and the action ran): each goes on with its index, and the barrier is ready for the next round. */
  #pass(): void {
    const passing = this.takeWhere(() => true);
    passing.forEach((w, index) => w.call.reply({ index } satisfies Passed));
  }

  #brokenError(why: string): BrokenBarrierError {
    return new BrokenBarrierError(`Barrier(${this.#parties}) (${this.ref.id}) ${why}. Call reset() to use it again.`);
  }

  /** Breaks the barrier: every waiting party fails with BrokenBarrierError, and so does every later wait until reset(). */
  #break(why: string): void {
    this.#broken = true;
    this.#why = why;
    this.#brokeUnder = this.#runner?.from;
    this.#runner = undefined;
    const error = this.#brokenError(`broke: ${why}`);
    for (const waiter of this.takeWhere(() => true)) waiter.call.fail(error);
    for (const e of this.#early.splice(0)) e.call.fail(error);
  }

  protected override timedOut(waiter: Waiter): void {
    // Python: a wait's timeout breaks the barrier, for the party that timed out too.
    waiter.call.fail(this.#brokenError('broke: a party waited past its timeout'));
    this.#break(`a party (${waiter.from}) waited past its timeout`);
  }

  protected override cancelled(waiter: Waiter): void {
    this.#break(`a party (${waiter.from}) stopped waiting (its AbortSignal)`);
  }

  protected ended(actor: string, waiters: Waiter[], reason: ExitReason): void {
    if (waiters.length > 0 || this.#runner?.from === actor) this.#break(`a party (${actor}) ended while it waited`);
    // A party killed (or failed) between rounds will never come back, and those who wait, or will
    // wait, for it would wait in vain. One that returned normally did its rounds: another may take
    // its place, as Python's barrier counts arrivals, not parties (and breaking on it would depend on
    // whether its end came before or after another's next wait).
    else if (reason !== 'normal') this.#break(`a party (${actor}) ended (${describeReason(reason)}) between rounds`);
  }
}

/** `new Barrier(parties, options)`: its action and default timeout, as Python's. */
export interface BarrierOptions {
  /** A task (`task(fn)`, made at the top level of a module the parties load) run once per round, by the last party to come, before any is released. */
  readonly action?: Task<[], unknown>;
  /** The default timeout of `wait`, in ms. */
  readonly timeout?: number;
}

/**
 * A barrier for `parties` actors (Python's `multiprocessing.Barrier`): each
 * `wait` blocks until all have come, then all go on, each with a distinct
 * index in `0..parties-1`, and the barrier serves the next round.
 */
export class Barrier extends Handle {
  readonly ref: ActorRef;
  /** How many parties must come. */
  readonly parties: number;
  private readonly action: Task<[], unknown> | undefined;
  private readonly defaultTimeout: number | undefined;

  /** @throws {InvalidArgumentError} for `parties` not an integer ≥ 1, an `action` that is not a task, or a bad `timeout`. */
  constructor(parties: number, options: BarrierOptions = {}) {
    super();
    if (typeof parties !== 'number' || !Number.isInteger(parties) || parties < 1) throw invalidOption('parties', 'an integer ≥ 1', parties);
    checkOptions(options, 'options', 'an object like `{ action, timeout }`', 'Barrier options', ['action', 'timeout']);
    const { action, timeout } = options;
    if (action !== undefined && !isTask(action)) throw invalidOption('action', 'a task made with task(fn) (a function cannot travel to the party that runs it)', action);
    if (timeout !== undefined && (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0)) throw invalidOption('timeout', 'a number of milliseconds ≥ 0', timeout);
    this.parties = parties;
    this.action = action;
    this.defaultTimeout = timeout;
    this.ref = new BarrierService(parties, action !== undefined).ref;
  }

  /**
   * Waits until every party has come. Resolves with this party's index
   * (distinct, `0..parties-1`). Rejects with `BrokenBarrierError`
   * (`ERR_BROKEN_BARRIER`) when the barrier broke or was reset while it
   * waited, or was broken when it came; at its deadline (the barrier's
   * `timeout` unless given, which breaks it for all); with `AbortError`
   * (which breaks it for the others); or with what the action threw, in the
   * party that ran it.
   */
  async wait(options?: WaitOptions): Promise<number> {
    waitTimeout(options, 'Barrier.wait()'); // checked as given, before the default timeout is put in
    const timeout = options?.timeout ?? this.defaultTimeout;
    const passed = (await waitOn(this.ref, { op: 'wait' }, { ...options, timeout }, 'Barrier.wait()', async (granted) => {
      if ((granted as Passed).action) await request(this.ref, { op: 'actionDone', ok: false, error: 'the party that was to run it was aborted' });
    })) as Passed;
    if (passed.action) {
      try {
        const action = await resolveTask(this.action!, null);
        await action.fn();
      } catch (err) {
        await request(this.ref, { op: 'actionDone', ok: false, error: err instanceof Error ? err.message : String(err) });
        throw err;
      }
      await request(this.ref, { op: 'actionDone', ok: true });
    }
    return passed.index;
  }

  /** Breaks the barrier: waiting parties, and later ones until `reset()`, get `BrokenBarrierError`. */
  async abort(): Promise<void> {
    await request(this.ref, { op: 'abort' });
  }

  /** Waiting parties get `BrokenBarrierError`; the barrier is whole again for new waits. */
  async reset(): Promise<void> {
    await request(this.ref, { op: 'reset' });
  }

  /** How many parties wait now (Python's `n_waiting`). */
  async nWaiting(): Promise<number> {
    return ((await request(this.ref, { op: 'state' })) as { waiting: number }).waiting;
  }

  /** Whether it is broken. */
  async broken(): Promise<boolean> {
    return ((await request(this.ref, { op: 'state' })) as { broken: boolean }).broken;
  }

  /** Frees its service: waiting parties fail with `SyncClosedError`. */
  async close(): Promise<void> {
    await request(this.ref, { op: 'close' }, 10_000);
  }

  toWire(): unknown {
    return [this.ref, this.parties, this.action ?? null, this.defaultTimeout ?? null];
  }
}

registerHandle('troupe.barrier', Barrier, (data) => {
  const [ref, parties, action, timeout] = data as [ActorRef, number, Task<[], unknown> | null, number | null];
  return adopt(Barrier, { ref, parties, action: action ?? undefined, defaultTimeout: timeout ?? undefined });
});
