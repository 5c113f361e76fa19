/**
 * `spawn`: start an actor as an OS process, as Python's `Process(...).start()`.
 * The ref comes back at once; messages sent before the actor is up are kept
 * and delivered in order.
 */
import { fs } from './fs.ts';
import { fileURLToPath } from 'node:url';
import { isActorDefinition, type ActorDefinition, type ArgsOf, type MsgOf, type ReplyOf } from './behaviour.ts';
import type { Context } from './context.ts';
import { SpawnError, checkOptions, invalidOption } from './errors.ts';
import { validateMailboxOptions, type MailboxOptions } from './mailbox.ts';
import { ensureRootHandlers } from './embed.ts';
import { currentNode, definitionKey, hosting, importing } from './node.ts';
import { ActorProcess, DEFAULT_STOP_TIMEOUT_MS, type Shutdown } from './process/child.ts';
import type { ChildRef } from './process/child-ref.ts';

const SPAWN_OPTIONS = ['args', 'name', 'daemon', 'shutdown', 'deathSignal', 'mailbox', 'execArgv', 'env', 'cwd'];

/** `spawn(definition, options)`: the actor's args, and how its process runs and ends. */
export interface SpawnOptions<Args extends unknown[] = unknown[]> {
  /** The behaviour's arguments after `ctx` (for a class, `run`'s arguments). */
  readonly args?: Args;
  /** Shown in `ps` as `troupe-actor <name>`; default `<function or class name>-<n>` (`actor-<n>` for an arrow function, which has no name). */
  readonly name?: string;
  /** A daemon does not keep its parent alive and is ended when its parent ends. */
  readonly daemon?: boolean;
  /**
   * How the actor is ended when its parent stops: a graceful stop within this
   * many ms (default 5000), `'brutal'` (SIGKILL), or `'infinity'` (a graceful
   * stop with no deadline). Supervisors use it for their children.
   */
  readonly shutdown?: Shutdown;
  /**
   * The signal the actor gets when its parent dies (Linux, where setpriv
   * exists): `KILL` (default), or `TERM` for an actor that must clean up
   * first (it handles SIGTERM itself, within its `shutdown` time: 5000 ms
   * unless a number; it is killed after that, busy or not).
   */
  readonly deathSignal?: 'KILL' | 'TERM';
  /** Bound the mailbox: `{ max, overflow: 'drop-new' | 'fail' }`. */
  readonly mailbox?: MailboxOptions;
  /** Node flags for the actor process (default none: the parent's loaders are not inherited). */
  readonly execArgv?: readonly string[];
  /** Environment of the actor process (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Working directory of the actor process (default: this process's). */
  readonly cwd?: string;
}

type SpawnRest<D> = [] extends ArgsOf<D> ? [options?: SpawnOptions<ArgsOf<D>>] : [options: SpawnOptions<ArgsOf<D>> & { readonly args: ArgsOf<D> }];

/**
 * The `__main__` guard mistake: in an actor process, code at the top level of
 * the module it loads must not start processes while the module loads, nor,
 * later, start the actor the process runs or one its ancestors run
 * (`definition`: what an unguarded `async main()` past its first `await`
 * does), or every actor process would start more.
 * @throws {SpawnError} `ERR_SPAWN_AT_IMPORT`, saying what to do.
 */
export function refuseSpawnAtImport(what: string, definition: unknown): void {
  if (hosting.loading !== null) {
    throw new SpawnError(
      `${what} was called while loading the module of actor ${hosting.loading}: code at the top level of a module that defines actors runs again in every actor process. Move it into a function, or guard it with \`if (isMain(import.meta)) { … }\` (Python's \`if __name__ == '__main__':\`).`,
      hosting.loading,
      { code: 'ERR_SPAWN_AT_IMPORT' },
    );
  }
  // Cheapest first: outside what a module started at import (nearly every spawn), nothing to look up.
  const started = importing.getStore();
  if (started === undefined || hosting.running === null) return;
  const key = definitionKey(definition);
  if (definition !== hosting.running && (key === null || !hosting.lineage.includes(key))) return;
  throw new SpawnError(
    `${what} was called, to start the very actor this process (or one above it) runs, by code that ${started} started as it loaded (an async main() past its first await, a timer set at its top level): code at the top level of a module that defines actors runs again in every actor process, and would spawn again in each. Guard it with \`if (isMain(import.meta)) { … }\` (Python's \`if __name__ == '__main__':\`).`,
    started,
    { code: 'ERR_SPAWN_AT_IMPORT' },
  );
}

