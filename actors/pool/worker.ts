/**
 * A pool worker: runs chunks of a task and answers with their results. Tasks
 * come by address with the bundle of their module, loaded on first use.
 */
import { SerializationError, actorIn, handOver, resolveTask, type Context, type Task } from '../../runtime/index.ts';
import { TAKE_MATCHING_NOW } from '../../runtime/context.ts';
import { now } from '../../runtime/framing.ts';

/** The key of the job a worker answers, with no results, as it starts taking jobs (its initializer run). */
export const STARTED_KEY = 0;
/** The key of a message (sent, not called) that cancels the job with its token `c`, if that job has not started. */
export const CANCEL_KEY = -1;

export interface Job {
  /** The task's number in this worker (from 1); the first job with a number also carries the task and its bundle. */
  readonly key: number;
  readonly task?: Task;
  readonly bundle?: string | null;
  readonly chunk: readonly unknown[] | Float64Array;
  /** Each item is an argument list (starmap, apply), not a single argument. */
  readonly star: boolean;
  /** A job with a signal: its token, which a CANCEL_KEY message names to drop it if it has not started. */
  c?: number;
}

const isCancel = (message: unknown): boolean => typeof message === 'object' && message !== null && (message as Job).key === CANCEL_KEY;

/** How often at least a worker running jobs with tokens back to back reads its pipe for their cancels (ms). */
const CANCEL_LOOK_MS = 1;

/** Below this many items a chunk travels as a list: a typed array's fixed cost is not worth it. */
const PACK_MIN = 16;

/**
 * `values[start, end)` packed to send, or null when they are not 16 or more
 * plain numbers: a chunk of plain numbers travels as a Float64Array, its
 * bytes copied whole, where a list is encoded and decoded number by number.
 * Every JS number (NaN, -0, ±Infinity included) comes back the same.
 */
export function packNumbers(values: readonly unknown[], start = 0, end = values.length, into: Float64Array | null = null): Float64Array | null {
  const n = end - start;
  if (n >= PACK_MIN && typeof values[start] === 'number') {
    // Packed straight from the caller's items: no slice of them made first. Into `into`, one of the
    // same length the pool had packed before and got back (see Pool#spareChunk), when given.
    const packed = into !== null && into.length === n ? into : new Float64Array(n);
    let i = 0;
    for (; i < n; i++) {
      const value = values[start + i];
      if (typeof value !== 'number') break;
      packed[i] = value;
    }
    // Made here and never changed: it is sent without a copy.
    if (i === n) return handOver(packed);
  }
  return null;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return typeof (value as PromiseLike<unknown>).then === 'function';
  } catch {
    // Its `then` cannot be read (a revoked proxy, a getter that throws): no promise, and no value
    // that can be encoded either; the reply says so (SerializationError), as for any such result.
    return false;
  }
}

