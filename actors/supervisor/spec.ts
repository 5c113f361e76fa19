/**
 * What a supervisor is told: its strategy, restart intensity, backoff, and
 * child specs (OTP's child specifications), validated at the boundary.
 */
import { InvalidArgumentError, invalidOption, isActorDefinition, onlyKnown, resolveShutdown, type ActorDefinition, type ArgsOf, type Shutdown } from '../../runtime/index.ts';
import { DEFAULT_BACKOFF, DEFAULT_INTENSITY, type Backoff } from './intensity.ts';

/**
 * `permanent`: always restarted; `transient`: restarted only after an
 * abnormal exit (not `normal`, not `shutdown`); `temporary`: never restarted,
 * even when a sibling's restart ended it.
 */
export type Restart = 'permanent' | 'transient' | 'temporary';

/**
 * `one-for-one`: restart the child that ended; `one-for-all`: end all the
 * others (in reverse order) and restart all; `rest-for-one`: end the children
 * started after it and restart it and them.
 */
export type Strategy = 'one-for-one' | 'one-for-all' | 'rest-for-one';

/**
 * One child of a supervisor (OTP's child specification): `args` as the
 * actor's behaviour takes them after `ctx`, required when it takes any (as
 * `spawn` asks).
 */
export type ChildSpec<D extends ActorDefinition = ActorDefinition> = ChildSpecFields<D> &
  ([] extends ArgsOf<D> ? { readonly args?: Readonly<ArgsOf<D>> } : { readonly args: Readonly<ArgsOf<D>> });

/** What a child spec holds besides its args. */
export interface ChildSpecFields<D extends ActorDefinition = ActorDefinition> {
  /** Unique among the supervisor's children. */
  readonly id: string;
  readonly actor: D;
  /** Default `permanent`. */
  readonly restart?: Restart;
  /** Default 5000 ms; `brutal` kills; `infinity` waits as long as it takes (use it for supervisors). */
  readonly shutdown?: Shutdown;
  readonly daemon?: boolean;
  /**
   * The signal the kernel sends the child if the supervisor's process dies
   * without stopping it (as `spawn`'s option): `KILL` (default), or `TERM`
   * for a child that must clean up first (a command's host ends its
   * program's process group).
   */
  readonly deathSignal?: 'KILL' | 'TERM';
  /** The process name (`troupe-actor <name>` in ps); default the id. */
  readonly name?: string;
}

/**
 * A child spec as the type checker holds it to its actor: `args` as the
 * actor's behaviour takes them, required when it takes any (as `spawn`
 * asks). Each spec given to `Supervisor.start` or `startChild` is checked so.
 */
export type CheckedChildSpec<S> = S extends { readonly actor: infer D extends ActorDefinition } ? ([D] extends [never] ? ChildSpec : ChildSpec<D>) : ChildSpec;

/** Each of `C`'s specs checked against its actor (see CheckedChildSpec). */
export type CheckedChildren<C extends readonly unknown[]> = { readonly [K in keyof C]: CheckedChildSpec<C[K]> };

/** `Supervisor.start(spec)`: the strategy, the restart intensity and backoff, and the children, in start order. */
export interface SupervisorSpec {
  /** Default `one-for-one`. */
  readonly strategy?: Strategy;
  /** Default 1 (OTP's). */
  readonly maxRestarts?: number;
  /** Default 5000 (OTP's). */
  readonly periodMs?: number;
  readonly backoff?: Partial<Backoff>;
  readonly children?: readonly ChildSpec[];
}

export interface ResolvedChildSpec {
  readonly id: string;
  readonly actor: ActorDefinition;
  readonly args: readonly unknown[];
  readonly restart: Restart;
  readonly shutdown: Shutdown;
  readonly daemon: boolean;
  readonly deathSignal: 'KILL' | 'TERM';
  readonly name: string;
}

export interface ResolvedSpec {
  readonly strategy: Strategy;
  readonly maxRestarts: number;
  readonly periodMs: number;
  readonly backoff: Backoff;
  readonly children: ResolvedChildSpec[];
}

const STRATEGIES: readonly Strategy[] = ['one-for-one', 'one-for-all', 'rest-for-one'];
const RESTARTS: readonly Restart[] = ['permanent', 'transient', 'temporary'];

/** Past this, a timer fires at once (Node's limit, about 24.8 days): no backoff delay may be longer. */
const MAX_MS = 2 ** 31 - 1;

function count(name: string, value: unknown, fallback: number, min = 0, max = MAX_MS): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) throw invalidOption(name, `a number from ${min} to ${max}`, value);
  return value;
}

/** As count, a whole number (a count of restarts). */
function whole(name: string, value: unknown, fallback: number): number {
  if (value !== undefined && !Number.isSafeInteger(value)) throw invalidOption(name, 'a whole number >= 0', value);
  return count(name, value, fallback, 0, Number.MAX_SAFE_INTEGER);
}

