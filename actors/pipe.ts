/**
 * `Pipe()`: two connected ends, as Python's `multiprocessing.Pipe`. Each end
 * is a handle (`Connection`) that travels to any actor; the pipe's service
 * lives in the process that made it.
 *
 * An end belongs to the processes that received or used it. When each of
 * them has closed its copy (`close()`) or ended, the other end reads the
 * messages already sent and then gets `EOFError`, and its sends get
 * `BrokenPipeError`: never the hang Python gives when a copy of the end is
 * still open somewhere. An end whose processes all ended keeps the messages
 * already sent to it for a process that still has it (the one that made the
 * pipe, which holds neither end until it uses one), then gives `EOFError`.
 */
import { AbortError, ActorRef, ChildRef, Handle, type Down, InvalidArgumentError, MAIN_LOCAL_ID, TimeoutError, actorId, afterEncoding, decodingForService, decodingLostFor, describeValue, checkOptions, encodingFor, invalidOption, localOf, node, nodeOf, optionsOf, registerHandle, rejecting } from '../runtime/index.ts';
import { Channel } from './queue/channel.ts';
import { Callers, clientFor, isBatch, isRefusal, waitMs, type ChannelClient, type WaitOptions } from './queue/client.ts';
import { TRACK_FLIGHTS, keepInTrust, landFlights } from './queue/flights.ts';
import { BrokenPipeError, ClosedError, EOFError, PipeDirectionError } from './queue/errors.ts';

/** `new Pipe(options)`: `duplex: false` for a one-way pipe, as Python's `Pipe(duplex=False)`. */
export interface PipeOptions {
  /** Both ends send and receive (the default); with `false`, `[reader, writer]`. */
  readonly duplex?: boolean;
  /** How errors name it; default `pipe-<n>`. */
  readonly name?: string;
}

type End = 0 | 1;
type Settle = { a: number[]; r?: number[] };
type Request = { s?: Settle } & (
  | { t: 'send'; d: End; vs: unknown[] }
  | { t: 'recv'; d: End; ms?: number; k?: number }
  | { t: 'poll'; d: End; ms?: number; k?: number }
  | { t: 'close'; d: End }
  | ({ t: 's'; d: End } & Settle)
  | { t: 'x'; d: End; k: number }
  | { t: 'hold'; d: End; by?: string }
  | { t: 'fly'; d: End; f: string; by: string }
  | { t: 'land'; d: End; f: string; by?: string }
  | { t: 'disown'; d: End; by: string }
);

let pipes = 0;

