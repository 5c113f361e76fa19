/**
 * Producers and consumers sharing a JoinableQueue, as the Python tutorial
 * does, without its ending: there, the main program terminates consumers
 * blocked in get() and hopes nothing was lost. Here it waits with join() for
 * every job to be done, then closes the queue, and the consumers' loops end
 * by themselves. Every job is accounted for, and every actor exits 0.
 *
 * Run: npx tsx examples/producer-consumer.ts
 */
import { JoinableQueue, Queue, actor, isMain, spawn, type Context } from '../index.ts';

type Job = { producer: number; n: number };
type Result = { n: number; square: number; by: string };

/** Puts jobs `from`..`from + count - 1` on the queue. */
export const producer = actor(async (_ctx: Context, jobs: JoinableQueue<Job>, id: number, from: number, count: number) => {
  for (let n = from; n < from + count; n++) await jobs.put({ producer: id, n });
});

/** Takes jobs until the queue is closed; each result goes to `results`, then the job is marked done. */
export const consumer = actor(async (ctx: Context, jobs: JoinableQueue<Job>, results: Queue<Result>) => {
  for await (const job of jobs) {
    await results.put({ n: job.n, square: job.n * job.n, by: ctx.name });
    await jobs.taskDone();
  }
});

if (isMain(import.meta)) {
  const jobs = new JoinableQueue<Job>({ name: 'jobs' });
  const results = new Queue<Result>({ name: 'results' });
  const consumers = [1, 2, 3].map((i) => spawn(consumer, { args: [jobs, results], name: `consumer-${i}` }));
  const producers = [1, 2].map((i) => spawn(producer, { args: [jobs, i, (i - 1) * 50 + 1, 50], name: `producer-${i}` }));

  for (const p of producers) await p.join({ timeout: 30_000 });
  const done = await jobs.join({ timeout: 30_000 }); // every job put has been marked done
  await jobs.close(); // the consumers' loops end once the queue is drained
  const codes = await Promise.all(consumers.map((c) => c.join({ timeout: 10_000 })));

  await results.close();
  const all: Result[] = [];
  for await (const r of results) all.push(r);
  const byConsumer = new Map<string, number>(consumers.map((c) => [c.name, 0]));
  for (const r of all) byConsumer.set(r.by, byConsumer.get(r.by)! + 1);
  const ns = all.map((r) => r.n).sort((a, b) => a - b);

  console.log(`jobs joined: ${done}`);
  console.log(`results: ${all.length} of 100, each job once: ${ns.every((n, i) => n === i + 1)}`);
  console.log(`sum of squares: ${all.reduce((s, r) => s + r.square, 0)} (expected ${(100 * 101 * 201) / 6})`);
  console.log(`work by consumer: ${[...byConsumer].map(([who, k]) => `${who} ${k}`).join(', ')}`); // how it spreads depends on timing
  console.log(`exit codes: producers ${producers.map((p) => p.exitCode).join(' ')}, consumers ${codes.join(' ')}`);
}
