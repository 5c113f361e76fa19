/**
 * Services and handles: how troupe's own communication objects (queues,
 * pipes, locks, values) are built on the kernel.
 *
 * A service is an actor that lives inside a node's process, without a process
 * of its own: it has an ID like any actor, takes sends and calls, answers
 * calls now or later, and can monitor actors (their `down` messages come to
 * it as sends). A handle is the object users hold: a small class that names
 * its service and travels in args and messages like a ref.
 */
import { registerHandleCodec } from './codec.ts';
import { InvalidArgumentError } from './errors.ts';
import { loadActorsLayer } from './process/import-url.ts';
import type { ActorRef } from './ref.ts';

/** A call made to a service; answer it once, now or later. */
export interface ServiceCall {
  /** The caller's actor ID. */
  readonly from: string;
  /** Whether it was answered already (a second answer is ignored). */
  readonly answered: boolean;
  reply(value: unknown): void;
  /** The caller's call rejects with `RemoteError` whose cause is `error`. */
  fail(error: unknown): void;
}

/** Gets a service's sends (`call` undefined) and calls. */
export type ServiceHandler = (message: unknown, from: string, call: ServiceCall | undefined) => void;

/** A service hosted by this process's node. */
export interface Service {
  readonly ref: ActorRef;
  /**
   * Watches `target` for the service: when it ends, the handler gets
   * `{ type: 'down', monitor, actor, reason }` as a send from it. Returns the
   * monitor's number.
   */
  monitor(target: ActorRef): number;
  demonitor(target: ActorRef, monitor: number): void;
  /** Frees the service: later sends are dead letters and calls fail with `NoSuchActorError`. */
  close(): void;
}

/**
 * The base of every handle class. A subclass names its wire form with
 * `registerHandle`; the codec then carries its instances by that form.
 */
export abstract class Handle {
  /** What the handle is on the wire: enough for `fromWire` to rebuild it in another process. */
  abstract toWire(): unknown;
}

type HandleClass = abstract new (...args: never[]) => Handle;
const kinds = new Map<string, (data: unknown) => Handle>();
const kindOf = new Map<HandleClass, string>();

/**
 * Makes instances of `Class` travel between processes as `[kind, toWire()]`,
 * rebuilt on the other side by `fromWire`. Each kind is registered once, by
 * the module that defines the class, so any process that can decode it has
 * loaded that module.
 */
export function registerHandle<T extends Handle>(kind: string, Class: abstract new (...args: never[]) => T, fromWire: (data: unknown) => T): void {
  if (kinds.has(kind)) throw new InvalidArgumentError(`A handle kind named ${JSON.stringify(kind)} is registered already.`);
  kinds.set(kind, fromWire);
  kindOf.set(Class, kind);
}

function wireKind(handle: Handle): string {
  for (let proto: object | null = Object.getPrototypeOf(handle); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const kind = kindOf.get((proto as { constructor: HandleClass }).constructor);
    if (kind !== undefined) return kind;
  }
  throw new TypeError(`a ${handle.constructor.name} handle whose class was never registered`);
}

registerHandleCodec(
  Handle,
  (handle) => [wireKind(handle), handle.toWire()],
  (data) => {
    const [kind, wire] = data as [string, unknown];
    // A kind of the actors layer, in a process that runs the kernel alone so far: it is loaded now.
    const fromWire = kinds.get(kind) ?? (loadActorsLayer() ? kinds.get(kind) : undefined);
    if (fromWire === undefined) throw new TypeError(`a handle of kind ${JSON.stringify(kind)}, which this process does not know`);
    return fromWire(wire);
  },
);

