// Anchor: Node's thread pools (piscina, tinypool), 2 worker threads each, doing
// what bench/run.ts asks troupe's Pool to do. Bench-only dev dependencies.
//
//   node bench/anchors/node-threads.mjs <batched|c1> [--n N]
//
// stdout carries only JSON lines {"anchor","metric","value","unit"}.
import { Piscina } from 'piscina';
import { Tinypool } from 'tinypool';

const mode = process.argv[2] ?? 'c1';
const at = process.argv.indexOf('--n');
const n = at > 0 ? Number(process.argv[at + 1]) : mode === 'batched' ? 100_000 : 20_000;
const filename = new URL('./thread-square.mjs', import.meta.url).href;
const emit = (anchor, metric, value) => process.stdout.write(JSON.stringify({ anchor, metric, value: Math.round(value), unit: 'tasks/s' }) + '\n');
const items = Array.from({ length: n }, (_, i) => i);

/** Tasks/s of `run` over `items` one task per item, all submitted at once, after a warm-up of the same shape. */
async function oneEach(run) {
  await Promise.all(items.slice(0, 5000).map(run));
  const t = performance.now();
  await Promise.all(items.map(run));
  return n / ((performance.now() - t) / 1000);
}

if (mode === 'batched') {
  // Python's automatic chunksize for 2 workers: about four chunks per worker.
  const size = Math.ceil(n / 8);
  const chunks = [];
  for (let i = 0; i < n; i += size) chunks.push(items.slice(i, i + size));
  const pool = new Piscina({ filename, minThreads: 2, maxThreads: 2 });
  // The first run is shown on its own; then the median of five after it, as the other sides take.
  let t = performance.now();
  await Promise.all(chunks.map((c) => pool.run(c)));
  emit('piscina run, batched: first 100,000-task run', 'tasks_per_s_first', n / ((performance.now() - t) / 1000));
  const rates = [];
  for (let k = 0; k < 5; k++) {
    t = performance.now();
    await Promise.all(chunks.map((c) => pool.run(c)));
    rates.push(n / ((performance.now() - t) / 1000));
  }
  emit('piscina run, tasks batched as Python chunks them', 'tasks_per_s', rates.sort((a, b) => a - b)[2]);
  await pool.destroy();
} else {
  for (const concurrent of [1, 64]) {
    const pool = new Piscina({ filename, minThreads: 2, maxThreads: 2, concurrentTasksPerWorker: concurrent });
    const rate = await oneEach((x) => pool.run(x));
    emit(concurrent === 1 ? 'piscina run (default)' : 'piscina run (64 concurrent tasks per worker)', 'tasks_per_s_c1', rate);
    await pool.destroy();
  }
  const tiny = new Tinypool({ filename, minThreads: 2, maxThreads: 2 });
  emit('tinypool run', 'tasks_per_s_c1', await oneEach((x) => tiny.run(x)));
  await tiny.destroy();
}
