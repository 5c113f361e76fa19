/**
 * How users define actors. Two styles, as Python's `Process` has:
 *
 *   // a function, like Process(target=f, args=...)
 *   export const greeter = actor(async (ctx: Context<string>, greeting: string) => { … });
 *
 *   // a class whose run() (or handle()) is overridden, like subclassing Process
 *   class Counter extends Actor<number, number> { … }
 *   export const counter = actor(Counter);
 *
 * Define actors at the top level of a module: the actor process loads that
 * module again and finds the definition by the order it was made in.
 */
import { fs } from './fs.ts';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { registerDefinitionCodec } from './codec.ts';
import type { Context } from './context.ts';
import { InvalidArgumentError, describeValue } from './errors.ts';
import { isActorsLayerModule, loadActorsLayer } from './process/import-url.ts';

const DEFINITION = Symbol.for('troupe.actor-definition');

/** The behaviour of a function-style actor: it runs once; its return ends the actor with exit code 0. */
export type ActorFunction<Args extends unknown[], Msg, Reply> = (ctx: Context<Msg, Reply>, ...args: Args) => unknown;

/**
 * Base class of class-style actors. Override `run(...args)` to own the loop,
 * or `handle(message)` to answer one message at a time (its return value is
 * the reply to a `call`). `onStop()` runs when the actor is asked to stop.
 */
export abstract class Actor<Msg = unknown, Reply = unknown> {
  /** The actor's context: `self`, `inbox`, `receive`, `reply`, `spawn`… Set before `run` is called. */
  declare readonly ctx: Context<Msg, Reply>;

  /**
   * The behaviour. By default it answers each message with `handle()` until
   * the actor is stopped. When `handle` throws on a message that came by
   * `call`, or returns an answer that cannot be sent (a `SerializationError`),
   * the caller gets a `RemoteError` and the actor goes on; when it
   * throws on a sent message, nobody is told, so the actor fails (exit code 1).
   * An override may be synchronous, as Python's `run()` is, or async. Typed
   * `any` so that both compile, and an async override can still
   * `return super.run()` or chain on it.
   */
  run(..._args: unknown[]): any {
    return this.#serve();
  }

  async #serve(): Promise<void> {
    for await (const message of this.ctx.inbox) {
      // This call's own answer, whatever handle() takes meanwhile (a receive() of its own), unless
      // handle() puts it off with ctx.deferReply() (OTP's noreply).
      const call = this.ctx.heldCall();
      let result: Reply;
      try {
        result = await this.handle(message);
      } catch (err) {
        if (call === null || call.answered) throw err;
        call.replyError(err);
        continue;
      }
      if (call === null || call.answered || call.deferred) continue;
      try {
        call.reply(result);
      } catch (err) {
        // An answer that cannot be sent (a function in it, say): the caller gets the SerializationError
        // naming what, as for a handle() that throws, and the actor goes on.
        if (call.answered) throw err;
        call.replyError(err);
      }
    }
  }

  /** Answers one message; override it, or override `run`. */
  handle(message: Msg): Reply | Promise<Reply> {
    throw new InvalidArgumentError(
      `Actor ${this.ctx.self.name} received ${describeValue(message)} but its class overrides neither handle() nor run().`,
    );
  }

  /** Runs when the actor is asked to stop (`ref.stop()`), before it is ended. */
  onStop(): void | Promise<void> {}
}

type ActorClass = abstract new () => Actor<any, any>;
type ClassArgs<C extends ActorClass> = InstanceType<C>['run'] extends (...args: infer A) => unknown ? A : never;
type ClassMsg<C extends ActorClass> = InstanceType<C> extends Actor<infer M, any> ? M : never;
type ClassReply<C extends ActorClass> = InstanceType<C> extends Actor<any, infer R> ? R : never;

/** A typed actor definition: what `spawn` takes. It can be sent to other actors, which can spawn it too. */
export interface ActorDefinition<Args extends unknown[] = any[], Msg = any, Reply = any> {
  readonly [DEFINITION]: true;
  readonly style: 'function' | 'class';
  /** The behaviour; in a process that got the definition in a message but never loaded its module, only its `name` is there. */
  readonly impl: ActorFunction<Args, Msg, Reply> | ActorClass;
  /** The module that called `actor()`, as a file URL; undefined when the stack does not say. */
  readonly module: string | undefined;
  /** How many `actor()` calls that module made before this one: with `module`, the definition's address. */
  readonly ordinal: number;
  /** @internal Its process acknowledges the calls it takes (troupe's pool worker). */
  readonly acksCalls?: boolean;
  /** Phantom fields carrying the types to spawn sites. */
  readonly __types?: { args: Args; msg: Msg; reply: Reply };
}