/** Starts a pipe's service: `inbox[d]` holds what was sent to end `d`. */
function servePipe(name: string): ActorRef {
  const inbox = [new Channel(0, false, TRACK_FLIGHTS), new Channel(0, false, TRACK_FLIGHTS)] as const;
  const closed = [false, false];
  /** Closed because every process that received or used it ended, not by `close()`. */
  const abandoned = [false, false];
  const users = [new Set<string>(), new Set<string>()] as const;
  /** Holders a sender announced (`by`) that have not said so themselves yet, nor used the end. */
  const announced = [new Set<string>(), new Set<string>()] as const;
  /**
   * Copies of the end in flight, by number, each with the process whose
   * service keeps it for an actor to take (in a queue, in another pipe). The
   * end stays open for a copy until the item holding it leaves that service
   * for good (see flights.ts: then it lands) or that process ends.
   */
  const flights = [new Map<string, string>(), new Map<string, string>()] as const;
  /** Some process received or used it: until then, its maker may still use it, and it does not close for want of holders. */
  const everHeld = [false, false];
  /** `holder` holds end `d`: said by itself or an actor that did take it (`sure`), or announced by a sender. */
  const hold = (d: End, holder: string, sure = true): void => {
    users[d].add(holder);
    if (sure) everHeld[d] = true;
    callers.see(holder);
  };
  /** Nobody holds it, no copy is in flight, and somebody did hold it: it closes (as every process that held it ended). */
  const abandonedNow = (d: End): boolean => everHeld[d] === true && users[d].size === 0 && flights[d].size === 0;
  const closeEnd = (d: End, byClose: boolean): void => {
    if (closed[d]) {
      // close() of an abandoned end: what was left unread in it goes, and the service may go too.
      if (byClose && abandoned[d]) {
        abandoned[d] = false;
        inbox[d].dispose({ e: 'ownclosed' });
      }
      return;
    }
    closed[d] = true;
    abandoned[d] = !byClose;
    inbox[(1 - d) as End].close(); // the peer reads what is there, then EOF
    inbox[d].close();
    // Abandoned, what was sent to it stays readable by whoever still has the end (the process that
    // made the pipe, which holds neither end until it uses one), then EOF: those sends were accepted.
    if (byClose) inbox[d].dispose({ e: 'ownclosed' });
  };
  /** What a refused send carried goes: copies of ends in flight in it land. */
  const refused = (values: readonly unknown[]): void => {
    for (const value of values) landFlights(value, undefined);
  };
  /** An abandoned end with messages left: the service stays for them. */
  const unread = (d: End): boolean => abandoned[d] === true && inbox[d].size > 0;
  const service = node().service(name, (message, from, call) => {
    const ended = callers.ended(message);
    if (ended !== undefined) {
      // Gone before it ever ran (a message to an actor that had ended, a spawn that failed): an end
      // announced to it was never its, and its end alone does not close the end.
      const { reason } = message as Down;
      const neverRan = reason === 'noproc' || (typeof reason === 'object' && 'error' in reason && reason.error.name === 'SpawnError');
      for (const d of [0, 1] as const) {
        inbox[d].down(ended);
        // The copies a service kept went with it.
        let landed = false;
        for (const [flight, keeper] of flights[d]) {
          if (keeper === ended) landed = flights[d].delete(flight);
        }
        let gone = landed;
        if (announced[d].delete(ended) && neverRan) gone = users[d].delete(ended) || gone;
        else if (users[d].delete(ended)) {
          // An actor it was announced to that did run held it, decoded or not.
          everHeld[d] = true;
          gone = true;
        }
        // The last of its holders, wherever its down came in the order of theirs.
        if (gone && !closed[d] && abandonedNow(d)) closeEnd(d, false);
      }
    } else {
      const m = message as Request;
      callers.see(from);
      // Each end's items are numbered on their own: a confirmation is for the end that sent it (the one it reads).
      if (m.s !== undefined) inbox[m.d].settle(from, m.s.a, m.s.r);
      if (call === undefined) {
        // A process that received an end holds it: its death, before it used the end or after, is the other end's EOF.
        // Told by the receiver as it decodes the end, and first by the sender (`by`) as it sends it.
        if (m.t === 'hold') {
          const holder = m.by ?? from;
          const announcing = m.by !== undefined && m.by !== from && !users[m.d].has(holder);
          if (announcing) announced[m.d].add(holder);
          else announced[m.d].delete(holder);
          hold(m.d, holder, !announcing);
        } else if (m.t === 'fly') {
          if (!closed[m.d]) {
            flights[m.d].set(m.f, m.by);
            callers.see(m.by);
          }
        } else if (m.t === 'land') {
          // The copy left its queue or pipe for good: taken by `by` (who holds the end, as it said itself
          // on the way, perhaps by another route), or thrown away.
          flights[m.d].delete(m.f);
          if (m.by !== undefined) {
            announced[m.d].delete(m.by);
            hold(m.d, m.by);
          }
          if (!closed[m.d] && abandonedNow(m.d)) closeEnd(m.d, false);
        } else if (m.t === 'disown') {
          // A message announced to hold it never reached `by` (a reply that came after its caller gave
          // up, a dead letter): the end was never that actor's.
          if (announced[m.d].delete(m.by)) {
            users[m.d].delete(m.by);
            if (!closed[m.d] && abandonedNow(m.d)) closeEnd(m.d, false);
          }
        }
        else if (m.t === 's') inbox[m.d].settle(from, m.a, m.r);
        else if (m.t === 'x') inbox[m.d].cancel(from, m.k);
      } else {
        const d = m.d;
        hold(d, from);
        announced[d].delete(from);
        if (m.t === 'close') {
          // Python's close(): this process's copy goes. The end closes (the other end reads EOF once it
          // has read what was sent) when no process holds it any more: each closed its copy or ended,
          // and no copy is in flight. A parent that closes the end it handed a child, as Python's
          // programs do, leaves it to the child.
          // (An end closed already, as its holders ended: what was left unread in it goes now.)
          // Its waits on the end end too: the closer's recv() and poll() fail with ClosedError.
          inbox[d].cancelWaitsOf(from);
          users[d].delete(from);
          if (closed[d] || (users[d].size === 0 && flights[d].size === 0)) closeEnd(d, true);
          call.reply(true);
        } else if (closed[d] && !(abandoned[d] && (m.t === 'recv' || m.t === 'poll'))) {
          if (m.t === 'send') refused(m.vs);
          call.reply({ e: abandoned[d] ? 'abandoned' : 'ownclosed' });
        } else if (m.t === 'send') {
          if (closed[1 - d]) {
            refused(m.vs);
            call.reply({ e: 'broken', n: 0 });
          } else inbox[(1 - d) as End].put(from, call, m.vs, undefined, undefined);
        } else if (m.t === 'recv') inbox[d].get(from, call, 1, m.ms, m.k);
        else if (m.t === 'poll') inbox[d].peek(from, call, m.ms, m.k);
        else call.fail(new TypeError(`pipe ${name}: unknown request`));
      }
    }
    if (closed[0] && closed[1] && !unread(0) && !unread(1)) {
      // What is still on its way to a reader goes with the service (copies of ends in it land).
      inbox[0].dispose({ e: 'closed' });
      inbox[1].dispose({ e: 'closed' });
      callers.release();
      service.close();
    }
  });
  const callers = new Callers(service);
  return service.ref;
}

