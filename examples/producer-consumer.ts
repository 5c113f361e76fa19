/**
 * A producer and a consumer exchanging jobs through their mailboxes, the
 * consumer answering with results; the main program joins both and prints a
 * summary. Refs are passed as args, as multiprocessing passes a Queue.
 *
 * Run: npx tsx examples/producer-consumer.ts
 */
import { actor, current, isMain, spawn, type ActorRef, type Context } from '../index.ts';

type Job = { id: number; n: number };
type Result = { id: number; n: number; square: number; by: number };

/** Takes jobs until it gets `null`, sending each result to `results`. */
export const consumer = actor(async (ctx: Context<Job | null>, results: ActorRef<Result | 'done'>) => {
  for await (const job of ctx.inbox) {
    if (job === null) break;
    results.send({ id: job.id, n: job.n, square: job.n * job.n, by: ctx.pid });
  }
  results.send('done');
});

/** Sends `count` jobs to `consumer`, then `null` to say there are no more. */
export const producer = actor(async (_ctx: Context, consumer: ActorRef<Job | null>, count: number) => {
  for (let id = 1; id <= count; id++) consumer.send({ id, n: id });
  consumer.send(null);
});

if (isMain(import.meta)) {
  const me = current() as Context<Result | 'done'>;
  const jobs = 10;
  const c = spawn(consumer, { args: [me.self], name: 'consumer' });
  const p = spawn(producer, { args: [c, jobs], name: 'producer' });

  let sum = 0;
  const results: Result[] = [];
  for (;;) {
    const message = await me.receive({ timeout: 30_000 });
    if (message === 'done') break;
    results.push(message);
    sum += message.square;
  }
  const [pCode, cCode] = [await p.join({ timeout: 10_000 }), await c.join({ timeout: 10_000 })];
  console.log(`results: ${results.map((r) => `${r.n}²=${r.square}`).join(' ')}`);
  console.log(`summary: ${results.length} jobs, sum of squares ${sum}, all by consumer pid ${c.pid}: ${results.every((r) => r.by === c.pid)}`);
  console.log(`exit codes: producer ${pCode}, consumer ${cCode}`);
}