/** The args an actor definition's behaviour takes after `ctx`. */
export type ArgsOf<D> = D extends ActorDefinition<infer A, any, any> ? A : never;
/** The messages an actor definition takes. */
export type MsgOf<D> = D extends ActorDefinition<any, infer M, any> ? M : never;
/** The replies an actor definition gives to calls. */
export type ReplyOf<D> = D extends ActorDefinition<any, any, infer R> ? R : never;

// Definitions by module, in the order the module made them. An actor process
// loads the module again, which makes the same definitions in the same order,
// so (module, ordinal) names a definition in both processes, exported or not.
const definitions = new Map<string, ActorDefinition[]>();

/** Defines an actor from a class extending `Actor`. */
export function actor<C extends ActorClass>(impl: C): ActorDefinition<ClassArgs<C>, ClassMsg<C>, ClassReply<C>>;
/** Defines an actor from a function `(ctx, ...args) => …`. */
export function actor<Args extends unknown[], Msg = unknown, Reply = unknown>(impl: ActorFunction<Args, Msg, Reply>): ActorDefinition<Args, Msg, Reply>;
export function actor(impl: unknown): ActorDefinition {
  return define(impl, callerModule(actor));
}

/**
 * `actor()` for troupe's own actors, which name their module (`import.meta.url`)
 * rather than have a stack captured: the first capture in a process makes V8
 * find the lines of the whole runtime bundle, which took about 2.7 ms of
 * every actor process's start (see docs/performance.md).
 */
export function actorIn<Args extends unknown[], Msg = unknown, Reply = unknown>(
  moduleUrl: string,
  impl: ActorFunction<Args, Msg, Reply>,
  options: { readonly acksCalls?: boolean } = {},
): ActorDefinition<Args, Msg, Reply> {
  return define(impl, realModule(moduleUrl), options.acksCalls === true) as ActorDefinition<Args, Msg, Reply>;
}

function define(impl: unknown, module: string | undefined, acksCalls = false): ActorDefinition {
  if (typeof impl !== 'function') {
    throw new InvalidArgumentError(`Expected \`actor()\` to be given a function or a class extending Actor, got ${describeValue(impl)}.`);
  }
  const style = impl.prototype instanceof Actor ? 'class' : 'function';
  // A class of its own cannot be called as a function: at spawn it would fail in the actor's process.
  // A class's prototype is read-only, a function's writable (methods and arrows have none).
  if (style === 'function' && Object.getOwnPropertyDescriptor(impl, 'prototype')?.writable === false) {
    throw new InvalidArgumentError(`Expected \`actor()\` to be given a function or a class extending Actor, got class ${impl.name || '(anonymous)'}, which does not extend Actor. Extend Actor and override run() or handle().`);
  }
  const list = module === undefined ? [] : definitions.get(module) ?? [];
  const def = Object.freeze(new Definition(style, impl as ActorFunction<unknown[], unknown, unknown>, module, list.length, acksCalls)) as ActorDefinition;
  if (module !== undefined) definitions.set(module, [...list, def]);
  return def;
}

/** The class of definitions, so that the codec can recognise them. */
class Definition {
  readonly [DEFINITION] = true as const;
  constructor(
    readonly style: 'function' | 'class',
    readonly impl: ActorFunction<unknown[], unknown, unknown> | ActorClass,
    readonly module: string | undefined,
    readonly ordinal: number,
    /**
     * Its process tells its parent which calls it has taken, before its code
     * sees them: the calls of an actor killed with others still unread are
     * then known never to have run (see Node.taken; a pool worker's).
     */
    readonly acksCalls = false,
  ) {}
}

// A definition travels as its address; where its module is loaded, it comes
// back as the very definition, elsewhere as an address that spawn can use.
registerDefinitionCodec(
  Definition,
  (def) => [def.module ?? null, def.ordinal, def.style, def.impl.name],
  (data) => {
    const [module, ordinal, style, name] = data as [string | null, number, 'function' | 'class', string];
    // One of the actors layer's, in a process that has not loaded that layer yet: it is loaded now.
    const known = module === null ? undefined : (definitionAt(module, ordinal) ?? (isActorsLayerModule(module) && loadActorsLayer() ? definitionAt(module, ordinal) : undefined));
    if (known !== undefined) return known as unknown as Definition;
    const impl = Object.defineProperty(() => {
      throw new Error(`actor ${name || 'definition'} from ${module} is only an address in this process`);
    }, 'name', { value: name });
    return Object.freeze(new Definition(style, impl, module ?? undefined, ordinal));
  },
);

