/**
 * `npm run bench`: troupe beside Node's child_process IPC and Python's
 * multiprocessing, measured side by side in one run on this machine.
 * Prints medians and ratios; never passes or fails on time.
 *
 *   npm run bench [-- --only spawn,send,rtt,supervision,pool,queue,bulk,sync] [-- --quick]
 */
import { execFileSync, fork } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Pool, Queue, Supervisor, current, isMain, node, spawn, type ChildRef, type RestartEvent } from '../index.ts';
import { burnTask, byteSink, idle, pong, queueConsumer, queueProducer, sink, squareTask } from './actors.ts';
import { measureSync } from './sync.ts';

interface Row {
  name: string;
  value: number;
  unit: string;
}

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const onlyArg = argv[argv.indexOf('--only') + 1];
const only = argv.includes('--only') && onlyArg ? new Set(onlyArg.split(',')) : null;
const HERE = fileURLToPath(new URL('.', import.meta.url));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

/** Runs an anchor script; returns its JSON lines, or nothing when it cannot run here. */
function anchor(cmd: string, args: string[]): { anchor: string; metric: string; value: number; unit: string }[] {
  try {
    const out = execFileSync(cmd, args, { cwd: HERE, encoding: 'utf8', timeout: 180_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { anchor: string; metric: string; value: number; unit: string });
  } catch {
    return [];
  }
}

function hasPython(): boolean {
  try {
    execFileSync('python3', ['-c', 'import multiprocessing'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function table(title: string, rows: Row[], base: string, higherIsBetter: boolean): void {
  const ours = rows.find((r) => r.name === base);
  console.log(`\n${title}`);
  console.log(`| ${'what'.padEnd(44)} | ${'median'.padStart(12)} | unit  | troupe vs it |`);
  console.log(`| ${'-'.repeat(44)} | ${'-'.repeat(12)} | ----- | ------------ |`);
  for (const r of rows) {
    const ratio = ours && r !== ours ? (higherIsBetter ? ours.value / r.value : r.value / ours.value) : null;
    const shown = r.value >= 100 ? Math.round(r.value).toLocaleString('en-US') : r.value.toFixed(1);
    console.log(`| ${r.name.padEnd(44)} | ${shown.padStart(12)} | ${r.unit.padEnd(5)} | ${ratio === null ? '' : `${ratio.toFixed(2)}×`.padStart(12)} |`);
  }
}

async function stopAll(refs: ChildRef[]): Promise<void> {
  for (const r of refs) r.kill();
  await Promise.all(refs.map((r) => r.join()));
}

// ---- measurements --------------------------------------------------------
// Each round measures troupe and then every anchor once, so that drifts in
// this shared machine's speed reach both sides alike; tables show medians
// over rounds.

const ROUNDS = quick ? 2 : 5;
/** Tasks per one-task-per-message shape, on every side: long enough (0.3-2 s) for a steady state, not a warm-up. */
const C1_N = quick ? 10_000 : 50_000;
const CHILD = fileURLToPath(new URL('./anchors/node-child.mjs', import.meta.url));
/** Fresh processes per round for the start-up of a fresh program: each sample is noisy. */
const FRESH_PAIRS = quick ? 3 : 5;

/** A bare `fork` of a .mjs module from this same process, to its first message. */
async function bareFork(): Promise<number> {
  const t = performance.now();
  const child = fork(CHILD, ['ready'], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise((resolve) => child.once('message', resolve));
  const ms = performance.now() - t;
  child.kill();
  if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
  return ms;
}

async function spawnOne(): Promise<number> {
  const t = performance.now();
  const ref = spawn(idle);
  await ref.ready;
  const ms = performance.now() - t;
  await stopAll([ref]);
  return ms;
}

async function spawnTwenty(): Promise<number> {
  const t = performance.now();
  const refs = Array.from({ length: 20 }, () => spawn(idle));
  await Promise.all(refs.map((r) => r.ready));
  const ms = performance.now() - t;
  await stopAll(refs);
  return ms;
}

async function forkTwenty(): Promise<number> {
  const t = performance.now();
  const children = Array.from({ length: 20 }, () => fork(CHILD, ['ready'], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
  await Promise.all(children.map((c) => new Promise((resolve) => c.once('message', resolve))));
  const ms = performance.now() - t;
  for (const c of children) c.kill();
  await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((resolve) => c.once('exit', resolve)) : undefined)));
  return ms;
}

/** Small messages per throughput run, for troupe and the anchors alike: long enough to measure a steady state. */
const SEND_N = quick ? 100_000 : 500_000;

async function sendThroughput(): Promise<number> {
  const n = SEND_N;
  const ref = spawn(sink, { args: [n] });
  await ref.ready;
  const t = performance.now();
  for (let j = 0; j < n; j++) ref.send({ i: j, body: 'hello' });
  await current().receive({ timeout: 120_000 });
  const rate = n / ((performance.now() - t) / 1000);
  await stopAll([ref]);
  return rate;
}

async function roundTrip(): Promise<{ p50: number; p99: number }> {
  const ref = spawn(pong);
  await ref.ready;
  const message = { i: 0, body: 'hello' };
  for (let i = 0; i < 500; i++) await ref.call(message);
  const times: number[] = [];
  for (let i = 0; i < (quick ? 2000 : 5000); i++) {
    const t = performance.now();
    await ref.call(message);
    times.push((performance.now() - t) * 1000);
  }
  await stopAll([ref]);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

async function bulk(): Promise<number> {
  const n = quick ? 100 : 200;
  const buf = Buffer.alloc(1024 * 1024, 1);
  const ref = spawn(byteSink, { args: [n] });
  await ref.ready;
  const t = performance.now();
  for (let j = 0; j < n; j++) ref.send(buf);
  await current().receive({ timeout: 120_000 });
  const rate = (n * buf.byteLength) / 1e6 / ((performance.now() - t) / 1000);
  await stopAll([ref]);
  return rate;
}

/** A supervised child is SIGKILLed; how long until its replacement is ready (the restart event). */
async function restartLatency(): Promise<number[]> {
  const sup = Supervisor.start({ maxRestarts: 1000, periodMs: 1000, backoff: { minMs: 0, maxMs: 0 }, children: [{ id: 'w', actor: pong }] });
  await sup.ready;
  const times: number[] = [];
  for (let i = 0; i < (quick ? 3 : 10); i++) {
    const [child] = await sup.whichChildren();
    const pid = (await child!.ref!.call('pid')) as unknown as number;
    const restarted = new Promise<RestartEvent>((resolve) => node().once('restart', resolve));
    const t = performance.now();
    process.kill(pid, 'SIGKILL');
    await restarted;
    times.push(performance.now() - t);
  }
  await sup.stop();
  return times;
}

/** A supervisor with 50 children: started (each ready before the next, as OTP starts them), then stopped. */
async function tree50(): Promise<{ start: number; stop: number }> {
  let t = performance.now();
  const sup = Supervisor.start({ children: Array.from({ length: 50 }, (_, i) => ({ id: `c${i}`, actor: idle })) });
  await sup.ready;
  const start = performance.now() - t;
  t = performance.now();
  await sup.stop();
  return { start, stop: performance.now() - t };
}

/** 50 bare forks one after another, each to its first message; then all killed. */
async function fork50(): Promise<{ start: number; stop: number }> {
  let t = performance.now();
  const children = [];
  for (let i = 0; i < 50; i++) {
    const child = fork(CHILD, ['ready'], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    await new Promise((resolve) => child.once('message', resolve));
    children.push(child);
  }
  const start = performance.now() - t;
  t = performance.now();
  for (const c of children.reverse()) {
    c.kill();
    if (c.exitCode === null) await new Promise((resolve) => c.once('exit', resolve));
  }
  return { start, stop: performance.now() - t };
}

/** troupe's Pool, 2 workers: the shapes of issue 5's benchmarks. */
async function poolShapes(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  let t = performance.now();
  const pool = new Pool({ size: 2 });
  await pool.apply(squareTask, [2]);
  out.startup = performance.now() - t;
  // Each shape once before it is measured: a steady state, as the Python side (warmed with a map) measures.
  const warm = Array.from({ length: 5000 }, (_, i) => i);
  await pool.map(squareTask, warm);
  await pool.map(squareTask, warm, { chunksize: 1 });
  for await (const _ of pool.imapUnordered(squareTask, warm)) void _;
  await Promise.all(warm.map((x) => pool.applyAsync(squareTask, [x])));
  // A 100,000-task map takes 10-40 ms. The first of a pool is shown on its own (this process's JIT
  // has not yet compiled its paths); then, as on every side, the median of five after it.
  const big = Array.from({ length: 100_000 }, (_, i) => i);
  t = performance.now();
  await pool.map(squareTask, big);
  out.mapFirst = big.length / ((performance.now() - t) / 1000);
  const maps: number[] = [];
  for (let k = 0; k < 5; k++) {
    t = performance.now();
    await pool.map(squareTask, big);
    maps.push(big.length / ((performance.now() - t) / 1000));
  }
  out.map = median(maps);
  const small = Array.from({ length: C1_N }, (_, i) => i);
  t = performance.now();
  await pool.map(squareTask, small, { chunksize: 1 });
  out.c1 = small.length / ((performance.now() - t) / 1000);
  t = performance.now();
  for await (const _ of pool.imapUnordered(squareTask, small)) void _;
  out.imap = small.length / ((performance.now() - t) / 1000);
  t = performance.now();
  await Promise.all(small.map((x) => pool.applyAsync(squareTask, [x])));
  out.applyAsync = small.length / ((performance.now() - t) / 1000);
  t = performance.now();
  await pool.map(burnTask, Array.from({ length: 200 }, () => 10), { chunksize: 1 });
  out.cpu = performance.now() - t;
  pool.close();
  await pool.join();
  return out;
}

/**
 * Items/s (or MB/s with `bytes`) through one Queue made here, from producer
 * actors to consumer actors, timed from the go to the last consumer's done.
 */
async function queueThroughput(producers: number, consumers: number, n: number, window: number, bytes = 0): Promise<number> {
  const queue = new Queue();
  const said = (text: string) => (m: unknown): m is string => m === text;
  const cons = Array.from({ length: consumers }, () => spawn(queueConsumer, { args: [queue, n / consumers] }));
  const prods = Array.from({ length: producers }, () => spawn(queueProducer, { args: [queue, n / producers, window, bytes] }));
  for (let i = 0; i < producers + consumers; i++) await current().receive({ match: said('ready'), timeout: 60_000 });
  const t = performance.now();
  for (const p of prods) p.send('go');
  for (let i = 0; i < consumers; i++) await current().receive({ match: said('done'), timeout: 120_000 });
  const seconds = (performance.now() - t) / 1000;
  await Promise.all([...prods, ...cons].map((r) => r.join({ timeout: 10_000 })));
  await queue.close();
  return bytes > 0 ? (n * bytes) / seconds / 1e6 : n / seconds;
}

/** Values by row name, over rounds. */
class Samples {
  readonly #values = new Map<string, { unit: string; values: number[] }>();
  add(name: string, value: number, unit: string): void {
    const row = this.#values.get(name) ?? { unit, values: [] };
    row.values.push(value);
    this.#values.set(name, row);
  }
  addAnchors(lines: ReturnType<typeof anchor>, metric: string): void {
    for (const l of lines) if (l.metric === metric) this.add(l.anchor, l.value, l.unit);
  }
  rows(): Row[] {
    return [...this.#values].map(([name, { unit, values }]) => ({ name, value: median(values), unit }));
  }
}

// ---- main -----------------------------------------------------------------

if (isMain(import.meta)) {
  const want = (k: string): boolean => only === null || only.has(k);
  const python = hasPython();
  const py = (...a: string[]): ReturnType<typeof anchor> => (python ? anchor('python3', ['anchors/python_mp.py', ...a]) : []);
  const nodeIpc = (...a: string[]): ReturnType<typeof anchor> => anchor(process.execPath, ['anchors/node-ipc.mjs', ...a]);
  console.log(`troupe benchmarks: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}), Node ${process.version}, ${ROUNDS} rounds, medians${python ? '' : ', python3 absent: Python anchors skipped'}`);
  console.log(`command: npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`);
  // The first spawn builds and caches the bundles: not what is measured.
  await stopAll([spawn(idle)]);
  await bareFork();

  if (want('spawn')) {
    const one = new Samples();
    const twenty = new Samples();
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < 3; i++) {
        one.add('troupe spawn (.ts actor)', await spawnOne(), 'ms');
        one.add('node child_process.fork (.mjs, same parent)', await bareFork(), 'ms');
      }
      twenty.add('troupe spawn ×20 (.ts actor)', await spawnTwenty(), 'ms');
      twenty.add('node child_process.fork ×20 (.mjs, same parent)', await forkTwenty(), 'ms');
      const p = py('spawn', '--repeat', '3');
      one.addAnchors(p, 'spawn_ready_ms');
      twenty.addAnchors(p, 'spawn20_ready_ms');
    }
    table('spawn → ready, one actor (ms, lower is better)', one.rows(), 'troupe spawn (.ts actor)', false);
    table('spawn → ready, 20 at once (ms, lower is better)', twenty.rows(), 'troupe spawn ×20 (.ts actor)', false);
  }
  if (want('send')) {
    const rows = new Samples();
    for (let r = 0; r < ROUNDS; r++) {
      rows.add('troupe send', await sendThroughput(), 'msg/s');
      const n = String(SEND_N);
      rows.addAnchors(nodeIpc('send', '--serialization', 'json', '--repeat', '1', '--n', n), 'send_msgs_per_s');
      rows.addAnchors(nodeIpc('send', '--serialization', 'advanced', '--repeat', '1', '--n', n), 'send_msgs_per_s');
      rows.addAnchors(py('send', '--repeat', '1', '--n', n), 'send_msgs_per_s');
    }
    table(`one-way small messages parent → child, ${SEND_N.toLocaleString('en-US')} a run (msg/s, higher is better)`, rows.rows(), 'troupe send', true);
  }
  if (want('rtt')) {
    const p50 = new Samples();
    const p99 = new Samples();
    for (let r = 0; r < ROUNDS; r++) {
      const ours = await roundTrip();
      p50.add('troupe call', ours.p50, 'µs');
      p99.add('troupe call', ours.p99, 'µs');
      for (const lines of [nodeIpc('rtt', '--serialization', 'json'), nodeIpc('rtt', '--serialization', 'advanced'), py('rtt')]) {
        p50.addAnchors(lines, 'rtt_p50_us');
        p99.addAnchors(lines, 'rtt_p99_us');
      }
    }
    table('round trip p50 (µs, lower is better)', p50.rows(), 'troupe call', false);
    table('round trip p99 (µs, lower is better)', p99.rows(), 'troupe call', false);
  }
  if (want('supervision')) {
    const restarts = new Samples();
    const trees = new Samples();
    for (let r = 0; r < (quick ? 1 : 3); r++) {
      for (const ms of await restartLatency()) restarts.add('troupe: child SIGKILLed → replacement ready', ms, 'ms');
      restarts.add('node child_process.fork (.mjs, same parent): fork → ready', await bareFork(), 'ms');
      const ours = await tree50();
      const bare = await fork50();
      trees.add('troupe Supervisor, 50 children: start', ours.start, 'ms');
      trees.add('50 bare forks one after another: start', bare.start, 'ms');
      trees.add('troupe Supervisor, 50 children: stop (graceful, reverse order)', ours.stop, 'ms');
      trees.add('50 bare forks: kill and reap, one after another', bare.stop, 'ms');
    }
    table('supervised restart latency (ms, lower is better)', restarts.rows(), 'troupe: child SIGKILLed → replacement ready', false);
    const rows = trees.rows();
    table('a tree of 50 actors: start (ms, lower is better)', rows.filter((r) => r.name.endsWith('start')), 'troupe Supervisor, 50 children: start', false);
    table('a tree of 50 actors: stop (ms, lower is better)', rows.filter((r) => !r.name.endsWith('start')), 'troupe Supervisor, 50 children: stop (graceful, reverse order)', false);
  }
  if (want('pool')) {
    const rate = new Samples();
    const first = new Samples();
    const one = new Samples();
    const cpu = new Samples();
    const startup = new Samples();
    // Each fresh pool's time over the fresh fork's run just after it: the machine's drift cancels out.
    const paired: number[] = [];
    for (let r = 0; r < (quick ? 1 : 3); r++) {
      const ours = await poolShapes();
      rate.add('troupe Pool.map (automatic chunksize)', ours.map!, 'tasks/s');
      first.add('troupe Pool.map, first 100,000-task map', ours.mapFirst!, 'tasks/s');
      one.add('troupe Pool.map (chunksize 1)', ours.c1!, 'tasks/s');
      one.add('troupe Pool.imapUnordered', ours.imap!, 'tasks/s');
      one.add('troupe Pool.applyAsync in a loop', ours.applyAsync!, 'tasks/s');
      cpu.add('troupe Pool.map, 200 × 10 ms CPU', ours.cpu!, 'ms');
      startup.add('troupe Pool(2): start → first result', ours.startup!, 'ms');
      startup.add('node child_process.fork (.mjs, same parent): fork → ready', await bareFork(), 'ms');
      // A fresh program's first pool against a fresh program's first fork, and its first naive
      // pool of two forks, started alike and interleaved.
      for (let k = 0; k < FRESH_PAIRS; k++) {
        const pool = anchor(process.execPath, ['--import', 'tsx', 'pool-start.ts']);
        const fork = anchor(process.execPath, ['--import', 'tsx', 'fork-start.ts']);
        startup.addAnchors(pool, 'startup_ms');
        startup.addAnchors(fork, 'startup_ms');
        if (pool[0] !== undefined && fork[0] !== undefined) paired.push(pool[0].value / fork[0].value);
        startup.addAnchors(anchor(process.execPath, ['--import', 'tsx', 'fork-pool-start.ts']), 'startup_ms');
      }
      if (python) {
        const maps = anchor('python3', ['anchors/python_pool.py', 'map']);
        rate.addAnchors(maps, 'tasks_per_s');
        first.addAnchors(maps, 'tasks_per_s_first');
        one.addAnchors(anchor('python3', ['anchors/python_pool.py', 'c1', '--n', String(C1_N)]), 'tasks_per_s_c1');
        one.addAnchors(anchor('python3', ['anchors/python_pool.py', 'imap', '--n', String(C1_N)]), 'tasks_per_s_c1');
        cpu.addAnchors(anchor('python3', ['anchors/python_pool.py', 'cpu']), 'cpu_wall_ms');
        startup.addAnchors(anchor('python3', ['anchors/python_pool.py', 'startup']), 'startup_ms');
      }
      one.addAnchors(anchor(process.execPath, ['anchors/node-pool.mjs', '--n', String(C1_N)]), 'tasks_per_s_c1');
      const batched = anchor(process.execPath, ['anchors/node-threads.mjs', 'batched']);
      rate.addAnchors(batched, 'tasks_per_s');
      first.addAnchors(batched, 'tasks_per_s_first');
      one.addAnchors(anchor(process.execPath, ['anchors/node-threads.mjs', 'c1', '--n', String(C1_N)]), 'tasks_per_s_c1');
    }
    cpu.add('ideal: 200 × 10 ms ÷ 2 cores', 1000, 'ms');
    table('Pool, 100,000 tiny tasks, automatic chunking (tasks/s, higher is better)', rate.rows(), 'troupe Pool.map (automatic chunksize)', true);
    table("Pool, the first 100,000-task map after each side's warm-up (tasks/s, higher is better; troupe's: each shape once at 5,000 items; Python's: a 100-item map; piscina's: none, its threads may still be starting)", first.rows(), 'troupe Pool.map, first 100,000-task map', true);
    table(`Pool, ${C1_N.toLocaleString('en-US')} tiny tasks, one task per message (tasks/s, higher is better)`, one.rows(), 'troupe Pool.map (chunksize 1)', true);
    table('Pool, 200 CPU-bound tasks of 10 ms on 2 workers (wall ms, lower is better)', cpu.rows(), 'troupe Pool.map, 200 × 10 ms CPU', false);
    table('Pool start → first result (ms, lower is better)', startup.rows(), 'troupe Pool(2): start → first result', false);
    const fresh = startup.rows().find((row) => row.name.startsWith('troupe Pool(2), first spawns of a fresh process'));
    const freshFork = startup.rows().find((row) => row.name.startsWith('node child_process.fork, first fork of a fresh process'));
    const freshForks = startup.rows().find((row) => row.name.startsWith('node child_process.fork ×2 (naive pool)'));
    const n = FRESH_PAIRS * (quick ? 1 : 3);
    if (fresh && freshFork) {
      console.log(`A fresh process's first Pool(2) result takes ${(fresh.value / freshFork.value).toFixed(2)}× a fresh process's first fork → ready (${fresh.value.toFixed(1)} against ${freshFork.value.toFixed(1)} ms, medians of ${n} interleaved runs each).`);
    }
    if (paired.length > 0) {
      const sorted = [...paired].sort((a, b) => a - b);
      console.log(`Run by run (each fresh pool over the fresh fork right after it): median ${median(paired).toFixed(2)}×, from ${sorted[0]!.toFixed(2)}× to ${sorted.at(-1)!.toFixed(2)}× over ${paired.length} pairs.`);
    }
    if (fresh && freshForks) {
      console.log(`and ${(fresh.value / freshForks.value).toFixed(2)}× a fresh process's naive pool of two forks → first result (${freshForks.value.toFixed(1)} ms).`);
    }
  }
  if (want('queue')) {
    const small = new Samples();
    const wide = new Samples();
    const big = new Samples();
    const pyq = (...a: string[]): ReturnType<typeof anchor> => (python ? anchor('python3', ['anchors/python_queue.py', ...a]) : []);
    // 1-2 s a run at these rates on either side: the steady state, not the fresh processes' warm-up.
    const N = quick ? 20_000 : 300_000;
    for (let r = 0; r < (quick ? 1 : 3); r++) {
      small.add('troupe Queue 1→1, puts in flight 256 at a time', await queueThroughput(1, 1, N, 256), 'items/s');
      small.add('troupe Queue 1→1, each put awaited', await queueThroughput(1, 1, quick ? 2_000 : 10_000, 1), 'items/s');
      small.addAnchors(pyq('small', '--n', String(N)), 'queue_small_1x1');
      wide.add('troupe Queue 2→2, puts in flight 256 at a time', await queueThroughput(2, 2, N, 256), 'items/s');
      wide.addAnchors(pyq('small', '--n', String(N), '--producers', '2', '--consumers', '2'), 'queue_small_2x2');
      big.add('troupe Queue 1→1, 1 MiB items', await queueThroughput(1, 1, 200, 8, 1 << 20), 'MB/s');
      big.addAnchors(pyq('big', '--n', '200'), 'queue_big_1x1');
    }
    table(`Queue, small items, 1 producer → 1 consumer (items/s, higher is better)`, small.rows(), 'troupe Queue 1→1, puts in flight 256 at a time', true);
    table(`Queue, small items, 2 producers → 2 consumers (items/s, higher is better)`, wide.rows(), 'troupe Queue 2→2, puts in flight 256 at a time', true);
    table('Queue, 1 MiB items, 1 → 1 (MB/s, 1 MB = 10^6 bytes, higher is better)', big.rows(), 'troupe Queue 1→1, 1 MiB items', true);
  }
  if (want('bulk')) {
    const rows = new Samples();
    for (let r = 0; r < ROUNDS; r++) {
      rows.add('troupe send (Buffer)', await bulk(), 'MB/s');
      rows.addAnchors(nodeIpc('bulk', '--repeat', '1'), 'bulk_MBps');
      rows.addAnchors(py('bulk', '--repeat', '1'), 'bulk_MBps');
    }
    table('1 MiB buffers parent → child (MB/s, 1 MB = 10^6 bytes, higher is better)', rows.rows(), 'troupe send (Buffer)', true);
  }
  if (want('sync')) {
    // Locks and shared values (issue 6): troupe's are served by a node, so each operation is a message round trip; Python's are futexes in shared memory.
    const rtt = new Samples();
    const contended = new Samples();
    const values = new Samples();
    for (let r = 0; r < (quick ? 1 : 3); r++) {
      const ours = await measureSync(quick);
      rtt.add('troupe Lock.withLock, child → lock in parent', ours.lockUs, 'µs');
      rtt.add('troupe acquire() + release(), child → parent', ours.callsUs, 'µs');
      rtt.add('troupe Lock.withLock, in the serving process', ours.localLockUs, 'µs');
      contended.add('troupe Lock, 2 processes contending', ours.contended, 'acq/s');
      values.add('troupe Value.add(1) (child)', ours.add, 'ops/s');
      values.add('troupe Value get+set in withLock (child)', ours.locked, 'ops/s');
      const lines = python ? anchor('python3', ['anchors/python_sync.py', '--n', quick ? '20000' : '100000']) : [];
      rtt.addAnchors(lines, 'lock_rtt_us');
      contended.addAnchors(lines, 'lock_contended_per_s');
      values.addAnchors(lines, 'value_inc_per_s');
    }
    table('uncontended Lock acquire+release (µs, lower is better)', rtt.rows(), 'troupe Lock.withLock, child → lock in parent', false);
    table('Lock, 2 processes contending (acquire+release per s, higher is better)', contended.rows(), 'troupe Lock, 2 processes contending', true);
    table('Value increments (per s, higher is better)', values.rows(), 'troupe Value.add(1) (child)', true);
    // The ratios are far below the table's two decimals: say them whole.
    const of = (rows: Row[], prefix: string): number | undefined => rows.find((row) => row.name.startsWith(prefix))?.value;
    const [ourRtt, pyRtt] = [of(rtt.rows(), 'troupe Lock.withLock, child'), of(rtt.rows(), 'python')];
    const [ourAdd, pyInc] = [of(values.rows(), 'troupe Value.add'), of(values.rows(), 'python')];
    if (ourRtt && pyRtt) console.log(`Python's futex lock is ${Math.round(ourRtt / pyRtt).toLocaleString('en-US')}× faster uncontended; a troupe withLock costs a round trip to the serving process and a send.`);
    if (ourAdd && pyInc) console.log(`Python's locked += 1 in shared memory is ${Math.round(pyInc / ourAdd).toLocaleString('en-US')}× the rate of troupe's Value.add(1), one round trip each (see docs/sync.md).`);
  }
}
