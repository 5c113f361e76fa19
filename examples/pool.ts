/**
 * Python's Pool example, on actor processes:
 *
 *   def f(x): time.sleep(random()); return x*x, os.getpid()
 *   with Pool(4) as p: print(p.map(f, range(10)))
 *
 * then a CPU-bound map with a progress line.
 *
 * Run: npx tsx examples/pool.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, isMain, task } from '../index.ts';

/** A long task of random length: its square, and the pid that ran it. */
export const f = task(async (x: number) => {
  await sleep(Math.random() * 200);
  return [x * x, process.pid] as const;
});

/** CPU-bound: primes below n, counted the slow way. */
export const countPrimes = task((n: number) => {
  let count = 0;
  for (let i = 2; i < n; i++) {
    let prime = true;
    for (let d = 2; d * d <= i; d++) if (i % d === 0) (prime = false), (d = i);
    if (prime) count++;
  }
  return count;
});

if (isMain(import.meta)) {
  await using pool = new Pool({ size: 4 });
  const results = await pool.map(f, [...Array(10).keys()]);
  console.log(`squares: ${results.map(([sq]) => sq).join(' ')}`);
  console.log(`run by ${new Set(results.map(([, pid]) => pid)).size} worker processes, none of them this one (${results.every(([, pid]) => pid !== process.pid)})`);

  const inputs = Array.from({ length: 200 }, (_, i) => 20_000 + i);
  const counts = await pool.map(countPrimes, inputs, {
    onProgress: (done, total) => process.stdout.write(`\rprogress: ${done}/${total}`),
  });
  process.stdout.write('\n');
  console.log(`primes below 20,000: ${counts[0]}; below 20,199: ${counts[199]}`);
}
