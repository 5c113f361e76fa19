/** `Event`: Python's, a flag that actors wait on; served by the node of the process that made it. */
import { ActorRef, Handle, registerHandle, type ServiceCall } from '../../runtime/index.ts';
import { adopt, request, waitOn, type WaitOptions } from './client.ts';
import { SyncService, type Request, type Waiter } from './core.ts';

class EventService extends SyncService {
  #flag = false;
  constructor() {
    super('Event');
  }
  protected serve(request: Request, from: string, call: ServiceCall | undefined): void {
    switch (request.op) {
      case 'set':
        this.#flag = true;
        for (let waiter = this.shift(); waiter !== undefined; waiter = this.shift()) waiter.call.reply(true);
        break;
      case 'clear':
        this.#flag = false;
        break;
      case 'wait':
        if (this.#flag || request.timeout === 0 || call === undefined) return void call?.reply(this.#flag);
        this.enqueue(from, call, request);
        return;
      case 'isSet':
        break;
      default:
        throw new TypeError(`Event has no op ${JSON.stringify(request.op)}`);
    }
    call?.reply(this.#flag);
  }
  protected ended(_actor: string, _waiters: Waiter[]): void {}
}

/** A flag that actors set, clear and wait on (Python's `multiprocessing.Event`). */
export class Event extends Handle {
  readonly ref: ActorRef;
  constructor() {
    super();
    this.ref = new EventService().ref;
  }
  /** Sets the flag and wakes every waiter. */
  async set(): Promise<void> {
    await request(this.ref, { op: 'set' });
  }
  /** Clears the flag. */
  async clear(): Promise<void> {
    await request(this.ref, { op: 'clear' });
  }
  /** Whether the flag is set. */
  async isSet(): Promise<boolean> {
    return (await request(this.ref, { op: 'isSet' })) as boolean;
  }
  /**
   * Waits until the flag is set. Resolves `true` once it is (at once if it
   * is), `false` at the deadline. Rejects with `AbortError`.
   */
  async wait(options?: WaitOptions): Promise<boolean> {
    return (await waitOn(this.ref, { op: 'wait' }, options, 'Event.wait()')) as boolean;
  }
  /** Frees its service: pending waits fail with `SyncClosedError`. */
  async close(): Promise<void> {
    await request(this.ref, { op: 'close' }, 10_000);
  }
  toWire(): unknown {
    return this.ref;
  }
}

registerHandle('troupe.event', Event, (ref) => adopt(Event, { ref: ref as ActorRef }));
