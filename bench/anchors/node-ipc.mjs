// Anchor: Node's built-in child_process IPC, run by bench/run.ts beside troupe's numbers.
//
//   node bench/anchors/node-ipc.mjs <spawn|send|rtt|bulk> [--serialization json|advanced] [--n N] [--repeat R]
//
// stdout carries only JSON lines {"anchor","metric","value","unit"}; diagnostics go to stderr.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./node-child.mjs', import.meta.url));
const SAFETY_MS = 120_000;

const [kase, ...rest] = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 && rest[i + 1] !== undefined ? rest[i + 1] : fallback;
};
const num = (name, fallback) => {
  const v = Number(opt(name, fallback));
  if (!Number.isInteger(v) || v < 1) fail(`--${name} must be a positive integer`);
  return v;
};
const serialization = opt('serialization', 'json');
if (serialization !== 'json' && serialization !== 'advanced') fail('--serialization must be json or advanced');

// ---- children: every one we start is tracked, so nothing outlives us ---------

const live = new Set();

function start(mode, args = [], ser = 'json') {
  // execArgv: [] so the child is plain `node`, whatever flags ran this script;
  // stdout ignored so a child can never write into our JSON stream.
  const child = fork(CHILD, [mode, ...args.map(String)], {
    serialization: ser,
    execArgv: [],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  live.add(child);
  child.exited = new Promise((resolve) => child.once('exit', resolve));
  child.exited.then((code) => {
    live.delete(child);
    // A child that dies on its own would leave us awaiting a message forever.
    if (!child.stopping) fail(`child ${mode} exited early (code ${code})`);
  });
  child.on('error', (e) => fail(`child error: ${e.message}`));
  return child;
}

const nextMessage = (child) => new Promise((resolve) => child.once('message', resolve));

async function stop(...children) {
  for (const c of children) {
    c.stopping = true;
    c.kill();
  }
  await Promise.all(children.map((c) => c.exited));
}

function fail(why) {
  console.error(`node-ipc: ${why}`);
  for (const c of live) c.kill('SIGKILL');
  process.exit(1);
}

// A hung child must not hang the harness; unref'd so it never delays a normal exit.
setTimeout(() => fail(`gave up after ${SAFETY_MS / 1000} s`), SAFETY_MS).unref();

// ---- statistics and output ---------------------------------------------------

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => {
  const s = sorted(xs);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
// Same nearest-rank rule as bench/run.ts, so the percentiles are comparable.
const percentile = (xs, p) => {
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const round = (v, digits) => Number(v.toFixed(digits));
const emit = (anchor, metric, value, unit) => process.stdout.write(JSON.stringify({ anchor, metric, value, unit }) + '\n');

// ---- cases -------------------------------------------------------------------

async function spawnCase() {
  const once = async () => {
    const t = performance.now();
    const c = start('ready');
    await nextMessage(c);
    const ms = performance.now() - t;
    await stop(c);
    return ms;
  };
  // One unmeasured fork first: warms the file cache and the parent's lazy
  // internals, as bench/run.ts does for troupe.
  await once();
  const ones = [];
  for (let r = 0; r < num('repeat', 15); r++) ones.push(await once());
  emit('node child_process.fork', 'spawn_ready_ms', round(median(ones), 2), 'ms');

  const twenties = [];
  for (let r = 0; r < num('repeat', 5); r++) {
    const t = performance.now();
    const cs = Array.from({ length: 20 }, () => start('ready'));
    await Promise.all(cs.map(nextMessage));
    twenties.push(performance.now() - t);
    await stop(...cs);
  }
  emit('node child_process.fork ×20', 'spawn20_ready_ms', round(median(twenties), 2), 'ms');
}

// Sends msgs in order, honouring process.send's backpressure signal: once send()
// returns false (over 128 KiB queued in the pipe), the next message carries a
// callback and we wait until it is written. Node never drops IPC messages, it
// queues them in memory, so ignoring `false` would not deadlock either; this
// just keeps memory bounded for any N at no measurable cost.
async function sendAll(child, count, make) {
  let backedUp = false;
  for (let i = 0; i < count; i++) {
    const m = make(i);
    if (backedUp) {
      await new Promise((resolve, reject) => child.send(m, (e) => (e ? reject(e) : resolve())));
      backedUp = false;
    } else {
      backedUp = !child.send(m);
    }
  }
}

// Fresh child per run, clock started once it is ready: the same shape as troupe's
// sendThroughput in bench/run.ts.
async function sendCase() {
  const n = num('n', 200_000);
  const runs = [];
  for (let r = 0; r < num('repeat', 5); r++) {
    const c = start('count', [n], serialization);
    await nextMessage(c);
    const done = nextMessage(c);
    const t = performance.now();
    await sendAll(c, n, (i) => ({ i, body: 'hello' }));
    await done;
    runs.push(n / ((performance.now() - t) / 1000));
    await stop(c);
  }
  emit(`node process.send (${serialization})`, 'send_msgs_per_s', Math.round(median(runs)), 'msg/s');
}

async function rttCase() {
  const n = num('n', 5000);
  const c = start('echo', [], serialization);
  await nextMessage(c);
  const message = { i: 0, body: 'hello' };
  for (let i = 0; i < 500; i++) {
    c.send(message);
    await nextMessage(c);
  }
  const us = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    c.send(message);
    await nextMessage(c);
    us.push((performance.now() - t) * 1000);
  }
  await stop(c);
  emit(`node process.send round trip (${serialization})`, 'rtt_p50_us', round(percentile(us, 50), 1), 'µs');
  emit(`node process.send round trip (${serialization})`, 'rtt_p99_us', round(percentile(us, 99), 1), 'µs');
}

// Always advanced serialization: json would turn a Buffer into an array of numbers.
// One ack at the end, with the same backpressure as sendCase.
// MB/s with 1 MB = 10^6 bytes.
async function bulkCase() {
  const n = num('n', 200);
  const buf = Buffer.alloc(1024 * 1024, 1);
  const runs = [];
  for (let r = 0; r < num('repeat', 5); r++) {
    const c = start('bytes', [n], 'advanced');
    await nextMessage(c);
    const done = nextMessage(c);
    const t = performance.now();
    await sendAll(c, n, () => buf);
    const bytes = await done;
    const s = (performance.now() - t) / 1000;
    if (bytes !== n * buf.byteLength) fail(`child counted ${bytes} bytes, expected ${n * buf.byteLength}`);
    runs.push(bytes / 1e6 / s);
    await stop(c);
  }
  emit('node process.send Buffer (advanced)', 'bulk_MBps', round(median(runs), 1), 'MB/s');
}

const cases = { spawn: spawnCase, send: sendCase, rtt: rttCase, bulk: bulkCase };
if (!cases[kase]) fail(`usage: node-ipc.mjs <${Object.keys(cases).join('|')}> [--serialization json|advanced] [--n N] [--repeat R]`);
try {
  await cases[kase]();
} catch (e) {
  fail(e?.stack ?? String(e));
}
