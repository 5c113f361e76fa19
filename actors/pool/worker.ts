/**
 * A pool worker: runs chunks of a task and answers with their results. Tasks
 * come by address with the bundle of their module, loaded on first use.
 */
import { SerializationError, actor, resolveTask, type Context, type Task } from '../../runtime/index.ts';

export interface Job {
  readonly task: Task;
  readonly bundle: string | null;
  readonly chunk: readonly unknown[];
  /** Each item is an argument list (starmap, apply), not a single argument. */
  readonly star: boolean;
}

export const poolWorker = actor(async (ctx: Context<Job, unknown[]>, initializer: Task | null, initBundle: string | null, initArgs: unknown[], maxTasks: number | null) => {
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
  for await (const job of ctx.inbox) {
    try {
      if (broken !== null) throw broken;
      const { fn } = await resolveTask(job.task, job.bundle);
      const results: unknown[] = [];
      for (const item of job.chunk) results.push(await (job.star ? fn(...(item as unknown[])) : fn(item)));
      try {
        ctx.reply(results);
      } catch (err) {
        // A result that cannot cross fails its task, not the worker.
        ctx.replyError(err instanceof SerializationError ? err : new SerializationError(String(err), 'result'));
      }
    } catch (err) {
      ctx.replyError(err);
    }
    if (maxTasks !== null && ++done >= maxTasks) return;
  }
});
