/**
 * The classic: four actors add 1 to a shared Value 10,000 times each.
 * First by reading and writing it with no lock, where increments are lost
 * when two actors read the same value; then under the value's lock
 * (`withLock`), and with the atomic `add`, where none are.
 *
 * Run: npx tsx examples/shared-counter.ts
 */
import { Value, actor, isMain, spawn, type Context } from '../index.ts';

type Mode = 'no lock' | 'withLock' | 'add';

/** Adds 1 to `counter` `times` times, the way `mode` says. */
export const incrementer = actor(async (_ctx: Context, counter: Value<'int32'>, times: number, mode: Mode) => {
  for (let i = 0; i < times; i++) {
    if (mode === 'add') await counter.add(1);
    else if (mode === 'withLock') await counter.withLock(async () => counter.set((await counter.get()) + 1));
    else await counter.set((await counter.get()) + 1); // read, then write: another actor may write in between
  }
});

async function run(mode: Mode, actors: number, times: number): Promise<number> {
  const counter = new Value('int32', 0);
  const started = performance.now();
  const refs = Array.from({ length: actors }, (_, i) => spawn(incrementer, { args: [counter, times, mode], name: `incrementer-${i}` }));
  const codes = await Promise.all(refs.map((ref) => ref.join({ timeout: 300_000 })));
  if (codes.some((code) => code !== 0)) throw new Error(`an incrementer failed: exit codes ${codes.join(', ')}`);
  const total = await counter.get();
  const expected = actors * times;
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`${mode.padEnd(8)}: ${total.toLocaleString('en-US')} of ${expected.toLocaleString('en-US')} (${(expected - total).toLocaleString('en-US')} lost) in ${seconds} s`);
  await counter.close();
  return total;
}

if (isMain(import.meta)) {
  const actors = 4;
  const times = Number(process.argv[2] ?? 10_000);
  console.log(`${actors} actors × ${times.toLocaleString('en-US')} increments of one shared Value('int32')`);
  const unlocked = await run('no lock', actors, times);
  const locked = await run('withLock', actors, times);
  const atomic = await run('add', actors, times);
  console.log(`summary: no lock ${unlocked}, withLock ${locked}, add ${atomic}, expected ${actors * times}`);
}
