/**
 * `Pool`: Python's `multiprocessing.Pool` on actor processes. Tasks are
 * functions made with `task(fn)`; workers are actors. A task that throws
 * rejects its own result; a worker that dies fails the tasks it held with
 * `WorkerCrashedError` and is replaced; nothing waits forever.
 */
import { availableParallelism } from 'node:os';
import { setMaxListeners } from 'node:events';
import {
  AbortError,
  ActorExitedError,
  RemoteError,
  SerializationError,
  TimeoutError,
  TroupeError,
  registerOwnErrorClasses,
  invalidOption,
  checkOptions,
  neverTaken,
  optionsOf,
  rejecting,
  isTask,
  node,
  refuseSpawnAtImport,
  spawn,
  taskBundle,
  type ChildRef,
  type ExitEvent,
  type Task,
  type TaskArgs,
  type TaskResult,
} from '../../runtime/index.ts';
import { CANCEL_KEY, STARTED_KEY, packNumbers, poolWorker, type Job } from './worker.ts';
import { holdAlive, isForever } from '../../runtime/timers.ts';
import { encode, type Encoded } from '../../runtime/codec.ts';

/** A worker died while it held the task (SIGKILL, out of memory, process.exit…). */
export class WorkerCrashedError extends TroupeError {
  readonly workerId: string;
  readonly exitCode: number | null;
  constructor(message: string, workerId: string, exitCode: number | null, options?: { cause?: unknown }) {
    super('ERR_WORKER_CRASHED', message, options);
    this.workerId = workerId;
    this.exitCode = exitCode;
  }
}

/** The pool was closed or terminated. */
export class PoolClosedError extends TroupeError {
  constructor(message: string) {
    super('ERR_POOL_CLOSED', message);
  }
}

registerOwnErrorClasses([WorkerCrashedError, PoolClosedError]);

/** `new Pool(options)`, as Python's `Pool(processes, initializer, initargs, maxtasksperchild)`. */
export interface PoolOptions<I extends Task = Task> {
  /** Workers; default `os.availableParallelism()`. */
  readonly size?: number;
  /** A worker is replaced after this many tasks (chunks); default (or `null`, Python's `None`) never. */
  readonly maxTasksPerChild?: number | null;
  /** Runs once in each worker before its first task. */
  readonly initializer?: I;
  /** The initializer's arguments, typed from it. */
  readonly initArgs?: Readonly<TaskArgs<I>>;
}

/** Options of one task (`apply`), or of each chunk of a map. */
export interface TaskOptions {
  /** Milliseconds a task (a chunk) may run; the worker running an overdue task is replaced. */
  readonly timeout?: number;
  readonly signal?: AbortSignal;
}

/** Options of `map`, `starmap`, `imap` and `imapUnordered` (and their async forms). */
export interface MapOptions extends TaskOptions {
  /** Items per task; chosen as Python chooses when absent (about four chunks per worker). */
  readonly chunksize?: number;
  /**
   * Called after each chunk with the items done and the total. For `imap`
   * and `imapUnordered`, as each chunk's results arrive (a failed chunk's
   * items count as done); their total is the input's length when it is an
   * array, else the items read from it so far (its length once it ended).
   * A callback that throws fails the map (ends the imap) with its error.
   */
  readonly onProgress?: (done: number, total: number) => void;
}

/** `applyAsync` options: Python's `callback` and `error_callback`, beside the promise. */
export interface ApplyAsyncOptions<R> extends TaskOptions {
  readonly callback?: (result: R) => void;
  readonly errorCallback?: (error: Error) => void;
}

interface Pending {
  readonly task: Task;
  readonly known: KnownTask;
  readonly chunk: readonly unknown[] | Float64Array;
  readonly star: boolean;
  readonly timeout: number | undefined;
  /** With the chunk's results: a Float64Array when they were all numbers. */
  readonly resolve: (results: ArrayLike<unknown>) => void;
  readonly reject: (error: Error) => void;
  cancelled: boolean;
  /** It was given a signal: an abort must find it not sent, or have its worker drop it unstarted (see #ahead, #cancel). */
  readonly abortable: boolean;
  /**
   * With a signal, the number its job carries, which a cancel names (see worker.ts CANCEL_KEY): given
   * as the job is sent, by its worker's count, so that the numbers on one pipe only grow; else 0.
   */
  token: number;
  /** The worker its job went to, until it answers. */
  sentTo: Slot | null;
  /** With a timeout, while no worker has started: the timer that fails it if none does in time. */
  startWait: ReturnType<typeof setTimeout> | undefined;
}

interface Slot {
  readonly ref: ChildRef<Job, readonly unknown[] | Float64Array>;
  /** It has started taking jobs: it answered STARTED (its initializer has run), or, with no initializer, it is ready. */
  started: boolean;
  /** Its process said it was ready: before that its behaviour has not run, nor any job sent to it (see #ahead). */
  ready: boolean;
  inflight: number;
  /** How many jobs it may hold at once now (see #paced), when the next is of a task it has answered. */
  window: number;
  /**
   * The tasks (by key) it has answered: one it has not is sent it one job at a time, and its first
   * answer sets the pace afresh. Else a pace learnt on tiny tasks sent a hundred long ones of another
   * task ahead to one worker at once, while the other took the rest and then sat idle.
   */
  readonly answered: Set<number>;
  /** When its last job came back, and the smoothed time between its jobs coming back (ms; 0 until known). */
  lastDone: number;
  pace: number;
  /** When it was last sent a job while it held none: with `lastDone`, when it last showed progress. */
  busySince: number;
  /** Its last job sent alone (nothing else in flight), and when it went. */
  lone: Pending | null;
  loneSent: number;
  /** The task keys this worker has been sent in full: later jobs name them by key alone. */
  readonly sent: Set<number>;
  /** The task keys whose modules it has loaded for a timed task before running it (see #loadThenSend). */
  readonly loaded: Set<number>;
  /** The pool ended it (a timed-out task, terminate): its other tasks did nothing wrong and go back in the queue. */
  endedByPool: boolean;
  /** Jobs sent to it: with maxTasksPerChild, it ends after that many and is sent no more. */
  sentJobs: number;
  /** The last token given to a job sent to it (see Pending.token). */
  tokens: number;
  /** Settles once it has started (see `started`) or could not. */
  startedOrNot: Promise<void>;
}

/** A task the pool has been given. */
interface KnownTask {
  /** Its number in the workers: once a worker has it, jobs name it by this alone. */
  readonly key: number;
  /** Its module's bundle, made when a worker first needs it. */
  bundle: Promise<string | null> | null;
}

let pools = 0;

/**
 * The pools with work queued or running: held here, so that none is collected
 * while a task waits (for a worker replaced after maxTasksPerChild, say, when
 * nothing else holds the pool: its workers' ends reach it through a weak
 * reference).
 */
const busyPools = new Set<object>();

/**
 * Pools dropped while idle, never closed nor terminated: collected, their
 * workers are terminated, as Python's pool finalizer terminates them, and a
 * warning says so. A pool with tasks queued or running, or an imap not read
 * to its end, is held by them and not collected.
 */
const dropped = new FinalizationRegistry<{ name: string; onExit: (event: ExitEvent) => void; workers: Set<ChildRef<Job, readonly unknown[] | Float64Array>>; ended: { closed: boolean } }>(({ name, onExit, workers, ended }) => {
  node().off('exit', onExit);
  const alive = [...workers].filter((ref) => ref.exitCode === null);
  // Closed or terminated: its workers are ending already, as it asked.
  if (alive.length === 0 || ended.closed) return;
  for (const ref of alive) ref.terminate();
  process.emitWarning(`${name} was collected while its ${alive.length === 1 ? 'worker was' : `${alive.length} workers were`} alive, never closed nor terminated: ${alive.length === 1 ? 'it was' : 'they were'} terminated. Close a pool when done with it (\`await using\`, or close() and join()).`, {
    type: 'ResourceWarning',
    code: 'TROUPE_POOL_DROPPED',
  });
});

/**
 * Jobs sent ahead to a worker: enough for about AHEAD_MS of its work, between
 * MIN_AHEAD and MAX_AHEAD. Tiny tasks get many (the round trip is hidden),
 * long ones few (uneven tasks stay balanced between workers). None ahead
 * while its pace is unknown or its tasks take LONG_MS or more (a round trip
 * is then nothing beside a task), nor while it has shown no progress for
 * LONG_MS (a worker fast until now that is stuck in a task): a task sent
 * ahead waits behind the one running, and a task that never ends would hold
 * it for ever.
 */
const AHEAD_MS = 1;
const LONG_MS = 50;
/** A worker that died while it started is replaced after this, doubled each time again, up to RESPAWN_MAX_MS. */
const RESPAWN_FIRST_MS = 50;
const RESPAWN_MAX_MS = 5000;
const MIN_AHEAD = 2;
/** At most this much memory of packed chunks is kept for reuse, of chunks of at least SPARE_CHUNK_MIN_BYTES. */
const SPARE_CHUNK_BYTES = 2 * 1024 * 1024;
const SPARE_CHUNK_MIN_BYTES = 16 * 1024;
const MAX_AHEAD = 128;
/**
 * A timed task's module loads in a worker before the task is sent, within its
 * timeout or this, whichever is longer: its own time starts once it is loaded
 * (an import of seconds would fail such a task in every new worker, for ever).
 */
const LOAD_MS = 60_000;
/** Timeouts of such a load (see #loadThenSend), said as what they are. */
const loadTimeouts = new WeakSet<TimeoutError>();

const NO_OPTIONS = Object.freeze({});
const FOREVER = Object.freeze({ timeout: Infinity });
/** The job a worker answers as it starts taking jobs (see #spawnWorker). */
const STARTED: Job = Object.freeze({ key: STARTED_KEY, chunk: [], star: false });