const ATTACH = Symbol('attach');

/** One end of a pipe, as Python's `Connection`. */
export class Connection<Send = unknown, Recv = unknown> extends Handle {
  /** Whether `recv` and `poll` may be used on this end. */
  readonly readable: boolean;
  /** Whether `send` may be used on this end. */
  readonly writable: boolean;
  readonly #end: End;
  readonly #client: ChannelClient;
  readonly #sendRefused: (answer: unknown) => Error;
  #closed = false;

  /** @internal Ends are made by `Pipe()`. */
  constructor(token: typeof ATTACH, ref: ActorRef, end: End, readable: boolean, writable: boolean) {
    super();
    if (token !== ATTACH) throw new InvalidArgumentError('Connections are made by Pipe(); they cannot be constructed directly.');
    this.#end = end;
    this.readable = readable;
    this.writable = writable;
    const label = `end ${end} of pipe ${ref.name}`;
    this.#sendRefused = (answer) => this.#refused(answer, 'send()', undefined);
    this.#client = clientFor(ref, label, (cause) => new EOFError(`${label}: the pipe is gone: the process that made it ended.`, { cause }), { t: 'send', d: end });
  }

  /** Whether `close()` was called on this end here. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends `message` to the other end. Resolves once the pipe holds it; sends
   * not awaited one by one go out together and keep their order.
   * @throws {BrokenPipeError} `ERR_BROKEN_PIPE` the other end is closed or every process that received or used it has ended.
   * @throws {ClosedError} `ERR_CLOSED` this end is closed.
   * @throws {PipeDirectionError} `ERR_WRONG_DIRECTION` this is the read end of a one-way pipe.
   * @throws {SerializationError} `ERR_SERIALIZATION` `message` cannot be encoded (thrown here, with its path).
   */
  send(message: Send): Promise<void> {
    if (!this.writable) return Promise.reject(new PipeDirectionError(`${this.#client.label} is the read end of a one-way pipe: it cannot send. Send on the other end.`));
    if (this.#closed) return Promise.reject(this.#ownClosed('send()'));
    return this.#client.putSoon(message, this.#sendRefused);
  }

  /**
   * Receives the next message, waiting for one.
   * @throws {EOFError} `ERR_EOF` the other end is closed (or its processes ended) and every message it sent has been read.
   * @throws {TimeoutError} `ERR_TIMEOUT` nothing came within `timeout`.
   * @throws {ClosedError} `ERR_CLOSED` this end is closed.
   * @throws {PipeDirectionError} `ERR_WRONG_DIRECTION` this is the write end of a one-way pipe.
   */
  recv(options?: WaitOptions): Promise<Recv> {
    return this.#receive(options, 'recv()', undefined) as Promise<Recv>;
  }

  /** The next message; one that `refuse` finds fault with goes back to the front of the pipe, untaken. */
  #receive(options: WaitOptions | undefined, what: string, refuse: ((message: unknown) => Error | undefined) | undefined): Promise<unknown> {
    const ms = this.#readWait(options, what);
    if (typeof ms === 'object') return Promise.reject(ms);
    const signal = options?.signal;
    return this.#client
      .request(ms === undefined ? { t: 'recv', d: this.#end } : { t: 'recv', d: this.#end, ms }, ms, signal, what)
      .then((answer) => {
        const fault = refuse !== undefined && isBatch(answer) ? refuse(answer.v[0]) : undefined;
        if (fault !== undefined) {
          this.#client.giveBack([(answer as { s: number }).s]);
          throw fault;
        }
        return this.#client.takeOne(answer, what, signal, (refusal) => this.#refused(refusal, what, ms, signal));
      })
      .catch((err: unknown) => {
        throw this.#closedUnder(err, what, signal);
      });
  }

  /**
   * A wait that close() ended (the pipe answers this process's waits on the end as aborted when it
   * closes its copy): ClosedError, as for any use after it (Python's OSError on a closed connection).
   */
  #closedUnder(err: unknown, what: string, signal: AbortSignal | undefined): unknown {
    return err instanceof AbortError && this.#closed && signal?.aborted !== true ? this.#ownClosed(what) : err;
  }

  /**
   * Sends bytes `buf[offset, offset + size)` as one message, as Python's
   * `send_bytes`; the other end gets a `Buffer` (`recvBytes`, or `recv`).
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` a negative offset or size, or a range past the end of `buf`.
   */
  sendBytes(buf: Uint8Array, offset = 0, size?: number): Promise<void> {
    if (!ArrayBuffer.isView(buf)) return Promise.reject(invalidOption('buf', 'a Buffer or Uint8Array', buf));
    if (!Number.isInteger(offset) || offset < 0 || offset > buf.byteLength) return Promise.reject(invalidOption('offset', `an integer from 0 to ${buf.byteLength}`, offset));
    const length = size ?? buf.byteLength - offset;
    if (!Number.isInteger(length) || length < 0 || offset + length > buf.byteLength) {
      return Promise.reject(invalidOption('size', `an integer from 0 to ${buf.byteLength - offset} (the bytes after offset)`, size));
    }
    return this.send(Buffer.from(buf.buffer, buf.byteOffset + offset, length) as Send);
  }

  /**
   * Receives a message sent as bytes, as Python's `recv_bytes`. A message
   * that is not bytes stays in the pipe (for `recv()`) and the call rejects.
   * With `maxLength`, a longer message is taken and the call rejects.
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` the message is not bytes, or is longer than `maxLength`.
   */
  async recvBytes(options?: WaitOptions & { readonly maxLength?: number }): Promise<Buffer> {
    const { maxLength: max, ...wait } = optionsOf(options, 'recvBytes() options', ['timeout', 'signal', 'maxLength']);
    if (max !== undefined && (!Number.isInteger(max) || max < 0)) throw invalidOption('maxLength', 'an integer >= 0', max);
    const message = (await this.#receive(wait, 'recv()', (value) =>
      ArrayBuffer.isView(value)
        ? undefined
        : new InvalidArgumentError(`recvBytes() on ${this.#client.label}: the next message is ${describeValue(value)}, not bytes; it stays in the pipe. Use recv() for messages sent with send().`),
    )) as ArrayBufferView;
    if (max !== undefined && message.byteLength > max) {
      throw new InvalidArgumentError(`recvBytes() on ${this.#client.label}: the message is ${message.byteLength} bytes, more than maxLength ${max}.`);
    }
    return Buffer.isBuffer(message) ? message : Buffer.from(message.buffer, message.byteOffset, message.byteLength);
  }

