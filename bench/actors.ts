/** The actors the benchmarks drive; each does as little as its measurement allows. */
import { actor, task, type Context, type Queue } from '../index.ts';

/** Waits to be ended: for spawn → ready. */
export const idle = actor(async (ctx: Context) => {
  await ctx.receive();
});

/** Counts `n` messages, then tells its parent. */
export const sink = actor(async (ctx: Context, n: number) => {
  let seen = 0;
  for await (const _ of ctx.inbox) if (++seen === n) ctx.parent!.send('done');
});

/** Answers every call with its message ('pid' with its pid). */
export const pong = actor(async (ctx: Context) => {
  for await (const message of ctx.inbox) ctx.reply(message === 'pid' ? ctx.pid : message);
});

/** Counts the bytes of `n` buffers, then tells its parent. */
export const byteSink = actor(async (ctx: Context<Uint8Array>, n: number) => {
  let seen = 0;
  let bytes = 0;
  for await (const buf of ctx.inbox) {
    bytes += buf.byteLength;
    if (++seen === n) ctx.parent!.send(bytes);
  }
});

/** Counts `n` messages, tells its parent, and returns. */
export const countTo = actor(async (ctx: Context, n: number) => {
  let seen = 0;
  for await (const _ of ctx.inbox) if (++seen === n) break;
  ctx.parent!.send('done');
});

/**
 * Puts `n` items on `queue` once its parent says go, `window` at a time: the
 * puts of a window are made together (they travel as one message) and
 * awaited together (1: each put awaited before the next).
 */
export const queueProducer = actor(async (ctx: Context, queue: Queue, n: number, window: number, bytes: number) => {
  const item = (i: number): unknown => (bytes > 0 ? Buffer.alloc(bytes, i) : { i, body: 'hello' });
  ctx.parent!.send('ready');
  await ctx.receive();
  for (let i = 0; i < n; i += window) {
    const puts: Promise<void>[] = [];
    for (let j = i; j < Math.min(n, i + window); j++) puts.push(queue.put(item(j)));
    await Promise.all(puts);
  }
});

/** Takes `n` items from `queue` with `for await`, then tells its parent. */
export const queueConsumer = actor(async (ctx: Context, queue: Queue, n: number) => {
  ctx.parent!.send('ready');
  let seen = 0;
  if (n > 0) for await (const _ of queue) if (++seen === n) break;
  ctx.parent!.send('done');
});

/** Pool benchmark tasks. */
export const squareTask = task((x: number) => x * x);
export const burnTask = task((ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
  return ms;
});