/**
 * Python's `multiprocessing.Pool` on actor processes. The type parameter is
 * the initializer's, inferred from the options: it types `initArgs`.
 */
export class Pool<I extends Task = Task> {
  /** How many workers it keeps. */
  readonly size: number;
  /** How errors, warnings and its workers' names call it: `Pool-<n>` (its workers are `PoolWorker-<n>:<k>`). */
  get name(): string {
    return this.#name;
  }
  readonly #maxTasks: number | null;
  readonly #initializer: Task | null;
  readonly #initArgs: readonly unknown[];
  /** 1 with maxTasksPerChild (a worker must not be sent more than it will run), else the paced window. */
  readonly #oneAtATime: boolean;
  readonly #slots = new Set<Slot>();
  readonly #queue = new Fifo<Pending>();
  /** The tasks given so far, by address (`module#ordinal`). */
  readonly #tasks = new Map<string, KnownTask>();
  /** The same, by task object: most jobs look their task up here, without building its address. */
  readonly #taskObjects = new WeakMap<Task, KnownTask>();
  readonly #name: string;
  #state: 'running' | 'closed' | 'terminated' = 'running';
  /** join() has found the pool idle and is stopping its workers. */
  #joined = false;
  #workerCount = 0;
  #starting = 0;
  /**
   * The pool may have fewer workers up or starting than `size`: at first
   * (the others start as work needs them, or once the first is up: see
   * #fillSoon), and after a worker could not be started.
   */
  #short = false;
  #fillScheduled = false;
  #initBundle: Promise<string | null> | null = null;
  /** Some worker of this pool has started: it can start workers (with maxTasksPerChild, none may be up at a given moment). */
  #everStarted = false;
  /** A task's wait for a worker to start timed out, and none has started since (see #timeStartWait). */
  #startTimedOut = false;
  /** Workers that died while they started since one last started, and their replacements waiting (see #replaceLater). */
  #startFailures = 0;
  readonly #respawns = new Set<ReturnType<typeof setTimeout>>();
  /** Queued tasks timed while no worker has started (see #timeStartWait). */
  readonly #waitingForStart = new Set<Pending>();
  /** The imaps waiting for a result or their input, each by the call that wakes it: terminate() and join() end them. */
  readonly #imaps = new Set<() => void>();
  /** join() calls waiting for the pool to be idle. */
  #idle: (() => void)[] = [];
  /** Imaps not finished (see #openImap), and a closed pool's wait for the last of them (see #endWhenDone). */
  readonly #openImaps = new Set<object>();
  #imapsDone: (() => void)[] = [];
  readonly #imapsCollected = new FinalizationRegistry<object>((open) => this.#imapFinished(open));
  /** The workers' end, begun (see #stopWorkers). */
  #stopping: Promise<void> | null = null;
  /** While tasks are queued or running: lets the program go (the workers are daemons, which keep nothing alive). */
  #release: (() => void) | null = null;
  /** Hears of its workers' ends: through a weak reference, so that a pool dropped while idle can be collected (see `dropped`). */
  readonly #onExit: (event: ExitEvent) => void;
  /** Whether close() or terminate() was called, for `dropped`. */
  readonly #ended = { closed: false };
  /** Its workers alive, for `dropped` to end: they hold nothing of the pool. */
  readonly #workers = new Set<ChildRef<Job, readonly unknown[] | Float64Array>>();
  /** Packed chunks whose answers came, for the next map to pack into (see #spareChunk). */
  readonly #spareChunks: Float64Array[] = [];
  #spareBytes = 0;