  /**
   * Whether `recv` would not wait: a message is there, or the other end is
   * closed (so `recv` gives EOF). Waits up to `timeout` (default 0: answers
   * at once) for that to become true.
   */
  poll(options?: WaitOptions): Promise<boolean> {
    return rejecting(() => {
      const given = optionsOf(options, 'poll() options', ['timeout', 'signal']);
      // A negative timeout answers at once, as Python's poll(-1) does.
      const timeout = given.timeout;
      const ms = this.#readWait({ ...given, timeout: timeout === undefined || (typeof timeout === 'number' && timeout < 0) ? 0 : timeout }, 'poll()');
      if (typeof ms === 'object') throw ms;
      const signal = given.signal;
      return this.#client.request(ms === undefined ? { t: 'poll', d: this.#end } : { t: 'poll', d: this.#end, ms }, ms, signal, 'poll()').then(
        (answer) => {
          // A pipe that is done: recv() gives EOFError at once, so it would not wait (as for an end
          // whose processes ended while its pipe lives).
          if (isRefusal(answer) && answer.e === 'closed') return true;
          if (isRefusal(answer)) throw this.#closedUnder(this.#refused(answer, 'poll()', ms, signal), 'poll()', signal);
          return answer === true;
        },
        (err: unknown) => {
          // The pipe is gone (its maker ended): recv() gives EOFError at once, so it would not wait.
          if (err instanceof EOFError) return true;
          throw this.#closedUnder(err, 'poll()', signal);
        },
      );
    });
  }

  /**
   * Closes this copy of the end, as Python's `close()` closes a process's
   * file descriptor: using it here is then `ClosedError`. Once no process
   * holds the end (each closed its copy or ended), the other end reads what
   * was already sent, then gets `EOFError`; so a parent that closes the end
   * it handed a child leaves it to the child. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Said to the pipe a turn later: what this process did with the end before (handed it on in a
    // message or a put not awaited, which say who holds it as they go out) reaches the pipe first, so
    // that the pipe does not find the end held by nobody, nor this process holding it still.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      await this.#client.request({ t: 'close', d: this.#end }, undefined, undefined, 'close()');
    } catch (err) {
      // Closing an end of a pipe whose process has ended has nothing left to do.
      if (!(err instanceof EOFError)) throw err;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #readWait(options: WaitOptions | undefined, what: string): number | undefined | Error {
    if (!this.readable) return new PipeDirectionError(`${this.#client.label} is the write end of a one-way pipe: it cannot ${what.slice(0, -2)}. Receive on the other end.`);
    if (this.#closed) return this.#ownClosed(what);
    try {
      return waitMs(options, `${what} options`);
    } catch (err) {
      return err as Error;
    }
  }

  #ownClosed(what: string): ClosedError {
    return new ClosedError(`${what} on ${this.#client.label}: this end is closed.`);
  }

  #refused(answer: unknown, what: string, ms: number | undefined, signal?: AbortSignal): Error {
    const label = this.#client.label;
    if (!isRefusal(answer)) return new TypeError(`${label}: unexpected answer to ${what}`);
    const e = answer.e as string;
    if (e === 'ownclosed') return this.#ownClosed(what);
    if (e === 'abandoned') return new ClosedError(`${what} on ${label}: this end is closed: every process that received or used it has ended.`);
    if (e === 'broken') return new BrokenPipeError(`${what} on ${label}: the other end is closed, or every process that received or used it has ended.`);
    // Only a pipe that is done answers so: its service goes once both ends are closed (by close(), in
    // any process, or as every process that received or used them ended) and read to the end.
    if (e === 'closed') {
      return what === 'recv()'
        ? new EOFError(`${what} on ${label}: the other end is closed, or every process that received or used it has ended, and every message it sent has been read.`)
        : new ClosedError(`${what} on ${label}: the pipe is done: both its ends are closed (by close() in some process, or as every process that received or used one ended).`);
    }
    if (e === 'empty') return new TimeoutError(`${what} on ${label} got no message within ${ms} ms.`, ms ?? 0);
    if (e === 'aborted') return this.#client.aborted(what, signal ?? new AbortController().signal);
    return new TypeError(`${label}: unexpected answer ${e} to ${what}`);
  }

  override toWire(): unknown {
    const to = encodingFor();
    const ref = this.#client.ref;
    const d = this.#end;
    if (to !== undefined && localOf(to) === MAIN_LOCAL_ID) {
      // Sent to an actor (a message, a reply, a child's args): it holds the end from now on, said to the
      // pipe before the message goes. Its death before it even decoded the end is then the other end's
      // EOF, and a sender that hands the end on and ends does not close it under the receiver.
      afterEncoding(() => ref.send({ t: 'hold', d, by: to } satisfies Request));
    } else if (to !== undefined) {
      // Sent to a service that keeps it for an actor to take (put in a queue, sent through a pipe): in
      // flight until the item leaves that service for good (see flights.ts), so that neither its
      // sender's end nor that of an actor that took it and died before it confirmed it closes the end
      // meanwhile; kept by the service's process (whose end is the end of what its services keep). A
      // copy a service hands on to another service is a flight of its own.
      const f = `${node().self.id}:${++flightsSent}`;
      const by = actorId(nodeOf(to), MAIN_LOCAL_ID);
      afterEncoding(() => ref.send({ t: 'fly', d, f, by } satisfies Request));
      return [ref, d, this.readable, this.writable, f];
    }
    return [ref, d, this.readable, this.writable];
  }

  override toString(): string {
    return `Connection(${this.#client.label})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/** Copies of ends sent in flight from this process (see servePipe's flights), for their numbers. */
