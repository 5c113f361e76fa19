/**
 * Names for actors: `register(name, ref)`, `whereis(name)`. One registry per
 * tree, kept by the root node and addressed as an actor (`<root>/1`), so any
 * actor anywhere reaches it by routing up. A name is released when its actor
 * ends: the registry monitors every actor it names.
 */
import { invalidOption, NameTakenError, NoSuchActorError } from './errors.ts';
import { isDown } from './exit-reason.ts';
import { currentNode } from './node.ts';
import { ActorRef, type CallOptions } from './ref.ts';

/** The local number of the registry on the root node. */
export const REGISTRY_LOCAL_ID = 1;

type Request = { op: 'register'; name: string; ref: ActorRef } | { op: 'unregister'; name: string } | { op: 'whereis'; name: string };

/** The registry's state and answers; the root node hands it the messages addressed to it. */
export class Registry {
  readonly #names = new Map<string, ActorRef>();
  readonly #watch: (ref: ActorRef) => void;

  constructor(watch: (ref: ActorRef) => void) {
    this.#watch = watch;
  }

  /** Answers a request; throws `NameTakenError` for a name a live actor holds. */
  handle(request: Request): unknown {
    switch (request.op) {
      case 'register': {
        const held = this.#names.get(request.name);
        if (held !== undefined && held.id !== request.ref.id) {
          throw new NameTakenError(`The name ${JSON.stringify(request.name)} is taken by actor ${held.name} (${held.id}). Unregister it first, or choose another name.`, request.name);
        }
        if (held === undefined) {
          this.#names.set(request.name, request.ref);
          // Watched once per name: its end frees the name.
          this.#watch(request.ref);
        }
        return true;
      }
      case 'unregister':
        return this.#names.delete(request.name);
      case 'whereis':
        return this.#names.get(request.name) ?? null;
      default:
        throw new TypeError(`unknown registry request ${JSON.stringify((request as { op: unknown }).op)}`);
    }
  }

  /** A watched actor ended: its names are free again. */
  onDown(message: unknown): void {
    if (!isDown(message)) return;
    for (const [name, ref] of this.#names) if (ref.id === message.actor.id) this.#names.delete(name);
  }
}

function registryRef(): ActorRef {
  const root = currentNode().id.split('.')[0]!;
  return new ActorRef(`${root}/${REGISTRY_LOCAL_ID}`, 'registry');
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name === '') throw invalidOption('name', 'a non-empty string', name);
}

/**
 * Gives `ref` the name `name` in this tree, until the actor ends or the name
 * is unregistered. Registering the same actor again under a name it holds is
 * fine.
 * @throws {NameTakenError} `ERR_NAME_TAKEN` (as a rejection) when another live actor holds the name.
 */
export async function register(name: string, ref: ActorRef, options: CallOptions = {}): Promise<void> {
  checkName(name);
  if (!(ref instanceof ActorRef)) throw invalidOption('ref', 'an ActorRef', ref);
  await registryRef().call({ op: 'register', name, ref } as never, options).catch(unwrap);
}

/** Frees `name`; resolves whether it was held. */
export async function unregister(name: string, options: CallOptions = {}): Promise<boolean> {
  checkName(name);
  return (await registryRef().call({ op: 'unregister', name } as never, options)) as boolean;
}

/** The actor holding `name`, or null. */
export async function whereis<Msg = unknown, Reply = unknown>(name: string, options: CallOptions = {}): Promise<ActorRef<Msg, Reply> | null> {
  checkName(name);
  return (await registryRef().call({ op: 'whereis', name } as never, options)) as ActorRef<Msg, Reply> | null;
}

/**
 * Sends to the actor holding `name` (looked up first).
 * @throws {NoSuchActorError} `ERR_NO_SUCH_ACTOR` (as a rejection) when no actor holds the name.
 */
export async function sendNamed(name: string, message: unknown): Promise<void> {
  await (await named(name)).send(message);
}

/** Calls the actor holding `name` (looked up first); rejects as `call` does, or with `NoSuchActorError`. */
export async function callNamed<Reply = unknown>(name: string, message: unknown, options: CallOptions = {}): Promise<Reply> {
  return (await named(name)).call(message, options) as Promise<Reply>;
}

async function named(name: string): Promise<ActorRef> {
  const ref = await whereis(name);
  if (ref === null) throw new NoSuchActorError(`No actor is registered as ${JSON.stringify(name)}. Register one with register(name, ref), or check the spelling.`, name);
  return ref;
}

/** A NameTakenError comes back from the registry as a RemoteError: hand the caller the error itself. */
function unwrap(err: unknown): never {
  const cause = (err as { code?: string; cause?: unknown }).code === 'ERR_REMOTE' ? (err as { cause?: unknown }).cause : undefined;
  if (cause instanceof Error && (cause as { code?: string }).code === 'ERR_NAME_TAKEN') {
    throw new NameTakenError(cause.message, (cause as { actorName?: string }).actorName ?? '');
  }
  throw err;
}