  /**
   * Starts the first worker; the other `size - 1` start as soon as tasks
   * outnumber the workers, or once the first worker is up or has answered.
   * @throws {InvalidArgumentError} `ERR_INVALID_ARGUMENT` for a bad size, maxTasksPerChild or initializer.
   */
  constructor(options: PoolOptions<I> = {}) {
    // As Python's Pool() in a child importing the main module: an error here, not workers that fail later.
    refuseSpawnAtImport('new Pool()', poolWorker);
    checkOptions(options, 'options', 'an object of pool options ({ size, maxTasksPerChild, initializer, initArgs })', 'Pool options', ['size', 'maxTasksPerChild', 'initializer', 'initArgs'], {
      processes: "Python's `processes` is `size` here.",
      context: 'troupe has one start method, as Python\'s `spawn`: leave `context` out.',
    });
    const { size = availableParallelism(), maxTasksPerChild, initializer, initArgs = [] } = options;
    if (!Number.isInteger(size) || size < 1) throw invalidOption('size', 'an integer of at least 1 (the number of workers)', size);
    if (maxTasksPerChild !== undefined && maxTasksPerChild !== null && (!Number.isInteger(maxTasksPerChild) || maxTasksPerChild < 1)) {
      throw invalidOption('maxTasksPerChild', 'a positive integer, or null or undefined for none', maxTasksPerChild);
    }
    if (initializer !== undefined && !isTask(initializer)) throw invalidOption('initializer', 'a task made with task(fn)', initializer);
    if (!Array.isArray(initArgs)) throw invalidOption('initArgs', 'an array', initArgs);
    // Each worker is sent them as it starts: one that cannot be sent is an error here, not a worker
    // that fails later, where nobody could catch it.
    encode([...initArgs], 'initArgs');
    this.size = size;
    this.#maxTasks = maxTasksPerChild ?? null;
    this.#initializer = initializer ?? null;
    this.#initArgs = initArgs;
    // Several tasks in flight per worker hide the round trip (a worker takes
    // them in order); one when workers are replaced after N tasks.
    this.#oneAtATime = this.#maxTasks !== null;
    this.#name = `Pool-${++pools}`;
    const self = new WeakRef(this);
    this.#onExit = (event) => {
      const pool = self.deref();
      if (pool !== undefined) pool.#exited(event);
    };
    node().on('exit', this.#onExit);
    dropped.register(this, { name: this.#name, onExit: this.#onExit, workers: this.#workers, ended: this.#ended });
    // One worker now, the others as work needs them or once it is up: started all at once on a
    // machine with few cores, they would share them, and the first result would wait for all.
    this.#addWorker();
    this.#short = size > 1;
  }

  // ---- Python's API ------------------------------------------------------

  /** Runs `fn(...args)` in a worker; resolves its result. */
  apply<T extends Task>(fn: T, args: TaskArgs<T>, options: TaskOptions = NO_OPTIONS): Promise<TaskResult<T>> {
    if (!Array.isArray(args)) return Promise.reject(invalidOption('args', 'an array of the task\'s arguments (`apply(fn, [x])`)', args));
    return rejecting(() => {
      const given = optionsOf(options, 'apply() options', TASK_OPTIONS);
      return new Promise((resolve, reject) => this.#enqueue(fn, [args], true, given, (results) => resolve(results[0] as TaskResult<T>), reject));
    });
  }

  /** `apply`, with Python's callbacks as well as the promise. */
  applyAsync<T extends Task>(fn: T, args: TaskArgs<T>, options: ApplyAsyncOptions<TaskResult<T>> = NO_OPTIONS): Promise<TaskResult<T>> {
    const bad = callbacksError(options, 'applyAsync()', TASK_OPTIONS);
    if (bad !== null) return Promise.reject(bad);
    options ??= NO_OPTIONS;
    return withCallbacks(this.apply(fn, args, withoutCallbacks(options, TASK_OPTIONS)), options);
  }

  /**
   * `fn(item)` for every item, in chunks; resolves the results in order.
   * Rejects with the first task's error (`RemoteError`, `SerializationError`,
   * `WorkerCrashedError`, `TimeoutError`, `AbortError`), or the iterable's own.
   */
  async map<T extends Task<[any], any>>(fn: T, items: Iterable<TaskArgs<T>[0]>, options: MapOptions = {}): Promise<TaskResult<T>[]> {
    const given = mapOptionsOf(options, 'map() options');
    return (await this.#mapChunks(fn, itemsOf(items, 'items'), false, given, Array.isArray(items))) as TaskResult<T>[];
  }

  /** `map`, with Python's callbacks as well as the promise. */
  mapAsync<T extends Task<[any], any>>(fn: T, items: Iterable<TaskArgs<T>[0]>, options: MapOptions & ApplyAsyncOptions<TaskResult<T>[]> = {}): Promise<TaskResult<T>[]> {
    const bad = callbacksError(options, 'mapAsync()', MAP_OPTIONS);
    if (bad !== null) return Promise.reject(bad);
    options ??= NO_OPTIONS;
    return withCallbacks(this.map(fn, items, withoutCallbacks(options, MAP_OPTIONS)), options);
  }

  /** `fn(...args)` for every argument list; resolves the results in order. */
  async starmap<T extends Task>(fn: T, argLists: Iterable<TaskArgs<T>>, options: MapOptions = {}): Promise<TaskResult<T>[]> {
    options = mapOptionsOf(options, 'starmap() options');
    const lists = itemsOf(argLists, 'argLists');
    for (let i = 0; i < lists.length; i++) if (!Array.isArray(lists[i])) throw invalidOption(`argLists[${i}]`, 'an array of the task\'s arguments', lists[i]);
    return (await this.#mapChunks(fn, lists, true, options, Array.isArray(argLists))) as TaskResult<T>[];
  }

  /** `starmap`, with Python's callbacks as well as the promise (Python's `starmap_async`). */
  starmapAsync<T extends Task>(fn: T, argLists: Iterable<TaskArgs<T>>, options: MapOptions & ApplyAsyncOptions<TaskResult<T>[]> = {}): Promise<TaskResult<T>[]> {
    const bad = callbacksError(options, 'starmapAsync()', MAP_OPTIONS);
    if (bad !== null) return Promise.reject(bad);
    options ??= NO_OPTIONS;
    return withCallbacks(this.starmap(fn, argLists, withoutCallbacks(options, MAP_OPTIONS)), options);
  }

  /**
   * Results in order as they are ready, pulling items lazily (a bounded number in flight).
   * A task that fails rejects the `next()` that reaches it (once for its chunk); reading on
   * gives the results after it, as Python's imap does.
   */
  imap<T extends Task<[any], any>>(fn: T, items: Iterable<TaskArgs<T>[0]> | AsyncIterable<TaskArgs<T>[0]>, options: MapOptions = {}): AsyncIterableIterator<TaskResult<T>> {
    this.#check(fn);
    checkIterable(items);
    options = mapOptionsOf(options, 'imap() options');
    return this.#openImap((open) => this.#iterate(fn, items, options, chunksizeOf(options, 1), true, open)) as AsyncIterableIterator<TaskResult<T>>;
  }

  /** Results as they come, in any order, pulling items lazily; a failed task as `imap` has it. */
  imapUnordered<T extends Task<[any], any>>(fn: T, items: Iterable<TaskArgs<T>[0]> | AsyncIterable<TaskArgs<T>[0]>, options: MapOptions = {}): AsyncIterableIterator<TaskResult<T>> {
    this.#check(fn);
    checkIterable(items);
    options = mapOptionsOf(options, 'imapUnordered() options');
    return this.#openImap((open) => this.#iterate(fn, items, options, chunksizeOf(options, 1), false, open)) as AsyncIterableIterator<TaskResult<T>>;
  }

  /**
   * No more tasks are taken; those given run to the end, and then the
   * workers end, as Python's do, whether `join()` is called or not (an imap
   * made before is read to its end first, or left for the collector).
   */
  close(): void {
    if (this.#state !== 'running') return;
    this.#state = 'closed';
    this.#ended.closed = true;
    this.#dropSpareChunks();
    // Its failure is join()'s to report, which shares the stop (see #stopWorkers).
    this.#endWhenDone().catch(() => {});
  }

  /**
   * Waits for the tasks given to finish and the workers to end. Call `close()`
   * (or `terminate()`) first, as Python requires.
   */
  async join(): Promise<void> {
    if (this.#state === 'running') throw new PoolClosedError(`${this.#name} is still running: call close() or terminate() before join().`);
    await this.#settled(false);
    await this.#stopWorkers();
  }

  /**
   * A closed pool's own join, without the caller's: once the tasks given
   * have run, and no imap made before the close is left to read (it may give
   * more), the workers end.
   */
  async #endWhenDone(): Promise<void> {
    if (await this.#settled(true)) await this.#stopWorkers();
  }

  /**
   * Resolves once nothing is queued or running and every worker being started
   * has started (and, `forImaps`, no imap is open); false if terminate() or
   * join() came first (for a closed pool's own join, whose work is then done).
   */
  async #settled(forImaps: boolean): Promise<boolean> {
    for (;;) {
      if (this.#queue.length > 0 || this.#busy()) {
        await new Promise<void>((resolve) => {
          this.#idle.push(resolve);
          this.#maybeIdle(); // what is queued may all be cancelled already
        });
      }
      // As Python's workers, each worker started runs its initializer before it ends: one still being
      // started (its initializer's module still being bundled, its process starting, or its initializer
      // running) is waited for. Python's join() waits alike for an initializer that never returns.
      await this.#startsSettled();
      if (this.#state === 'terminated') return !forImaps;
      if (forImaps && this.#joined) return false;
      if (forImaps && this.#openImaps.size > 0) {
        await new Promise<void>((resolve) => this.#imapsDone.push(resolve));
        continue;
      }
      // An imap read meanwhile may have given the pool work: it runs before the workers go.
      if (this.#queue.length === 0 && !this.#busy()) return true;
    }
  }

  /** Stops the workers, once (join() and a closed pool's #endWhenDone share it). */
  #stopWorkers(): Promise<void> {
    return (this.#stopping ??= (async () => {
      // From here the workers go: an imap's chunks pulled later are refused, not run by a worker nobody would stop.
      this.#joined = true;
      this.#short = false;
      for (const wake of this.#imaps) wake(); // one waiting for its input ends now
      // Nor is a worker that died replaced any more (it may have died with a task that failed, leaving nothing to do).
      this.#cancelRespawns();
      const refs = [...this.#slots].map((s) => s.ref);
      await Promise.all(refs.map((ref) => ref.stop({ timeout: 5000 })));
      node().off('exit', this.#onExit);
    })());
  }

  /**
   * An imap, known to the pool until it has finished or its reader has let
   * it go (`return()`, `throw()`, or it is collected): a closed pool's workers
   * wait for it, as Python's task handler runs an imap's items whether they
   * are read or not.
   */
  #openImap(iterate: (open: object) => AsyncGenerator<unknown>): AsyncIterableIterator<unknown> {
    const open = {};
    this.#openImaps.add(open);
    const imap = raisingFailures(iterate(open), () => this.#imapFinished(open));
    this.#imapsCollected.register(imap, open);
    return imap;
  }

  #imapFinished(open: object): void {
    if (this.#openImaps.delete(open) && this.#openImaps.size === 0) for (const wake of this.#imapsDone.splice(0)) wake();
  }

  /**
   * Resolves once the workers being started have started, or could not
   * (terminate() ends the wait). Once: a worker that died in its initializer
   * is not waited for again in its replacement, which join() does not let start.
   */
  async #startsSettled(): Promise<void> {
    const bundle = this.#initBundle;
    if (bundle !== null) {
      await bundle.catch(() => {});
      // A turn, for the bundle just built to spawn its worker.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    // A task gave up waiting for a worker to start (an initializer stuck, say): join() does not wait either.
    if (this.#startTimedOut) return;
    const starting = [...this.#slots].filter((s) => !s.started && s.ref.exitCode === null && !s.endedByPool);
    await Promise.all(starting.map((s) => s.startedOrNot));
  }

  /** Ends the workers now; tasks not finished reject with `PoolClosedError`. */
  async terminate(): Promise<void> {
    this.#state = 'terminated';
    this.#ended.closed = true;
    this.#dropSpareChunks();
    this.#short = false;
    this.#cancelRespawns();
    for (const pending of this.#waitingForStart) clearTimeout(pending.startWait);
    this.#waitingForStart.clear();
    for (const pending of this.#queue.drain()) pending.reject(new PoolClosedError(`${this.#name} was terminated before this task ran.`));
    for (const wake of this.#imaps) wake(); // one waiting for its input ends now, with PoolClosedError
    const refs = [...this.#slots].map((s) => {
      s.endedByPool = true;
      s.ref.kill();
      return s.ref;
    });
    await Promise.all(refs.map((ref) => ref.join()));
    node().off('exit', this.#onExit);
    this.#maybeIdle(); // terminated, so not busy: lets the program go, and the join() calls waiting
  }

  /**
   * A packed chunk of `n` numbers that came back (see #recycle), if one is
   * kept: a map of 100,000 numbers packs eight chunks of 100 KB, and fresh
   * memory for them each time cost more than packing them (the kernel's page
   * faults, until the collector frees the last map's).
   */
  #spareChunk(n: number): Float64Array | null {
    const spares = this.#spareChunks;
    for (let i = spares.length - 1; i >= 0; i--) {
      if (spares[i]!.length !== n) continue;
      const spare = spares[i]!;
      spares.splice(i, 1);
      this.#spareBytes -= spare.byteLength;
      return spare;
    }
    return null;
  }

  /** Keeps a packed chunk the pool made, once its answer is in, for the next map's: up to SPARE_CHUNK_BYTES. */
  #recycle(chunk: Float64Array): void {
    if (chunk.byteLength < SPARE_CHUNK_MIN_BYTES || this.#spareBytes + chunk.byteLength > SPARE_CHUNK_BYTES || this.#state !== 'running') return;
    this.#spareChunks.push(chunk);
    this.#spareBytes += chunk.byteLength;
  }

  /** No map will pack into them: closed, the pool takes no more. */
  #dropSpareChunks(): void {
    this.#spareChunks.length = 0;
    this.#spareBytes = 0;
  }

  #cancelRespawns(): void {
    for (const timer of this.#respawns) clearTimeout(timer);
    this.#starting -= this.#respawns.size;
    this.#respawns.clear();
  }

  /** `await using pool = new Pool()` closes the pool and waits for its tasks and workers. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#state === 'running') this.close();
    await this.join();
  }

  // ---- the core ------------------------------------------------------------

  /** `borrowed`: `items` is the caller's own array, which the caller may change once map() has returned. */
  #mapChunks(fn: Task, items: unknown[], star: boolean, options: MapOptions, borrowed: boolean): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      this.#check(fn);
      if (items.length === 0) return resolve([]);
      const size = chunksizeOf(options, autoChunksize(items.length, this.size));
      // Made as the first results land: a list of doubles from the start when they are numbers (one
      // allocation of 8 bytes an item, where a list made empty is made again as its first double lands).
      let out: unknown[] | null = null;
      // Chunks go to the queue a window at a time, more as results come: 20,000 one-item
      // chunks queued at once would be 20,000 live task records for the collector to copy.
      const window = this.size * (this.#oneAtATime ? 1 : MAX_AHEAD) * 2;
      // Chunks cut after this call returns are cut from a copy: the caller may change its array.
      // All of them are cut within it when they fit the window (the usual automatic chunksize):
      // then the array is not copied, which made a 100,000-task map about a tenth faster.
      if (borrowed && Math.ceil(items.length / size) > window) items = items.slice();
      // Its length as the call found it: the caller may change a borrowed array's once the call returns.
      const total = items.length;
      let sent = 0;
      let done = 0;
      let inflight = 0;
      let failed = false;
      // The chunks listen to the caller's signal through one listener of ours (see ChunkSignal).
      const chunkSignal = new ChunkSignal(options.signal);
      const chunkOptions = chunkSignal.options(options);
      // After a failure the caller may still abort to drop the chunks queued: the relay stays
      // until the last chunk in flight has settled.
      const fail = (error: Error): void => {
        if (!failed) reject(error);
        failed = true;
        if (inflight === 0) chunkSignal.detach();
      };
      const landed = (at: number, results: ArrayLike<unknown>): void => {
        inflight--;
        if (failed) {
          if (inflight === 0) chunkSignal.detach();
          return;
        }
        out ??= results instanceof Float64Array ? doubles(total) : new Array(total);
        // Straight into place: concatenating the chunks' arrays afterwards costs more than the tasks, for tiny ones.
        for (let j = 0; j < results.length; j++) out[at + j] = results[j];
        done += results.length;
        try {
          options.onProgress?.(done, total);
        } catch (err) {
          return fail(err as Error); // the caller's callback: its error is the map's, not the pool's
        }
        if (done === total) {
          chunkSignal.detach();
          resolve(out);
        } else feed();
      };
      const chunkFailed = (error: Error): void => {
        inflight--;
        fail(error);
      };
      const feed = (): void => {
        while (!failed && inflight < window && sent < total) {
          const at = sent;
          const end = Math.min(at + size, total);
          // Argument lists as they are; single arguments packed here, from the items (see packNumbers).
          // A slice when not packed, even of the whole array: the caller's own may change once map() returns.
          const spare = star ? null : this.#spareChunk(end - at);
          const packed = star ? null : packNumbers(items, at, end, spare);
          if (spare !== null && packed !== spare) this.#recycle(spare);
          const chunk = packed ?? items.slice(at, end);
          sent = end;
          inflight++;
          this.#enqueue(
            fn,
            chunk,
            star,
            chunkOptions,
            (results) => {
              landed(at, results);
              // Its answer came, so every byte of it was written: its memory may hold the next chunk.
              if (packed !== null) this.#recycle(packed);
            },
            chunkFailed,
            true,
          );
        }
      };
      feed();
    });
  }

  /**
   * Checked by the caller: taken before a close() that comes later, its chunks all run.
   * The input is read by a puller of its own, so that results come as they are ready even
   * while a slow asynchronous input is being waited for.
   */
  async *#iterate(fn: Task, items: Iterable<unknown> | AsyncIterable<unknown>, options: MapOptions, size: number, ordered: boolean, open: object): AsyncGenerator<unknown> {
    const window = this.size * (this.#oneAtATime ? 1 : MAX_AHEAD) * 2;
    const iterator = typeof (items as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function' ? (items as AsyncIterable<unknown>)[Symbol.asyncIterator]() : (items as Iterable<unknown>)[Symbol.iterator]();
    type Outcome = { ok: true; results: ArrayLike<unknown> } | { ok: false; error: unknown };
    // Chunks sent and not yet yielded, by number; and the numbers of those settled, in the order they settled.
    const inflight = new Map<number, Outcome | null>();
    const settledOrder: number[] = [];
    let wake: (() => void) | null = null;
    const poke = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };
    /** The puller waits here while the window is full, or while a failed chunk is handed out. */
    let room: (() => void) | null = null;
    /** A failed chunk is handed out and the imap not read since: the input is not read further. */
    let holding = false;
    let exhausted = false;
    /** The input said it was done, or threw: it is not closed with return() then. */
    let inputEnded = false;
    let stopped = false;
    // The chunks listen to the caller's signal through one listener of ours (see ChunkSignal).
    const chunkSignal = new ChunkSignal(options.signal);
    const chunkOptions = chunkSignal.options(options);
    const unsettled = (): boolean => {
      for (const outcome of inflight.values()) if (outcome === null) return true;
      return false;
    };
    // The input's own error: raised where its item would have been, after the results of the items before it (as Python's imap).
    let inputFailed: { error: unknown } | null = null;
    let nextId = 0;
    let nextOrdered = 0;
    // Progress: items finished (a failed chunk's too) of the input's length when it has one (an
    // array), else of the items read from it so far, which is its length once it has ended.
    const onProgress = options.onProgress;
    const length = Array.isArray(items) ? items.length : null;
    let read = 0;
    let finished = 0;
    // The callback's error: the caller's, raised by the next next() (as a map rejects with it).
    let progressFailed: { error: unknown } | null = null;
    const settle = (id: number, outcome: Outcome, count: number): void => {
      inflight.set(id, outcome);
      if (!ordered) settledOrder.push(id);
      if (holding && !unsettled()) chunkSignal.detach();
      if (onProgress !== undefined && progressFailed === null && !stopped) {
        finished += count;
        try {
          onProgress(finished, length ?? read);
        } catch (error) {
          progressFailed = { error };
        }
      }
      poke();
    };
    const send = (chunk: unknown[]): void => {
      const id = nextId++;
      inflight.set(id, null);
      this.#enqueue(
        fn,
        chunk,
        false,
        chunkOptions,
        (results) => settle(id, { ok: true, results }, chunk.length),
        (error) => settle(id, { ok: false, error }, chunk.length),
        true,
      );
    };
    const pull = async (): Promise<void> => {
      try {
        while (!stopped) {
          if (inflight.size >= window || holding) {
            await new Promise<void>((resolve) => (room = resolve));
            continue;
          }
          const chunk: unknown[] = [];
          while (chunk.length < size) {
            let step: IteratorResult<unknown>;
            try {
              // A plain iterable's items are taken without a turn of the microtask queue each.
              const pulled: unknown = iterator.next();
              step = (isObject(pulled) && typeof (pulled as PromiseLike<unknown>).then === 'function' ? await pulled : pulled) as IteratorResult<unknown>;
              // As for…of and for await…of: a result that is no object is the iterator's fault, not an endless input.
              if (!isObject(step)) throw new TypeError(`Iterator result ${String(step)} is not an object`);
            } catch (error) {
              // The chunk it broke is dropped, as Python drops it.
              inputFailed = { error };
              inputEnded = true;
              return;
            }
            if (step.done) {
              inputEnded = true;
              if (chunk.length > 0 && !stopped) send(chunk);
              return;
            }
            chunk.push(step.value);
            read++;
          }
          if (!stopped) send(chunk);
        }
      } finally {
        exhausted = true;
        poke();
      }
    };
    void pull();
    const signal = options.signal;
    const aborted = (): AbortError => new AbortError(`An imap of ${this.#name} was aborted.`, { cause: signal?.reason });
    signal?.addEventListener('abort', poke);
    try {
      for (;;) {
        // The next chunk to yield: the oldest sent (ordered), or the first settled (unordered).
        let id: number | undefined;
        // Aborted: the next read rejects, whatever results are in already (as a stream's iterator does).
        if (signal?.aborted) throw aborted();
        for (;;) {
          if (progressFailed !== null) throw (progressFailed as { error: unknown }).error;
          id = ordered ? (inflight.get(nextOrdered) != null ? nextOrdered : undefined) : settledOrder.shift();
          if (id !== undefined || (exhausted && inflight.size === 0)) break;
          // Waiting on the input, with nothing sent to wait for: the signal still ends it, and so do
          // terminate() and join() (they wake it), whose pool will run nothing more for it.
          if (signal?.aborted) throw aborted();
          const ended = this.#imapEnded();
          if (ended !== null) throw ended;
          // Known to the pool only while it waits: one put down half-read is not kept for the pool's life.
          this.#imaps.add(poke);
          try {
            await new Promise<void>((resolve) => (wake = resolve));
          } finally {
            this.#imaps.delete(poke);
          }
        }
        if (id === undefined) break;
        const outcome = inflight.get(id)!;
        inflight.delete(id);
        if (ordered) nextOrdered++;
        // A chunk refused because the pool was terminated or joined ends the imap: nothing after it can run.
        if (!outcome.ok && outcome.error instanceof PoolClosedError) throw outcome.error;
        // So does one dropped for the caller's abort: the imap ends with that one AbortError, not one per chunk.
        if (!outcome.ok && outcome.error instanceof AbortError && signal?.aborted) throw outcome.error;
        // A failed chunk is raised by the next() that reaches it; the input is read on only if the
        // imap is read on: a loop that the error ended (for await calls no return() then) leaves the
        // input where it was, and the caller's signal without a listener of ours.
        if (!outcome.ok) {
          holding = true;
          signal?.removeEventListener('abort', poke);
          if (!unsettled()) chunkSignal.detach();
          yield new Failed(outcome.error);
          holding = false;
          signal?.addEventListener('abort', poke);
          chunkSignal.attach();
          if (signal?.aborted) throw aborted();
        }
        const r = room as (() => void) | null;
        room = null;
        r?.();
        if (outcome.ok) {
          for (let i = 0; i < outcome.results.length; i++) {
            // Aborted while its chunk is read: the rest of the chunk is not given either.
            if (i > 0 && signal?.aborted) throw aborted();
            yield outcome.results[i];
          }
        }
      }
      if (inputFailed !== null) throw (inputFailed as { error: unknown }).error;
    } finally {
      stopped = true;
      const r = room as (() => void) | null;
      room = null;
      r?.();
      signal?.removeEventListener('abort', poke);
      chunkSignal.detach();
      // Left before its end (a loop's break, an abort, the pool ended): the input is closed, as
      // for-of closes what it reads, so that a generator's finally runs and its resources go.
      if (!inputEnded) closeIterator(iterator);
      this.#imapFinished(open);
    }
  }

  #joinedError(): PoolClosedError {
    return new PoolClosedError(`${this.#name} was joined before these items were taken: join() waits for the tasks sent, and an imap sends its items as it is read. Read the imap to its end before join().`);
  }

  /** Why an imap of this pool can go no further, if it cannot. */
  #imapEnded(): PoolClosedError | null {
    if (this.#state === 'terminated') return new PoolClosedError(`${this.#name} was terminated while an imap of it was read: the items not yet run were dropped.`);
    return this.#joined ? this.#joinedError() : null;
  }

  #check(fn: unknown): void {
    if (this.#state !== 'running') throw new PoolClosedError(`${this.#name} is ${this.#state}: it takes no more tasks.`);
    if (!isTask(fn)) throw invalidOption('fn', 'a task made with task(fn), exported from a module (`export const square = task((x: number) => x * x)`)', fn);
  }

  /** Queues a chunk of `fn`; `resolve` gets its results (a Float64Array when they were all numbers). */
  #enqueue(
    fn: Task,
    items: readonly unknown[] | Float64Array,
    star: boolean,
    options: TaskOptions,
    resolve: (results: ArrayLike<unknown>) => void,
    reject: (error: Error) => void,
    /** A later chunk of a map or imap already taken: it runs after close() too, as Python's do. */
    continuing = false,
  ): void {
    try {
      if (!continuing) this.#check(fn);
      else if (this.#state === 'terminated') throw new PoolClosedError(`${this.#name} was terminated before this task ran.`);
      else if (this.#joined) throw this.#joinedError();
    } catch (err) {
      return reject(err as Error);
    }
    const { timeout, signal } = options;
    if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) {
      return reject(invalidOption('timeout', 'a positive number of milliseconds', timeout));
    }
    // Single arguments (map, imap, imapUnordered) that are all numbers travel packed; argument lists as they are.
    const chunk = star || items instanceof Float64Array ? items : (packNumbers(items) ?? items);
    const known = this.#known(fn);
    // Its module's bundle from now on, so that it is ready by the time a worker has started.
    if (known.bundle === null) void this.#bundle(known, fn);
    if (signal === undefined) {
      // Settled once: by its worker's answer, its failure, or terminate().
      const pending: Pending = { task: fn, known, chunk, star, timeout, resolve, reject, cancelled: false, abortable: false, token: 0, sentTo: null, startWait: undefined };
      this.#queue.push(pending);
      if (timeout !== undefined && !this.#anyStarted()) this.#timeStartWait(pending);
      this.#pump();
      return;
    }
    // With a signal, an abort may come before the worker answers: whichever comes first settles it,
    // and the listener goes with it (a long-lived signal does not gather one per chunk).
    let settled = false;
    const onAbort = (): void => {
      if (pending.startWait !== undefined) this.#untimeStartWait(pending);
      pending.cancelled = true; // left in the queue, skipped when its turn comes
      pending.reject(new AbortError(`A task of ${this.#name} was aborted.`, { cause: signal.reason }));
      this.#cancel(pending);
      this.#maybeIdle();
    };
    const once =
      <A>(settle: (a: A) => void) =>
      (a: A): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        settle(a);
      };
    const pending: Pending = { task: fn, known, chunk, star, timeout, resolve: once(resolve), reject: once(reject), cancelled: false, abortable: true, token: 0, sentTo: null, startWait: undefined };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    this.#queue.push(pending);
    if (timeout !== undefined && !this.#anyStarted()) this.#timeStartWait(pending);
    this.#pump();
  }

  /** Hands each queued task to the least busy worker, so that a few tasks spread over all of them. */
  #pump(): void {
    // The program is stopping its actors (see #trySpawnWorker): workers being stopped are sent nothing
    // more to run first, and what waits fails.
    if (node().stopping) {
      if (this.#queue.length > 0) this.#failWaiting(this.#stoppingError());
      return;
    }
    // Work left and no worker to do it (the last one ended after a close): one more, or it would wait forever.
    if (this.#queue.length > 0 && this.#state !== 'terminated' && this.#starting === 0 && !this.#anyWorking()) this.#addWorker();
    // Read once, when first needed: this runs for every answer of a stream of tiny tasks.
    let now = -1;
    while (this.#queue.length > 0) {
      // A task with a timeout goes to an idle worker only: its time runs from when it is sent, and
      // it must not run out while the task waits behind others in a worker (nor its worker be killed
      // for it, with the task that worker was running).
      const head = this.#queue.peek()!;
      const idleOnly = head.timeout !== undefined;
      let best: Slot | undefined;
      for (const slot of this.#slots) {
        if (!slot.started || slot.inflight >= (slot.answered.has(head.known.key) ? slot.window : 1) || slot.endedByPool || slot.ref.exitCode !== null) continue;
        // Holding jobs, it is sent more only if the task may wait behind them, and while it shows progress.
        if (slot.inflight > 0) {
          if (idleOnly) continue;
          if (now < 0) now = performance.now();
          if (now - Math.max(slot.lastDone, slot.busySince) >= LONG_MS) continue;
        }
        if (this.#maxTasks !== null && slot.sentJobs >= this.#maxTasks) continue; // it is about to end
        if (best === undefined || slot.inflight < best.inflight) best = slot;
      }
      best ??= this.#ahead(head);
      if (best === undefined) break;
      const pending = this.#queue.shift()!;
      if (pending.startWait !== undefined) this.#untimeStartWait(pending);
      if (!pending.cancelled) this.#run(best, pending);
    }
    if (this.#short) this.#startNeeded();
    this.#maybeIdle();
  }

  /** Starts a worker for each queued task that no worker up or starting is free to take, up to `size`. */
  #startNeeded(): void {
    if (this.#state === 'terminated' || this.#joined) return;
    // Tasks already in a worker's pipe stay there: only the queue asks for workers.
    let need = this.#queue.length - this.#starting;
    for (const slot of this.#slots) if (!slot.endedByPool && slot.ref.exitCode === null && slot.inflight === 0) need--;
    for (let missing = this.#missing(); need > 0 && missing > 0; need--, missing--) this.#addWorker();
  }

  /** What a crash message says of the dead worker's place: a pool that is ending starts no other. */
  #replacing(): string {
    const ending = this.#state === 'terminated' || this.#joined || node().stopping || (this.#state === 'closed' && this.#queue.length === 0);
    return ending ? `${this.#name} is ending, and starts no other` : 'It is replaced';
  }

  /** How many workers the pool lacks: `size` less those up or starting (a worker killed by the pool counts until it has ended, when it is replaced). */
  #missing(): number {
    let have = this.#starting;
    for (const slot of this.#slots) if (slot.ref.exitCode === null) have++;
    return Math.max(0, this.size - have);
  }

  /**
   * Starts the workers the pool lacks (see #short) once a worker has
   * answered, or is up with nothing to do, or has died: in a later turn, so
   * that the caller awaiting that answer has it before the forks take the
   * process's time.
   */
  #fillSoon(): void {
    if (!this.#short || this.#fillScheduled) return;
    this.#fillScheduled = true;
    setImmediate(() => {
      this.#fillScheduled = false;
      // Terminated or joined, or closed with nothing left to run: it needs no more workers.
      if (this.#state === 'terminated' || this.#joined || (this.#state === 'closed' && this.#queue.length === 0)) return;
      this.#short = false; // unless a start below fails (see #failWaiting)
      for (let missing = this.#missing(); missing > 0; missing--) this.#addWorker();
      this.#pump();
    });
  }

  /**
   * While no worker has started, the first task goes ahead to the first
   * worker still starting: it is in that worker's pipe when the worker is
   * ready, rather than sent once the pool has heard so (a round trip, several
   * ms while workers start on a busy machine). One task only, so that a worker
   * slow to start holds no more, though that one it holds until it is ready
   * or dead. None with an initializer (which may take any time, or never
   * end), nor a timed task (its time runs from when it is sent), nor one with
   * a signal (a worker runs what it was sent: an abort must find it unsent).
   */
  #ahead(head: Pending): Slot | undefined {
    if (head.timeout !== undefined || head.abortable || this.#initializer !== null || this.#anyStarted()) return undefined;
    let first: Slot | undefined;
    for (const slot of this.#slots) {
      if (slot.ready || slot.endedByPool || slot.ref.exitCode !== null) continue;
      // One went ahead already (on its way: waiting for its module's bundle; or its answer may even be
      // in, ahead of the news that its worker is ready).
      if (slot.inflight > 0 || slot.sentJobs > 0) return undefined;
      first ??= slot;
    }
    return first;
  }

  /**
   * A task aborted after its job went to a worker, which has not answered: the
   * worker drops it if it has not started it when the cancel reaches it (before
   * a job with a token, a worker takes the cancels in its mailbox, and reads its
   * pipe at least once a millisecond of work: see worker.ts). Its caller has
   * its AbortError already.
   */
  #cancel(pending: Pending): void {
    const slot = pending.sentTo;
    if (slot === null || slot.ref.exitCode !== null) return;
    slot.ref.send({ key: CANCEL_KEY, chunk: [], star: false, c: pending.token });
  }

  #run(slot: Slot, pending: Pending): void {
    if (slot.inflight === 0) slot.busySince = performance.now();
    slot.inflight++;
    const known = pending.known;
    if (slot.sent.has(known.key)) {
      const job: Job = { key: known.key, chunk: pending.chunk, star: pending.star };
      this.#send(slot, pending, pending.abortable ? { ...job, c: (pending.token = ++slot.tokens) } : job);
      return;
    }
    // Until a job carrying the task and its module's bundle has gone to this worker, every job
    // carries them: they wait for the same bundle, so they go in the order they came.
    const building = this.#bundle(known, pending.task);
    building.then(
      (bundle) => {
        // Aborted while its bundle was awaited: it was never sent, and is not.
        if (pending.cancelled) {
          this.#handedBack(slot);
          return this.#pump();
        }
        const job: Job = { key: known.key, task: pending.task, bundle, chunk: pending.chunk, star: pending.star };
        if (pending.abortable) job.c = pending.token = ++slot.tokens;
        // Encoded first, and sent as encoded: a job whose items cannot cross is never sent, and must
        // not count as the one that gave this worker the task (later jobs would name it by key alone).
        let encoded: Encoded;
        try {
          encoded = encode(job, 'message');
        } catch (err) {
          return this.#done(slot, pending, false, err instanceof SerializationError ? renamedPath(err, pending.star) : err);
        }
        slot.sent.add(known.key);
        if (pending.timeout !== undefined && !slot.answered.has(known.key) && !slot.loaded.has(known.key)) {
          this.#loadThenSend(slot, pending, { key: known.key, task: pending.task, bundle, chunk: [], star: pending.star }, encoded);
        } else this.#send(slot, pending, encoded);
      },
      (err: unknown) => {
        // A module that failed to build is built again for the next task (it may have been fixed).
        if (known.bundle === building) known.bundle = null;
        this.#done(slot, pending, false, err);
      },
    );
  }

  /**
   * A timed task's first job in a worker: the worker loads its module first
   * (a job of no items: it runs nothing, and ends no worker under
   * maxTasksPerChild), then the job is sent, its time its own.
   */
  #loadThenSend(slot: Slot, pending: Pending, load: Job, encoded: Encoded): void {
    const budget = Math.max(pending.timeout!, LOAD_MS);
    slot.ref.call(load, { timeout: budget }).then(
      () => {
        slot.loaded.add(load.key);
        // Aborted while its module loaded: it was never sent, and is not.
        if (pending.cancelled) {
          this.#handedBack(slot);
          return this.#pump();
        }
        this.#send(slot, pending, encoded);
      },
      (err: unknown) => {
        if (err instanceof TimeoutError) loadTimeouts.add(err);
        this.#done(slot, pending, false, err);
      },
    );
  }

  /** Sends a job (`Encoded`: encoded already, see #run). */
  #send(slot: Slot, pending: Pending, job: Job | Encoded): void {
    slot.sentJobs++;
    pending.sentTo = slot;
    // A job sent ahead, before the worker was ready, tells nothing of its pace.
    if (slot.inflight === 1 && slot.ready) {
      slot.lone = pending;
      slot.loneSent = performance.now();
    }
    const timeout = pending.timeout ?? Infinity;
    const call = 'payload' in job ? node().callEncoded(slot.ref, job, timeout, undefined) : slot.ref.call(job, { timeout });
    call.then(
      (results) => this.#done(slot, pending, true, results),
      (err: unknown) => {
        // Its items could not be encoded: it never went, and the worker counts no job for it.
        if (err instanceof SerializationError) {
          slot.sentJobs--;
          err = renamedPath(err, pending.star);
        }
        this.#done(slot, pending, false, err);
      },
    );
  }

  /** A job came back (`ok`, with its results) or failed: settle it, and hand the worker more. */
  #done(slot: Slot, pending: Pending, ok: boolean, outcome: unknown): void {
    pending.sentTo = null;
    if (ok) pending.resolve(outcome as ArrayLike<unknown>);
    else this.#failed(slot, pending, outcome);
    // A job its worker dropped for its cancel (no chunk is empty) says nothing of the worker's pace.
    if (ok && pending.cancelled && (outcome as ArrayLike<unknown>).length === 0) {
      if (slot.lone === pending) slot.lone = null;
    } else this.#paced(slot, pending);
    this.#handedBack(slot);
    this.#pump();
    this.#fillSoon();
  }

  /** A job of `slot` is no longer in flight; a worker gone with none left is forgotten. */
  #handedBack(slot: Slot): void {
    slot.inflight--;
    if (slot.inflight === 0 && slot.ref.exitCode !== null) this.#slots.delete(slot);
  }

  /** A job of `slot` came back: learn how fast it works, and size its window to about AHEAD_MS of that. */
  #paced(slot: Slot, pending: Pending): void {
    const now = performance.now();
    // A job sent alone: its round trip, which bounds its work from above. Jobs back to back: the time between them.
    let gap = 0;
    if (pending === slot.lone) {
      gap = now - slot.loneSent;
      slot.lone = null;
    } else if (slot.lastDone > 0) gap = now - slot.lastDone;
    // The first answer of a task (sent alone: see #pump) is its pace, whatever the tasks before it took.
    const first = !slot.answered.has(pending.known.key);
    slot.answered.add(pending.known.key);
    if (gap > 0) slot.pace = slot.pace === 0 || first ? gap : slot.pace * 0.8 + gap * 0.2;
    slot.lastDone = now;
    if (this.#oneAtATime) return;
    slot.window = slot.pace === 0 || slot.pace >= LONG_MS ? 1 : Math.min(MAX_AHEAD, Math.max(MIN_AHEAD, Math.ceil(AHEAD_MS / slot.pace)));
  }

  #failed(slot: Slot, pending: Pending, err: unknown): void {
    // The worker's own failure to send the results (or to take the job): said as the caller's value's. A
    // SerializationError the task threw (sending something elsewhere) is the task's failure, below.
    if (err instanceof RemoteError && err.cause instanceof SerializationError && (err.cause.path === undefined || WORKER_PATH.test(err.cause.path))) return pending.reject(renamedPath(err.cause, pending.star));
    if (err instanceof RemoteError) {
      // Said as a task's failure, not as the worker's failure to answer a call (which is how it travels).
      // "Failed", not "threw": the error may be its worker's initializer's, or its module's as it loaded.
      const cause = err.cause as { message?: unknown } | undefined;
      return pending.reject(
        new RemoteError(`${pending.task.name ? `Task ${pending.task.name}` : 'A task'} failed in ${slot.ref.name} of ${this.#name}: ${err.remoteName ? `${err.remoteName}: ` : ''}${String(cause?.message ?? '')}`, {
          actorId: err.actorId,
          remoteName: err.remoteName,
          remoteStack: err.remoteStack,
          cause: err.cause,
        }),
      );
    }
    if (err instanceof TimeoutError) {
      // The worker may be stuck in it: replace it. Its other tasks go back in the queue.
      slot.endedByPool = true;
      slot.ref.kill();
      if (loadTimeouts.has(err)) {
        return pending.reject(
          new TimeoutError(
            `The module of ${pending.task.name ? `task ${pending.task.name}` : 'a task'} did not load within ${err.timeoutMs} ms in ${slot.ref.name} of ${this.#name}; the worker was killed (it may be stuck importing it) and is replaced. A timed task's own time starts once its module has loaded.`,
            err.timeoutMs,
            { cause: err },
          ),
        );
      }
      return pending.reject(
        new TimeoutError(
          `A task of ${this.#name} ran past its timeout of ${err.timeoutMs} ms; its worker ${slot.ref.name} was killed (it may have been stuck in it) and is replaced. Raise \`timeout\` if the task takes longer.`,
          err.timeoutMs,
          { cause: err },
        ),
      );
    }
    if (err instanceof ActorExitedError) {
      if (this.#state === 'terminated') return pending.reject(new PoolClosedError(`${this.#name} was terminated while this task ran.`));
      // Ended by the pool (a sibling task's timeout, the one it was running): its other tasks had not
      // started, and go back in the queue. Any other end, an exit with code 0 included (a task that
      // called process.exit(0)), fails the tasks it held: one may have run, and held its answer for a
      // batched write, so none is run again. (A worker that ends after maxTasksPerChild is sent no more.)
      // Sent ahead to a worker that died before it was ready (see #ahead): it never ran. When workers
      // of this pool do start it goes back in the queue; if none ever has, it fails as the oldest task
      // does when a worker dies while it starts (see #diedStarting).
      // Sent to a worker that was up but died before it took the job (a worker acknowledges each job
      // it takes, before it runs it: see Node.taken), killed while idle say: it never ran either.
      if (slot.endedByPool || (!slot.ready && this.#everStarted) || (slot.ready && neverTaken(err))) {
        this.#queue.unshift(pending);
        if (pending.timeout !== undefined && !this.#anyStarted()) this.#timeStartWait(pending);
        return;
      }
      const code = slot.ref.exitCode;
      if (!slot.ready) return pending.reject(this.#diedStartingError(slot));
      return pending.reject(
        new WorkerCrashedError(
          `Worker ${slot.ref.name} of ${this.#name} died while it ran this task (exit code ${code}${slot.ref.error ? `: ${slot.ref.error.message}` : ''}). ${this.#replacing()}; run the task again if it is safe to.`,
          slot.ref.id,
          code,
          { cause: err },
        ),
      );
    }
    pending.reject(err instanceof Error ? err : new Error(String(err)));
  }

  /**
   * The bundle of a task's module, for the workers that have not loaded it:
   * built (or found in the cache) once, from when the task is first given,
   * so that it is ready by the time a worker has started.
   */
  #bundle(known: KnownTask, t: Task): Promise<string | null> {
    if (known.bundle === null) {
      known.bundle = taskBundle(t);
      known.bundle.catch(() => {}); // its jobs fail with it (see #run)
    }
    return known.bundle;
  }

  /**
   * Times a queued task with a timeout while no worker has started: its
   * timeout counts from when it runs, but a worker that never starts (an
   * initializer that hangs) must not hold it for ever. Python's pool waits.
   * Only with an initializer: without one, a worker is up as soon as its
   * process is, and one that cannot start fails a task by itself (see
   * #diedStarting); the gap while a worker of `maxTasksPerChild` is replaced
   * is routine, and tasks queued across it must not fail for it.
   */
  #timeStartWait(pending: Pending): void {
    if (this.#initializer === null) return;
    const ms = pending.timeout!;
    if (pending.startWait !== undefined || pending.cancelled || isForever(ms)) return;
    pending.startWait = setTimeout(() => {
      pending.startWait = undefined;
      this.#waitingForStart.delete(pending);
      pending.cancelled = true; // skipped when its turn comes
      this.#startTimedOut = true;
      pending.reject(new TimeoutError(`A task of ${this.#name} waited ${ms} ms for a worker, and none started in that time (a worker starts taking tasks once its initializer has returned).`, ms));
      this.#maybeIdle();
    }, ms);
    this.#waitingForStart.add(pending);
  }

  #untimeStartWait(pending: Pending): void {
    clearTimeout(pending.startWait);
    pending.startWait = undefined;
    this.#waitingForStart.delete(pending);
  }

  #known(t: Task): KnownTask {
    let known = this.#taskObjects.get(t);
    if (known !== undefined) return known;
    const id = `${t.module}#${t.ordinal}`;
    known = this.#tasks.get(id);
    if (known === undefined) {
      known = { key: this.#tasks.size + 1, bundle: null };
      this.#tasks.set(id, known);
    }
    this.#taskObjects.set(t, known);
    return known;
  }

  /** Whether some worker has started (see Slot.started) and not ended. */
  #anyStarted(): boolean {
    for (const slot of this.#slots) if (slot.started) return true;
    return false;
  }

  /** Whether a worker is up (or starting) that the pool has not ended. */
  #anyWorking(): boolean {
    for (const s of this.#slots) if (!s.endedByPool && s.ref.exitCode === null) return true;
    return false;
  }

  #addWorker(): void {
    const initializer = this.#initializer;
    if (initializer === null) {
      this.#trySpawnWorker(null);
      return;
    }
    // The initializer's module is bundled once, before the first worker needs it.
    const building = (this.#initBundle ??= taskBundle(initializer));
    this.#starting++;
    building.then(
      (bundle) => {
        this.#starting--;
        // Terminated, or joined (join() stopped the workers it found): none starts after.
        if (this.#state === 'terminated' || this.#joined) return;
        if (!this.#trySpawnWorker(bundle)) return;
        this.#pump();
      },
      (err: unknown) => {
        this.#starting--;
        // Built again for the next task: the module may have been fixed meanwhile.
        if (this.#initBundle === building) this.#initBundle = null;
        if (this.#state !== 'terminated') this.#failWaiting(err as Error);
      },
    );
  }

  /**
   * Spawns a worker; if it cannot be (initArgs changed since the pool was made
   * into something that cannot be sent), the tasks waiting fail with why, and
   * the next task tries again.
   */
  #trySpawnWorker(initBundle: string | null): boolean {
    // Ctrl-C, say: the program stops its actors, these workers among them. One started now would take
    // tasks the stop then waits for (to its budget, for a task busy in synchronous code).
    if (node().stopping) {
      this.#failWaiting(this.#stoppingError());
      return false;
    }
    try {
      this.#spawnWorker(initBundle);
      return true;
    } catch (thrown) {
      // The worker's arguments are [initializer, its bundle, initArgs, maxTasksPerChild].
      this.#failWaiting(thrown instanceof SerializationError && thrown.path.startsWith('args[2]') ? renamedInitArgs(thrown) : (thrown as Error));
      return false;
    }
  }

  #stoppingError(): PoolClosedError {
    return new PoolClosedError(`${this.#name} runs nothing more: the program (or the actor that owns the pool) is stopping its actors, its workers among them.`);
  }

  /** No worker can be started (why: `err`): the tasks waiting fail with it; the next task tries again. */
  #failWaiting(err: Error): void {
    // Started again later: at the next task (see #pump), or answer (see #fillSoon).
    if (this.#state !== 'terminated' && !this.#joined) this.#short = true;
    for (const pending of this.#queue.drain()) {
      if (pending.startWait !== undefined) this.#untimeStartWait(pending);
      pending.reject(err);
    }
    this.#maybeIdle();
  }

  #spawnWorker(initBundle: string | null): void {
    const ref = spawn(poolWorker, {
      args: [this.#initializer, initBundle, [...this.#initArgs], this.#maxTasks],
      name: `PoolWorker-${this.#name.slice(5)}:${++this.#workerCount}`,
      shutdown: 5000,
      // As Python's pool workers: a program that ends without join() or terminate() is not kept
      // waiting for them (they are ended at its exit); its tasks keep it alive while they run.
      daemon: true,
    });
    // Jobs go to a worker once it has started (its initializer run), not ahead to
    // one still starting: they would wait there while a started worker is free
    // (the one exception is the first task, while no worker has started: #ahead).
    // Sent now, the question waits in the worker's pipe and is answered as it starts.
    // With no initializer a worker takes jobs as soon as it is ready: that is
    // when it started, and a question would cost a round trip before its first task.
    const started = this.#initializer === null ? ref.ready : ref.call(STARTED, FOREVER);
    const startedOrNot = started.then(
      () => {},
      () => {},
    );
    this.#workers.add(ref);
    const slot: Slot = { ref, started: false, ready: false, inflight: 0, window: 1, answered: new Set(), lastDone: 0, busySince: 0, pace: 0, lone: null, loneSent: 0, endedByPool: false, sent: new Set(), loaded: new Set(), sentJobs: 0, tokens: 0, startedOrNot };
    this.#slots.add(slot);
    ref.ready.then(
      () => (slot.ready = true),
      () => {},
    );
    started.then(
      () => {
        if (slot.ref.exitCode !== null) return;
        slot.started = true;
        this.#everStarted = true;
        this.#startTimedOut = false;
        this.#startFailures = 0;
        for (const pending of [...this.#waitingForStart]) this.#untimeStartWait(pending);
        this.#pump();
        if (slot.inflight === 0) this.#fillSoon();
      },
      () => {}, // it ended first: #exited deals with that
    );
  }

  #exited(event: ExitEvent): void {
    this.#workers.delete(event.ref as ChildRef<Job, readonly unknown[] | Float64Array>);
    const slot = [...this.#slots].find((s) => s.ref.id === event.ref.id);
    if (slot === undefined) return;
    this.#fillSoon();
    // A worker that ends before it started never took a task: it died in its initializer, most likely.
    const diedStarting = !slot.started && !slot.endedByPool;
    if (slot.started) {
      slot.started = false;
      // The last started worker gone: the tasks waiting are timed until another starts.
      if (!this.#anyStarted() && this.#state !== 'terminated') for (const pending of this.#queue) if (pending.timeout !== undefined) this.#timeStartWait(pending);
    }
    // Tasks still in flight to it keep it counted (as busy) until they come back: else the pool
    // could look idle in between, and join() would stop the worker they are about to go to.
    if (slot.inflight === 0) this.#slots.delete(slot);
    if (this.#state === 'terminated') return;
    // A task sent ahead to it fails in its place (see #failed).
    if (diedStarting && !this.#anyStarted() && slot.inflight === 0) this.#diedStarting(slot);
    // Tasks still in flight to it come back to the queue (or fail) a moment later: count them as work left.
    if (this.#state === 'running' || this.#queue.length > 0 || slot.inflight > 0) {
      if (diedStarting) this.#replaceLater();
      else this.#addWorker();
    }
    this.#pump();
  }

  /**
   * Replaces a worker that died while it started, later each time it happens
   * again before some worker starts (as a supervisor backs off): workers that
   * cannot start (an initializer that exits) are not a storm of processes.
   */
  #replaceLater(): void {
    const delay = Math.min(RESPAWN_MAX_MS, RESPAWN_FIRST_MS * 2 ** this.#startFailures++);
    this.#starting++; // counted as starting, so the pool neither looks idle nor starts another meanwhile
    const timer = setTimeout(() => {
      this.#respawns.delete(timer);
      this.#starting--;
      if (this.#state === 'terminated' || this.#joined) return;
      this.#addWorker();
      this.#pump();
    }, delay);
    this.#respawns.add(timer);
  }

  /**
   * A worker died before it started (in its initializer, most likely: one
   * that exits, or runs out of memory), and no worker is up to take the
   * queue: the oldest task fails, as it would have on that worker, rather
   * than wait for a worker that may never start.
   */
  #diedStarting(slot: Slot): void {
    while (this.#queue.length > 0) {
      const pending = this.#queue.shift()!;
      if (pending.cancelled) continue;
      if (pending.startWait !== undefined) this.#untimeStartWait(pending);
      pending.reject(this.#diedStartingError(slot));
      return;
    }
  }

  #diedStartingError(slot: Slot): WorkerCrashedError {
    const code = slot.ref.exitCode;
    return new WorkerCrashedError(
      `Worker ${slot.ref.name} of ${this.#name} died while it started, before it took a task (exit code ${code}${slot.ref.error ? `: ${slot.ref.error.message}` : ''})${this.#initializer === null ? '' : '; its initializer may have ended it'}. ${this.#replacing()}; run the task again if it is safe to.`,
      slot.ref.id,
      code,
    );
  }

  #busy(): boolean {
    if (this.#starting > 0 && this.#queue.length > 0) return true;
    for (const slot of this.#slots) if (slot.inflight > 0) return true;
    return false;
  }

  #maybeIdle(): void {
    // Tasks aborted or timed out while waiting stay queued until their turn: with no worker to take
    // them (none has started), neither join() nor the program must wait for them.
    while (this.#queue.length > 0 && this.#queue.peek()!.cancelled) this.#queue.shift();
    const busy = this.#state !== 'terminated' && (this.#queue.length > 0 || this.#busy());
    if (busy && this.#release === null) {
      this.#release = holdAlive();
      busyPools.add(this);
    } else if (!busy && this.#release !== null) {
      this.#release();
      this.#release = null;
      busyPools.delete(this);
    }
    if (this.#idle.length > 0 && !busy) for (const idle of this.#idle.splice(0)) idle();
  }
}

/** The items of a map's iterable, or a clear error for what is none. */
function itemsOf(items: unknown, name: string): unknown[] {
  checkIterable(items, name, false);
  // An array as it is (see #mapChunks), anything else read whole first, as Python makes a list of it.
  return Array.isArray(items) ? items : [...(items as Iterable<unknown>)];
}

/**
 * The signal a map's or imap's chunks listen to. One listener on the caller's
 * signal relays its abort to them all: Node warns when more than ten listen
 * to one signal, and a map may have hundreds of chunks in flight.
 */
class ChunkSignal {
  readonly signal: AbortSignal | undefined;
  readonly #outer: AbortSignal | undefined;
  readonly #controller: AbortController | null = null;
  readonly #relay = (): void => this.#controller!.abort(this.#outer!.reason);
  #attached = false;

  constructor(outer: AbortSignal | undefined) {
    this.#outer = outer;
    // None, or aborted already: the chunks see it as it is (they reject at once, adding no listener).
    if (outer === undefined || outer.aborted) {
      this.signal = outer;
      return;
    }
    this.#controller = new AbortController();
    setMaxListeners(0, this.#controller.signal);
    this.signal = this.#controller.signal;
    this.attach();
  }

  /** `options` with this signal in place of the caller's. */
  options<O extends TaskOptions>(options: O): O {
    return this.signal === options.signal ? options : { ...options, signal: this.signal };
  }

  attach(): void {
    if (this.#controller === null || this.#attached) return;
    if (this.#outer!.aborted) return this.#relay();
    this.#outer!.addEventListener('abort', this.#relay, { once: true });
    this.#attached = true;
  }

  /** The caller's signal keeps nothing of ours (a map that settled, an imap put down). */
  detach(): void {
    if (!this.#attached) return;
    this.#outer!.removeEventListener('abort', this.#relay);
    this.#attached = false;
  }
}

/**
 * A job's items, or a task's result, that could not be encoded, named as the
 * caller knows them: the path `message.chunk[2][0].cb` of a job becomes
 * `args[0].cb` (a task's argument list) or `item.cb` (a map's item), and
 * `reply[3].cb` of a worker's answer `result.cb`.
 */
/**
 * The paths of a SerializationError the worker made: of its answer (`reply…`, `result`) or of the job
 * it took (`message…`); one with none is the node's own, for an error reply it could not send.
 */
const WORKER_PATH = /^(reply|result|message)\b/;

function renamedPath(err: SerializationError, star: boolean): SerializationError {
  // The job or the answer as a whole (too large, nested too deeply): the task's arguments, or its results.
  if (err.path === 'message') return repathed(err, err.path.length, star ? 'args' : 'items');
  if (err.path === 'reply') return repathed(err, err.path.length, 'result');
  const match = /^(message\.chunk|reply)\[\d+\]/.exec(err.path);
  if (match === null) return err;
  return repathed(err, match[0].length, match[1] === 'reply' ? 'result' : star ? 'args' : 'item');
}

/** A worker's initArgs that could not be sent, named so: they were changed since the pool was made. */
function renamedInitArgs(err: SerializationError): SerializationError {
  return repathed(err, 'args[2]'.length, 'initArgs', ' (initArgs were changed since the pool was made: a worker is sent them as it starts)');
}

/** `err` with the first `cut` characters of its path (and its message's) replaced by `name`. */
function repathed(err: SerializationError, cut: number, name: string, note = ''): SerializationError {
  const path = name + err.path.slice(cut);
  return new SerializationError(`${err.message.replace(err.path, path)}${note}`, path, { cause: err.cause });
}

/** `return()` on an input left before its end; what it throws or rejects with is not the caller's concern any more. */
function closeIterator(iterator: Iterator<unknown> | AsyncIterator<unknown>): void {
  try {
    const closed = iterator.return?.();
    if (closed !== undefined && typeof (closed as PromiseLike<unknown>).then === 'function') (closed as Promise<unknown>).catch(() => {});
  } catch {
    // A generator still running (it is being read right now) cannot be closed; it ends with its reader.
  }
}

/** A chunk's failure, as #iterate yields it: raisingFailures makes it the rejection of that next(). */
class Failed {
  constructor(readonly error: unknown) {}
}

/**
 * An imap's iterator: its generator's results, with a failed chunk's error
 * rejecting the next() that reaches it and the iteration going on after it
 * (a generator that throws is finished). `return()` ends it as a loop's
 * `break` does.
 */
function raisingFailures(generator: AsyncGenerator<unknown>, returned: () => void): AsyncIterableIterator<unknown> {
  const step = (result: IteratorResult<unknown>): IteratorResult<unknown> => {
    if (!result.done && result.value instanceof Failed) throw result.value.error;
    return result;
  };
  return {
    next: () => generator.next().then(step),
    // Told at once: one never read runs no finally of its own.
    return: (value?: unknown) => {
      returned();
      return generator.return(value);
    },
    throw: (error?: unknown) => {
      // It ends the imap (it catches nothing at its yields), started or not.
      returned();
      return generator.throw(error).then(step);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** A clear error for an input that is not an iterable (nor, for an imap, an async iterable). */
function checkIterable(items: unknown, name = 'items', orAsync = true): void {
  const it = items as (Iterable<unknown> & AsyncIterable<unknown>) | null | undefined;
  if (typeof it?.[Symbol.iterator] === 'function' || (orAsync && typeof it?.[Symbol.asyncIterator] === 'function')) return;
  throw invalidOption(name, orAsync ? 'an iterable or an async iterable' : 'an iterable (an array, a Set, a generator…)', items);
}

/** The options of one task, and of a map. */
const TASK_OPTIONS = ['timeout', 'signal'];
const MAP_OPTIONS = [...TASK_OPTIONS, 'chunksize', 'onProgress'];

/** The options an `*Async` method passes on: those in `known` (its callbacks are its own, not the method's it calls). */
function withoutCallbacks<O extends object>(options: O, known: readonly string[]): O {
  return Object.fromEntries(known.map((key) => [key, (options as Record<string, unknown>)[key]])) as O;
}

/** A map's options, checked: an object, its signal an AbortSignal, its `onProgress` a function. */
function mapOptionsOf(options: MapOptions, what: string): MapOptions {
  const given = optionsOf(options, what, MAP_OPTIONS);
  if (given.onProgress !== undefined && typeof given.onProgress !== 'function') throw invalidOption(`${what}.onProgress`, 'a function (done, total)', given.onProgress);
  // Checked at the call, as chunksize is: an imap's came only at its first next().
  const { timeout } = given;
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) throw invalidOption(`${what}.timeout`, 'a positive number of milliseconds', timeout);
  return given;
}

/** Why `callback`/`errorCallback` cannot be called, or null: checked before the task is queued, not when it settles. */
function callbacksError<R>(options: ApplyAsyncOptions<R>, what: string, known: readonly string[]): Error | null {
  try {
    const { callback, errorCallback } = optionsOf(options, `${what} options`, [...known, 'callback', 'errorCallback']);
    if (callback !== undefined && typeof callback !== 'function') return invalidOption(`${what} options.callback`, 'a function', callback);
    if (errorCallback !== undefined && typeof errorCallback !== 'function') return invalidOption(`${what} options.errorCallback`, 'a function', errorCallback);
    return null;
  } catch (err) {
    return err as Error;
  }
}

/**
 * Python's callback and error_callback on a result: the promise stays the
 * caller's (a failed task with no errorCallback rejects only it, never an
 * unhandled chain made here); a callback that throws is the program's error,
 * raised as a throwing event listener's would be.
 */
/**
 * The promise `applyAsync` and the other `…Async` methods return, with the
 * callbacks called as it settles. Without an `errorCallback`, a failure is
 * the promise's alone, as with no callbacks at all: unhandled (and ending
 * the program as an unhandled rejection does) unless the caller handles it;
 * a `callback` alone does not swallow it. With one, the failure goes to it,
 * and the promise still rejects for a caller that awaits it. A callback that
 * throws is an uncaught exception, outside the pool.
 */
function withCallbacks<R>(result: Promise<R>, options: ApplyAsyncOptions<R>): Promise<R> {
  const { callback, errorCallback } = options;
  if (callback === undefined && errorCallback === undefined) return result;
  const settled = new Promise<R>((resolve, reject) => {
    result.then(
      (value) => {
        resolve(value);
        if (callback !== undefined) outside(() => callback(value));
      },
      (error: Error) => {
        reject(error);
        if (errorCallback !== undefined) outside(() => errorCallback(error));
      },
    );
  });
  if (errorCallback !== undefined) settled.catch(() => {});
  return settled;
}

/** Runs a callback of the program's; what it throws is thrown again outside the pool, as an uncaught exception. */
function outside(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

/** A FIFO with O(1) take and put-back at the front (Array#shift is O(n) on a long queue). */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  peek(): T | undefined {
    return this.#head === this.#items.length ? undefined : this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined as T;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.#head; i < this.#items.length; i++) yield this.#items[i]!;
  }

  drain(): T[] {
    const rest = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return rest;
  }
}

/** `options.chunksize`, checked, or `fallback` when absent. */
function chunksizeOf(options: MapOptions, fallback: number): number {
  const size = options.chunksize ?? fallback;
  if (!Number.isInteger(size) || size < 1) throw invalidOption('chunksize', 'a positive integer', size);
  return size;
}

/**
 * An array of `length` holes whose elements are doubles from the start: the
 * results of a map of numbers land in it with no second allocation, where an
 * array made with `new Array(length)` is made again as its first double lands
 * (100,000 results: about 4 ms less a map, here).
 */
function isObject(value: unknown): value is object {
  return (typeof value === 'object' && value !== null) || typeof value === 'function';
}

function doubles(length: number): unknown[] {
  const out: unknown[] = [0.5];
  out.length = length;
  return out;
}

/** Python's rule: about four chunks per worker. */
export function autoChunksize(items: number, workers: number): number {
  if (!Number.isInteger(items) || items < 0) throw invalidOption('autoChunksize() items', 'an integer ≥ 0', items);
  if (!Number.isInteger(workers) || workers < 1) throw invalidOption('autoChunksize() workers', 'an integer ≥ 1', workers);
  const base = Math.floor(items / (workers * 4));
  return items % (workers * 4) === 0 ? Math.max(1, base) : base + 1;
}