let flightsSent = 0;

registerHandle('pipe-end', Connection, (data) => {
  const [ref, end, readable, writable, flight] = data as [ActorRef, End, boolean, boolean, string | undefined];
  // Taken by a service that keeps it for an actor (a queue's, a pipe's): still in flight, held by nobody
  // here, until the item that holds it leaves that service for good (see flights.ts).
  if (decodingForService()) {
    const kept = new Connection(ATTACH, ref, end, readable, writable);
    if (flight !== undefined) keepInTrust(kept, { ref, d: end, f: flight });
    // A message that never reached its actor, to which its sender announced the end: it was never its.
    const lostFor = decodingLostFor();
    if (lostFor !== undefined) queueMicrotask(() => void ref.send({ t: 'disown', d: end, by: lostFor } satisfies Request));
    return kept;
  }
  // This process received the end: it holds it from now on, as a user does (sent after the message's
  // decoding, not from within it).
  queueMicrotask(() => void ref.send({ t: 'hold', d: end } satisfies Request));
  return new Connection(ATTACH, ref, end, readable, writable);
});

/**
 * Makes a pipe and returns its two ends. Duplex by default: each end sends
 * to the other. With `{ duplex: false }` it returns `[reader, writer]`, typed
 * so that the reader has no `send` and the writer no `recv` to call
 * (`Pipe<T>({ duplex: false })`). `A`/`B` type the messages the first end
 * sends and receives; the second's are swapped.
 */