/**
 * Starts `definition` in a new actor process and returns its ref at once.
 * `ref.ready` resolves when it runs, or rejects with `SpawnError`.
 * @throws {SerializationError} `ERR_SERIALIZATION` when an argument cannot cross to another process (the path is named).
 * @throws {SpawnError} `ERR_SPAWN_AT_IMPORT` when called at the top level of a module being loaded to host an actor.
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` for a bad definition or option.
 */
export function spawn<D extends ActorDefinition>(definition: D, ...rest: SpawnRest<D>): ChildRef<MsgOf<D>, ReplyOf<D>> {
  const options = (rest[0] ?? {}) as SpawnOptions;
  refuseSpawnAtImport('spawn()', definition);
  if (!isActorDefinition(definition)) {
    throw invalidOption('definition', 'an actor definition made with `actor(…)`', definition);
  }
  checkOptions(options, 'options', 'an object', 'spawn() options', SPAWN_OPTIONS, {
    target: "the actor is spawn()'s first argument (Python's `target`).",
    kwargs: 'pass every argument in `args`.',
  });
  const { args = [], name = '', daemon = false, mailbox, execArgv = [], env, cwd, deathSignal = 'KILL' } = options;
  if (deathSignal !== 'KILL' && deathSignal !== 'TERM') throw invalidOption('deathSignal', "'KILL' or 'TERM'", deathSignal);
  const shutdown = resolveShutdown(options.shutdown);
  if (!Array.isArray(args)) throw invalidOption('args', 'an array of arguments', args);
  if (typeof name !== 'string') throw invalidOption('name', 'a string', name);
  if (typeof daemon !== 'boolean') throw invalidOption('daemon', 'a boolean', daemon);
  if (!Array.isArray(execArgv) || execArgv.some((a) => typeof a !== 'string')) throw invalidOption('execArgv', 'an array of strings', execArgv);
  if (cwd !== undefined && typeof cwd !== 'string') throw invalidOption('cwd', 'a directory path', cwd);
  if (env !== undefined && (typeof env !== 'object' || env === null)) throw invalidOption('env', 'an object of strings', env);
  const process = new ActorProcess(currentNode(), definition, args, {
    name,
    daemon,
    shutdown,
    deathSignal,
    mailbox: validateMailboxOptions(mailbox),
    execArgv,
    env,
    cwd,
  });
  // Once the process is on its way: in the same turn, before any signal or error reaches the program.
  ensureRootHandlers();
  return process.ref as ChildRef<MsgOf<D>, ReplyOf<D>>;
}

/**
 * A `shutdown` option, checked: a number of milliseconds >= 0, `'brutal'` or
 * `'infinity'`; `DEFAULT_STOP_TIMEOUT_MS` when absent. `name` is the option's
 * path in the message (`children[0].shutdown`).
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` for anything else.
 */
export function resolveShutdown(value: unknown, name = 'shutdown'): Shutdown {
  if (value === undefined) return DEFAULT_STOP_TIMEOUT_MS;
  if (value === 'brutal' || value === 'infinity' || (typeof value === 'number' && value >= 0)) return value;
  throw invalidOption(name, "a number of milliseconds >= 0, 'brutal' or 'infinity'", value);
}

/** This process's own actor: the main program in the root, the hosted actor in an actor process. */
export function current(): Context {
  return currentNode().context;
}

/**
 * The actors this process spawned that have not ended yet, pool workers and
 * supervisors included, oldest first: Python's `active_children()`. Their
 * descendants are not listed (ask them). Unlike Python's, it reaps nothing:
 * an ended child is reaped as it ends.
 */
export function activeChildren(): ChildRef[] {
  return currentNode().activeChildren();
}

/**
 * Whether the module whose `import.meta` is given is the program's entry:
 * Python's `if __name__ == '__main__':`. Always false inside an actor process.
 */
export function isMain(meta: ImportMeta): boolean {
  // Before, anything else was simply false: main code that never ran, without a word.
  if (typeof meta !== 'object' || meta === null || typeof (meta as { url?: unknown }).url !== 'string') throw invalidOption('isMain() argument', "the module's `import.meta`", meta);
  if (hosting.loading !== null) return false;
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return fs.realpathSync(fileURLToPath(meta.url)) === fs.realpathSync(entry);
  } catch {
    return false;
  }
}


