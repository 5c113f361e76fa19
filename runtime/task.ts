/**
 * Tasks: plain functions that can run in another process, as Python's Pool
 * runs any function it can import by name. `task(fn)` made at the top level
 * of a module is found again in a worker by its module and the order it was
 * made in (as actor definitions are), so it travels in messages as an address.
 */
import { callerModule, markDefinitions, markRegistry } from './behaviour.ts';
import { registerTaskCodec } from './codec.ts';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, SpawnError, describeValue } from './errors.ts';
import { hosting, importing, leftWork, stopTrackingSoon, workCounts } from './node.ts';
import { mapStacksOf } from './process/stacks.ts';
import { loadBundle } from './process/import-url.ts';
import { moduleBundle } from './process/bundle.ts';

const TASK = Symbol.for('troupe.task');

/** A function that a pool can run in its workers: made with `task(fn)`. */
export interface Task<Args extends unknown[] = any[], Result = any> {
  readonly [TASK]: true;
  /** The function; in a process that got the task by address and has not loaded its module, a stand-in that throws. */
  readonly fn: (...args: Args) => Result | Promise<Result>;
  readonly module: string | undefined;
  readonly ordinal: number;
  readonly name: string;
}

/** A task's arguments. */
export type TaskArgs<T> = T extends Task<infer A, any> ? A : never;
/** A task's result, awaited. */
export type TaskResult<T> = T extends Task<any, infer R> ? R : never;

class TaskImpl {
  readonly [TASK] = true as const;
  constructor(
    readonly fn: (...args: unknown[]) => unknown,
    readonly module: string | undefined,
    readonly ordinal: number,
    readonly name: string,
  ) {}
}

const tasks = new Map<string, TaskImpl[]>();

/**
 * Makes `fn` a task: runnable in pool workers. Make tasks at the top level of
 * a module (`export const square = task((x: number) => x * x)`).
 * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` when `fn` is not a function.
 */
export function task<Args extends unknown[], Result>(fn: (...args: Args) => Result | Promise<Result>): Task<Args, Awaited<Result>> {
  if (typeof fn !== 'function') throw new InvalidArgumentError(`Expected \`task()\` to be given a function, got ${describeValue(fn)}.`);
  const module = callerModule(task);
  const list = module === undefined ? [] : (tasks.get(module) ?? []);
  const made = Object.freeze(new TaskImpl(fn as (...args: unknown[]) => unknown, module, list.length, fn.name));
  if (module !== undefined) tasks.set(module, [...list, made]);
  return made as unknown as Task<Args, Awaited<Result>>;
}

/** Whether a value is a task made with `task(fn)`. */
export function isTask(value: unknown): value is Task {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[TASK] === true;
}

/** The task a module made `ordinal`-th, once that module is loaded in this process. */
export function taskAt(module: string, ordinal: number): Task | undefined {
  return tasks.get(module)?.[ordinal] as Task | undefined;
}

registerTaskCodec(
  TaskImpl,
  (t) => [t.module ?? null, t.ordinal, t.name],
  (data) => {
    const [module, ordinal, name] = data as [string | null, number, string];
    const known = module === null ? undefined : taskAt(module, ordinal);
    if (known !== undefined) return known as unknown as TaskImpl;
    return Object.freeze(
      new TaskImpl(
        () => {
          throw new Error(`task ${name || '(anonymous)'} from ${module} is only an address in this process: load its module first`);
        },
        module ?? undefined,
        ordinal,
        name,
      ),
    );
  },
);

/**
 * What a worker needs to load `t`'s module: a bundle path built here (null
 * when the runtime holds the module already). Build it in the process that
 * hands the task out, once; send it with the task.
 */
export async function taskBundle(t: Task): Promise<string | null> {
  if (t.module === undefined) throw notLocatable(t);
  return moduleBundle(t.module);
}

/**
 * The runnable task for `t` (which may have come as an address), loading its
 * module from `bundle` first when this process has not loaded it.
 * @throws {SpawnError} `ERR_SPAWN` when the module does not load or does not make the task again.
 */
export async function resolveTask(t: Task, bundle: string | null): Promise<Task> {
  if (t.module === undefined) throw notLocatable(t);
  const known = taskAt(t.module, t.ordinal);
  if (known !== undefined) return known;
  if (bundle !== null && !loaded.has(bundle)) {
    loaded.add(bundle);
    mapStacksOf(pathToFileURL(bundle).href);
    hosting.loading = `task module ${t.module}`;
    const undoTasks = markRegistry(tasks);
    const undoDefinitions = markDefinitions();
    try {
      // What the module starts as it loads is the module's (see importing): a spawn from it is refused.
      const before = workCounts();
      let startedWork = true;
      await importing.run(`the task module ${t.module}`, () => {
        const loading = loadBundle(bundle);
        // A CommonJS bundle has run by now; an ES module's evaluation is still to come, and stays tracked.
        if (bundle.endsWith('.cjs')) startedWork = leftWork(before, workCounts());
        return loading;
      });
      stopTrackingSoon(startedWork);
    } catch (err) {
      // Tried again by the next task that needs it (as Python imports a module that failed once
      // again): require() forgets a module that threw, so its tasks, made again, must not count twice.
      loaded.delete(bundle);
      if (bundle.endsWith('.cjs')) {
        undoTasks();
        undoDefinitions(); // its actors too, and those of the modules bundled with it
      }
      throw new SpawnError(`Cannot run task ${t.name || '(anonymous)'}: its module ${t.module} threw while loading: ${(err as Error).message}`, t.name, { cause: err });
    } finally {
      hosting.loading = null;
    }
  }
  const found = taskAt(t.module, t.ordinal);
  if (found === undefined) {
    throw new SpawnError(`Cannot run task ${t.name || '(anonymous)'}: loading ${t.module} did not make task #${t.ordinal + 1} again. Make tasks with task(…) at the top level of a module.`, t.name);
  }
  return found;
}

const loaded = new Set<string>();

function notLocatable(t: Task): SpawnError {
  return new SpawnError(`Task ${t.name || '(anonymous)'} cannot run in another process: the stack did not say which module made it. Make tasks with task(…) at the top level of a module file.`, t.name);
}