export function Pipe<T = unknown>(options: PipeOptions & { readonly duplex: false }): [reader: Connection<never, T>, writer: Connection<T, never>];
export function Pipe<A = unknown, B = A>(options?: PipeOptions): [Connection<A, B>, Connection<B, A>];
export function Pipe<A = unknown, B = A>(options?: PipeOptions): [Connection<A, B>, Connection<B, A>] {
  checkOptions(options, 'options', 'an object like `{ duplex: false }`', 'Pipe options', ['duplex', 'name']);
  const duplex = options?.duplex ?? true;
  if (typeof duplex !== 'boolean') throw invalidOption('duplex', 'a boolean', duplex);
  if (options?.name !== undefined && typeof options.name !== 'string') throw invalidOption('name', 'a string', options.name);
  const ref = servePipe(options?.name ?? `pipe-${++pipes}`);
  return [new Connection<A, B>(ATTACH, ref, 0, true, duplex), new Connection<B, A>(ATTACH, ref, 1, duplex, true)];
}

/** What `wait` waits on: a pipe end (ready to receive) or a child actor (ready once it has ended). */
export type Waitable = Connection<unknown, unknown> | ChildRef<any, any>;

/**
 * Waits until at least one of `ends` is ready, as Python's
 * `multiprocessing.connection.wait`: a pipe end when `recv` would not wait (a
 * message is there, or EOF), a child actor (a `ChildRef`, Python's
 * `p.sentinel`) when it has ended. Resolves with the ready ones, in the order
 * given, or `[]` at `timeout` (0 or less: at once).
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` for anything else in `ends`, or a bad timeout.
 * @throws {ClosedError} `ERR_CLOSED` an end in `ends` was closed here (Python raises `OSError` for it); so does any other error an end's `poll()` gives (a write-only end: `PipeDirectionError`).
 * @throws {AbortError} `ERR_ABORTED` `signal` aborted first.
 */
