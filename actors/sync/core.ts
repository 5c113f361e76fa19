/**
 * The service side shared by every primitive: a service in the process that
 * made the primitive, a FIFO of waiting calls with their deadlines, and the
 * actors it watches. The service decides every wait: it answers a waiter at
 * its deadline, so a caller never gives up on a lock that is being granted
 * to it at the same moment.
 */
import { ActorRef, isDown, node, type ExitReason, type Service, type ServiceCall } from '../../runtime/index.ts';
import { SyncClosedError } from './errors.ts';
import { isForever } from '../../runtime/timers.ts';

/** What a waiting call is answered with when its caller cancelled it (AbortSignal). */
export const CANCELLED = 'cancelled';

/** Every request carries an op; waits carry the caller's token and the timeout the service enforces (`null`: forever). */
export interface Request {
  readonly op: string;
  readonly token?: number;
  readonly timeout?: number | null;
  readonly [key: string]: unknown;
}

export interface Waiter {
  readonly from: string;
  readonly call: ServiceCall;
  readonly token: number;
  readonly request: Request;
  timer: NodeJS.Timeout | undefined;
}

export abstract class SyncService {
  readonly service: Service;
  readonly waiters: Waiter[] = [];
  /** Watched actors, with their monitor numbers. */
  readonly #watched = new Map<string, number>();
  readonly #host = node().self.id;
  readonly #what: string;
  #closed = false;

  constructor(what: string) {
    this.#what = what;
    this.service = node().service(what, (message, from, call) => this.#dispatch(message, from, call));
  }

  get ref(): ActorRef {
    return this.service.ref;
  }

  /** Serves one request; what it throws fails the call (as a `RemoteError` whose cause the handle rethrows). */
  protected abstract serve(request: Request, from: string, call: ServiceCall | undefined): void;
  /** An actor the service watched has ended (`reason`): release what it held. Its waiters, given here, are out of the queue already. */
  protected abstract ended(actor: string, waiters: Waiter[], reason: ExitReason): void;
  /** A waiter's deadline passed (it is out of the queue already). */
  protected timedOut(waiter: Waiter): void {
    waiter.call.reply(false);
  }
  /** A waiter was cancelled by its caller (it is out of the queue and answered already). */
  protected cancelled(_waiter: Waiter): void {}
  /** A cancel for a wait not in the queue: a service keeping waits elsewhere answers it there. */
  protected cancelElsewhere(_from: string, _token: number | undefined): void {}

  #dispatch(message: unknown, from: string, call: ServiceCall | undefined): void {
    if (isDown(message)) {
      const actor = message.actor.id;
      this.#watched.delete(actor);
      const gone = this.takeWhere((w) => w.from === actor);
      this.ended(actor, gone, message.reason);
      return;
    }
    const request = message as Request;
    if (request.op === 'cancel') {
      const [waiter] = this.takeWhere((w) => w.from === from && w.token === request.token);
      if (waiter !== undefined) {
        waiter.call.reply(CANCELLED);
        this.cancelled(waiter);
      } else this.cancelElsewhere(from, request.token);
      return;
    }
    if (request.op === 'close') {
      call?.reply(undefined);
      this.close();
      return;
    }
    this.serve(request, from, call);
  }

  /**
   * Watches `actor` until it ends, so that what it holds or waits for is
   * released then. The host's own actor is never watched: the service ends
   * with it.
   */
  watch(actor: string): void {
    if (actor === this.#host || this.#watched.has(actor)) return;
    this.#watched.set(actor, this.service.monitor(new ActorRef(actor, actor)));
  }

  /** Queues a waiting call, answered by `timedOut` at its deadline. */
  enqueue(from: string, call: ServiceCall, request: Request): Waiter {
    const waiter: Waiter = { from, call, token: request.token ?? 0, request, timer: undefined };
    const timeout = request.timeout;
    // Past what a timer holds (about 24.8 days) is for ever: Node would fire such a timer at once.
    if (typeof timeout === 'number' && !isForever(timeout)) {
      waiter.timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at < 0) return;
        this.waiters.splice(at, 1);
        this.timedOut(waiter);
      }, timeout);
      // Keeps nothing alive here: the caller's own call does, in its process (see Channel's #wait).
      waiter.timer.unref();
    }
    this.watch(from);
    this.waiters.push(waiter);
    return waiter;
  }

  /** Takes the first waiter out of the queue, its deadline cleared. */
  shift(): Waiter | undefined {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) clearTimeout(waiter.timer);
    return waiter;
  }

  /** Takes every waiter matching `test` out of the queue, in order, their deadlines cleared. */
  takeWhere(test: (waiter: Waiter) => boolean): Waiter[] {
    const taken: Waiter[] = [];
    for (let i = 0; i < this.waiters.length; ) {
      const waiter = this.waiters[i]!;
      if (test(waiter)) {
        clearTimeout(waiter.timer);
        taken.push(waiter);
        this.waiters.splice(i, 1);
      } else i++;
    }
    return taken;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Frees the service; waits still pending fail with `SyncClosedError`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.takeWhere(() => true)) {
      waiter.call.fail(new SyncClosedError(`${this.#what} (${this.ref.id}) was closed while this actor waited on it.`, this.#what));
    }
    // Else their downs would come to a closed service, as dead letters.
    for (const [actor, monitor] of this.#watched) this.service.demonitor(new ActorRef(actor, actor), monitor);
    this.#watched.clear();
    this.service.close();
  }
}