export function resolveChildSpec(spec: unknown, where = 'child spec'): ResolvedChildSpec {
  if (typeof spec !== 'object' || spec === null) throw invalidOption(where, 'an object `{ id, actor, … }`', spec);
  onlyKnown(spec, where, ['id', 'actor', 'args', 'restart', 'shutdown', 'daemon', 'deathSignal', 'name'], {
    start: "OTP's `start` is `actor` and `args` here.",
    type: 'leave it out: a child that is a supervisor is an actor like any other (give it `shutdown: \'infinity\'`).',
    modules: 'leave it out.',
  });
  const s = spec as ChildSpec;
  if (typeof s.id !== 'string' || s.id === '') throw invalidOption(`${where}.id`, 'a non-empty string', s.id);
  if (!isActorDefinition(s.actor)) throw invalidOption(`${where}.actor`, 'an actor definition made with `actor(…)`', s.actor);
  if (s.args !== undefined && !Array.isArray(s.args)) throw invalidOption(`${where}.args`, 'an array', s.args);
  if (s.restart !== undefined && !RESTARTS.includes(s.restart)) throw invalidOption(`${where}.restart`, "'permanent', 'transient' or 'temporary'", s.restart);
  const shutdown = resolveShutdown(s.shutdown, `${where}.shutdown`);
  if (s.daemon !== undefined && typeof s.daemon !== 'boolean') throw invalidOption(`${where}.daemon`, 'a boolean', s.daemon);
  if (s.deathSignal !== undefined && s.deathSignal !== 'KILL' && s.deathSignal !== 'TERM') throw invalidOption(`${where}.deathSignal`, "'KILL' or 'TERM'", s.deathSignal);
  if (s.name !== undefined && typeof s.name !== 'string') throw invalidOption(`${where}.name`, 'a string', s.name);
  return { id: s.id, actor: s.actor, args: s.args ?? [], restart: s.restart ?? 'permanent', shutdown, daemon: s.daemon ?? false, deathSignal: s.deathSignal ?? 'KILL', name: s.name ?? s.id };
}

/** Fills in the defaults and checks everything; throws `InvalidArgumentError` naming what is wrong. */
export function resolveSpec(spec: unknown): ResolvedSpec {
  if (spec === undefined) spec = {};
  if (typeof spec !== 'object' || spec === null) throw invalidOption('spec', 'an object', spec);
  onlyKnown(spec, 'supervisor spec', ['strategy', 'maxRestarts', 'periodMs', 'backoff', 'children'], {
    intensity: "OTP's `intensity` is `maxRestarts` here.",
    period: "OTP's `period` (seconds) is `periodMs` (milliseconds) here.",
  });
  const s = spec as SupervisorSpec;
  if (s.strategy !== undefined && !STRATEGIES.includes(s.strategy)) throw invalidOption('strategy', "'one-for-one', 'one-for-all' or 'rest-for-one'", s.strategy);
  if (s.children !== undefined && !Array.isArray(s.children)) throw invalidOption('children', 'an array of child specs', s.children);
  const children = (s.children ?? []).map((c, i) => resolveChildSpec(c, `children[${i}]`));
  const ids = new Set<string>();
  for (const c of children) {
    if (ids.has(c.id)) throw new InvalidArgumentError(`Two children have the id ${JSON.stringify(c.id)}: ids must be unique within a supervisor.`);
    ids.add(c.id);
  }
  const b = s.backoff ?? {};
  if (typeof b !== 'object' || b === null) throw invalidOption('backoff', 'an object', b);
  onlyKnown(b, 'backoff', ['minMs', 'maxMs', 'resetAfterMs', 'jitter']);
  const backoff: Backoff = {
    minMs: count('backoff.minMs', b.minMs, DEFAULT_BACKOFF.minMs),
    maxMs: count('backoff.maxMs', b.maxMs, DEFAULT_BACKOFF.maxMs),
    // Compared with timestamps, never a timer: any length, Infinity included.
    resetAfterMs: count('backoff.resetAfterMs', b.resetAfterMs, DEFAULT_BACKOFF.resetAfterMs, 0, Infinity),
    jitter: count('backoff.jitter', b.jitter, DEFAULT_BACKOFF.jitter),
  };
  if (backoff.jitter > 1) throw invalidOption('backoff.jitter', 'a fraction from 0 to 1', backoff.jitter);
  // Before, every delay was then maxMs.
  if (backoff.maxMs < backoff.minMs) throw invalidOption('backoff.maxMs', `at least backoff.minMs (${backoff.minMs})`, backoff.maxMs);
  return {
    strategy: s.strategy ?? 'one-for-one',
    maxRestarts: whole('maxRestarts', s.maxRestarts, DEFAULT_INTENSITY.maxRestarts),
    // As resetAfterMs: Infinity is "at most maxRestarts restarts, ever".
    periodMs: count('periodMs', s.periodMs, DEFAULT_INTENSITY.periodMs, 1, Infinity),
    backoff,
    children,
  };
}