export async function wait<W extends Waitable>(ends: readonly W[], options?: { readonly timeout?: number; readonly signal?: AbortSignal }): Promise<W[]> {
  if (!Array.isArray(ends) || ends.some((e) => !(e instanceof Connection) && !(e instanceof ChildRef))) {
    throw invalidOption('ends', 'an array of pipe ends (Connection) and child actors (ChildRef)', ends);
  }
  const given = optionsOf(options, 'wait() options', ['timeout', 'signal']);
  // A negative timeout does not wait, as Python's (test_neg_timeout).
  const timeout = typeof given.timeout === 'number' && given.timeout < 0 ? 0 : (waitMs(given, 'wait() options') ?? Infinity);
  const signal = given.signal;
  const aborted = (): AbortError => new AbortError('wait() was aborted.', { cause: signal?.reason });
  if (signal?.aborted) throw aborted();
  if (ends.length === 0) return [];
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // An end that cannot be waited on (closed here, write-only) fails the wait, as Python's does, rather than count as not ready.
    const first = await new Promise<boolean>((resolve, reject) => {
      let left = ends.length;
      for (const end of ends) readyWithin(end, timeout, stop.signal).then((ready) => (ready ? resolve(true) : --left === 0 && resolve(false)), reject);
    });
    if (!first) return [];
  } catch (err) {
    throw signal?.aborted ? aborted() : err;
  } finally {
    stop.abort();
    signal?.removeEventListener('abort', onAbort);
  }
  // One is ready: ask each, at once, which are.
  const ready = await Promise.all(ends.map((end) => readyWithin(end, 0)));
  return ends.filter((_, i) => ready[i]);
}

function readyWithin(end: Waitable, timeout: number, signal?: AbortSignal): Promise<boolean> {
  if (end instanceof Connection) return end.poll({ timeout, signal });
  return end.join({ timeout, signal }).then((code) => code !== null);
}