/** Whether a value is an actor definition made with `actor(…)`. */
export function isActorDefinition(value: unknown): value is ActorDefinition {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DEFINITION] === true;
}

/**
 * Marks a registry of things made by module (actor definitions, tasks): the
 * returned function drops what was made since, as a module load that threw
 * is undone before it is loaded again (its things, made again, would
 * otherwise count twice, with other ordinals than in any other process).
 */
export function markRegistry<T>(registry: Map<string, T[]>): () => void {
  const made = new Map([...registry].map(([module, list]) => [module, list.length]));
  return () => {
    for (const [module, list] of registry) {
      // The actors layer, loaded meanwhile (a module read one of its names before it threw): it stays
      // loaded, and is never evaluated again to define its actors again.
      if (isActorsLayerModule(module)) continue;
      const before = made.get(module);
      if (before === undefined) registry.delete(module);
      else if (list.length > before) registry.set(module, list.slice(0, before));
    }
  };
}

/** Marks the actor definitions (see markRegistry). */
export function markDefinitions(): () => void {
  return markRegistry(definitions);
}

/** The definition a module made `ordinal`-th, once that module has been loaded in this process. */
export function definitionAt(module: string, ordinal: number): ActorDefinition | undefined {
  return definitions.get(module)?.[ordinal];
}

/**
 * Bundles for actor processes say which source module each of their lines
 * came from (process/bundle.ts writes this table into the bundle's first
 * line), so a call site in a bundle names its source module without
 * source-mapping a stack.
 */
const SECTIONS = Symbol.for('troupe.bundle-sections');

function sectionsOf(file: string): [line: number, module: string][] | undefined {
  return (globalThis as unknown as Record<symbol, Map<string, [number, string][]> | undefined>)[SECTIONS]?.get(file);
}

/** The URLs of the last paths a stack named: a module defines its actors and tasks one after another. */
const urls = new Map<string, string>();

function urlOf(path: string): string {
  let url = urls.get(path);
  if (url === undefined) {
    if (urls.size >= 64) urls.clear();
    url = pathToFileURL(path).href;
    urls.set(path, url);
  }
  return url;
}

/** File and line of the code that called `boundary` (`actor()`, `task()`). */
function callerSite(boundary: Function): { file: string; line: number } | undefined {
  const holder: { stack?: unknown } = {};
  const prepare = Error.prepareStackTrace;
  // Raw call sites where the host lets us have them: no formatting, no source maps.
  Error.prepareStackTrace = (_err, sites) => sites;
  let stack: unknown;
  try {
    Error.captureStackTrace(holder, boundary);
    // Read while ours is set: V8 calls prepareStackTrace when a stack is first
    // read, and an actor process's own would load the bundle's source map.
    stack = holder.stack;
  } finally {
    Error.prepareStackTrace = prepare;
  }
  if (Array.isArray(stack)) {
    for (const s of stack as NodeJS.CallSite[]) {
      const file = s.getFileName();
      if (file) return { file, line: s.getLineNumber() ?? 0 };
    }
    return undefined;
  }
  // A loader that owns prepareStackTrace (tsx does) gives the formatted text.
  for (const line of String(stack ?? '').split('\n').slice(1)) {
    const m = /((?:file:\/\/)?\/[^():]+?):(\d+):\d+\)?\s*$/.exec(line);
    if (m !== null) return { file: m[1]!, line: Number(m[2]) };
  }
  return undefined;
}

/** The file URL of the module that called `boundary` (`actor()`, `task()`): where to find it again in another process. */
export function callerModule(boundary: Function): string | undefined {
  const site = callerSite(boundary);
  if (site === undefined) return undefined;
  const url = site.file.startsWith('file:') ? site.file : urlOf(site.file);
  const sections = sectionsOf(url);
  if (sections !== undefined) {
    let found: string | undefined;
    for (const [start, module] of sections) {
      if (start > site.line) break;
      found = module;
    }
    return found;
  }
  return realModule(url);
}

/**
 * A module's URL as an actor process names it: its real path, with no query
 * (a symlink, `--preserve-symlinks`, or tsx's `tsImport()` namespace would
 * otherwise name it differently in the parent and in the bundle).
 */
function realModule(url: string): string {
  try {
    return pathToFileURL(fs.realpathSync(fileURLToPath(url))).href;
  } catch {
    return url;
  }
}