// It acknowledges each job it takes before running it: a job sent to a worker that died without
// taking it (killed while idle, say) never ran, and the pool gives it to another (see Pool's #failed).
export const poolWorker = actorIn(import.meta.url, async (ctx: Context<Job, readonly unknown[] | Float64Array>, initializer: Task | null, initBundle: string | null, initArgs: unknown[], maxTasks: number | null) => {
  // An initializer that fails does not end the worker (a pool would only start
  // another, which would fail the same way): every task is answered with it.
  let broken: unknown = null;
  if (initializer !== null) {
    try {
      await (await resolveTask(initializer, initBundle)).fn(...initArgs);
    } catch (err) {
      broken = err;
    }
  }
  let done = 0;
  // What the first job of each task carried, kept to load its module again if that failed: Python
  // imports a task's module as each task comes, so a module that failed once is tried again.
  const sources = new Map<number, { task: Task; bundle: string | null }>();
  const resolving = new Map<number, Promise<Task>>();
  // Tasks already loaded: a job for one of them starts without waiting a turn.
  const ready = new Map<number, Task>();
  // Cancels of jobs not yet reached. The pool numbers the jobs it sends this worker in the order it
  // sends them, so a cancel at or below the last token seen came after its job had run: dropped.
  const cancelled = new Set<number>();
  let lastToken = 0;
  let lookedAt = -Infinity;
  const noteCancel = (token: number): void => {
    if (token > lastToken) cancelled.add(token);
  };
  for await (const job of ctx.inbox) {
    if (job.key === STARTED_KEY) {
      ctx.reply(job.chunk);
      continue;
    }
    // A cancel is sent, never called: a call of that key is no job, and is answered as such below.
    if (job.key === CANCEL_KEY && !ctx.canReply) {
      noteCancel(job.c!);
      continue;
    }
    if (job.c !== undefined) {
      // A job that may be cancelled: the cancel sent after it may be queued behind it, or still in the
      // pipe, unread while this worker ran jobs back to back. The mailbox is looked through each time;
      // the pipe through two turns of the event loop (the first may be the one whose poll phase is
      // over), once a millisecond of work at most. A cancel found drops the job (its caller was told).
      if (now() - lookedAt >= CANCEL_LOOK_MS) {
        await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
        lookedAt = now();
      }
      for (const cancel of ctx[TAKE_MATCHING_NOW](isCancel) as Job[]) noteCancel(cancel.c!);
      lastToken = Math.max(lastToken, job.c);
      if (cancelled.delete(job.c)) {
        // The first job of its task brings the task: later ones name it by key alone.
        if (job.task !== undefined && !ready.has(job.key)) sources.set(job.key, { task: job.task, bundle: job.bundle ?? null });
        ctx.reply([]);
        // One of its jobs all the same, as the pool counted it: with maxTasksPerChild it ends on time.
        if (maxTasks !== null && ++done >= maxTasks) return ctx.exit(0);
        continue;
      }
    }
    try {
      if (broken !== null) throw broken;
      let task = ready.get(job.key);
      if (task === undefined) {
        if (job.task !== undefined) sources.set(job.key, { task: job.task, bundle: job.bundle ?? null });
        let loading = resolving.get(job.key);
        if (loading === undefined) {
          const source = sources.get(job.key)!;
          const attempt = resolveTask(source.task, source.bundle);
          loading = attempt;
          resolving.set(job.key, attempt);
          attempt.catch(() => resolving.get(job.key) === attempt && resolving.delete(job.key));
        }
        task = await loading;
        ready.set(job.key, task);
        resolving.delete(job.key);
        sources.delete(job.key);
      }
      const { fn } = task;
      const n = job.chunk.length;
      // Results go straight into a Float64Array (what a chunk of numbers travels as) while they are
      // numbers, into a list from the first that is not: no list built and then packed.
      let numbers: Float64Array | null = null;
      let results: unknown[] = [];
      for (let i = 0; i < n; i++) {
        const item = job.chunk[i];
        let result = job.star ? fn(...(item as unknown[])) : fn(item);
        // Awaiting a plain value still costs a turn of the microtask queue, per item.
        if (isThenable(result)) result = await result;
        if (i === 0) {
          if (n >= PACK_MIN && typeof result === 'number') numbers = new Float64Array(n);
          else results = new Array(n);
        }
        if (numbers !== null) {
          if (typeof result === 'number') {
            numbers[i] = result;
            continue;
          }
          results = new Array(n);
          for (let j = 0; j < i; j++) results[j] = numbers[j];
          numbers = null;
        }
        results[i] = result;
      }
      try {
        ctx.reply(numbers !== null ? handOver(numbers) : results);
      } catch (err) {
        // A result that cannot cross fails its task, not the worker.
        ctx.replyError(err instanceof SerializationError ? err : new SerializationError(String(err), 'result'));
      }
    } catch (err) {
      ctx.replyError(err);
    }
    // Ends now, not once what its tasks left running is done (a timer, a socket): the pool replaces
    // a worker only once it has exited, and would wait for it (see the host's #leftWorkDone). A job of
    // no items only loaded its task's module (see the pool's #loadThenSend): it counts for nothing.
    if (maxTasks !== null && job.chunk.length > 0 && ++done >= maxTasks) return ctx.exit(0);
  }
}, { acksCalls: true });
