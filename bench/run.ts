/**
 * `npm run bench`: troupe beside Node's child_process IPC and Python's
 * multiprocessing, measured side by side in one run on this machine.
 * Prints medians and ratios; never passes or fails on time.
 *
 *   npm run bench [-- --only spawn,send,rtt,bulk] [-- --quick]
 */
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { current, isMain, spawn, type ChildRef } from '../index.ts';
import { byteSink, idle, pong, sink } from './actors.ts';

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

function anchorRows(lines: ReturnType<typeof anchor>, metric: string): Row[] {
  return lines.filter((l) => l.metric === metric).map((l) => ({ name: l.anchor, value: l.value, unit: l.unit }));
}

async function stopAll(refs: ChildRef[]): Promise<void> {
  for (const r of refs) r.kill();
  await Promise.all(refs.map((r) => r.join()));
}

// ---- troupe's own measurements --------------------------------------------

async function spawnReady(): Promise<{ one: number; twenty: number }> {
  // The first spawn builds and caches the bundles: not what is measured.
  const warm = spawn(idle);
  await warm.ready;
  await stopAll([warm]);
  const ones: number[] = [];
  for (let i = 0; i < (quick ? 5 : 15); i++) {
    const t = performance.now();
    const ref = spawn(idle);
    await ref.ready;
    ones.push(performance.now() - t);
    await stopAll([ref]);
  }
  const twenties: number[] = [];
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    const t = performance.now();
    const refs = Array.from({ length: 20 }, () => spawn(idle));
    await Promise.all(refs.map((r) => r.ready));
    twenties.push(performance.now() - t);
    await stopAll(refs);
  }
  return { one: median(ones), twenty: median(twenties) };
}

async function sendThroughput(): Promise<number> {
  const n = quick ? 100_000 : 200_000;
  const runs: number[] = [];
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    const ref = spawn(sink, { args: [n] });
    await ref.ready;
    const t = performance.now();
    for (let j = 0; j < n; j++) ref.send({ i: j, body: 'hello' });
    await current().receive({ timeout: 120_000 });
    runs.push(n / ((performance.now() - t) / 1000));
    await stopAll([ref]);
  }
  return median(runs);
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
  const runs: number[] = [];
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    const ref = spawn(byteSink, { args: [n] });
    await ref.ready;
    const t = performance.now();
    for (let j = 0; j < n; j++) ref.send(buf);
    await current().receive({ timeout: 120_000 });
    runs.push((n * buf.byteLength) / 1e6 / ((performance.now() - t) / 1000));
    await stopAll([ref]);
  }
  return median(runs);
}

// ---- main -----------------------------------------------------------------

if (isMain(import.meta)) {
  const want = (k: string): boolean => only === null || only.has(k);
  const python = hasPython();
  const py = (c: string): ReturnType<typeof anchor> => (python ? anchor('python3', ['anchors/python_mp.py', c]) : []);
  const nodeIpc = (...a: string[]): ReturnType<typeof anchor> => anchor(process.execPath, ['anchors/node-ipc.mjs', ...a]);
  console.log(`troupe benchmarks: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown cpu'}), Node ${process.version}${python ? '' : ', python3 absent: Python anchors skipped'}`);
  console.log(`command: npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`);

  if (want('spawn')) {
    const ours = await spawnReady();
    const node = nodeIpc('spawn');
    const pyl = py('spawn');
    table('spawn → ready, one actor (ms, lower is better)', [{ name: 'troupe spawn (.ts actor)', value: ours.one, unit: 'ms' }, ...anchorRows(node, 'spawn_ready_ms'), ...anchorRows(pyl, 'spawn_ready_ms')], 'troupe spawn (.ts actor)', false);
    table('spawn → ready, 20 at once (ms, lower is better)', [{ name: 'troupe spawn ×20 (.ts actor)', value: ours.twenty, unit: 'ms' }, ...anchorRows(node, 'spawn20_ready_ms'), ...anchorRows(pyl, 'spawn20_ready_ms')], 'troupe spawn ×20 (.ts actor)', false);
  }
  if (want('send')) {
    const ours = await sendThroughput();
    table('one-way small messages parent → child (msg/s, higher is better)', [
      { name: 'troupe send', value: ours, unit: 'msg/s' },
      ...anchorRows(nodeIpc('send', '--serialization', 'json'), 'send_msgs_per_s'),
      ...anchorRows(nodeIpc('send', '--serialization', 'advanced'), 'send_msgs_per_s'),
      ...anchorRows(py('send'), 'send_msgs_per_s'),
    ], 'troupe send', true);
  }
  if (want('rtt')) {
    const ours = await roundTrip();
    const json = nodeIpc('rtt', '--serialization', 'json');
    const adv = nodeIpc('rtt', '--serialization', 'advanced');
    const pyl = py('rtt');
    table('round trip p50 (µs, lower is better)', [{ name: 'troupe call', value: ours.p50, unit: 'µs' }, ...anchorRows(json, 'rtt_p50_us'), ...anchorRows(adv, 'rtt_p50_us'), ...anchorRows(pyl, 'rtt_p50_us')], 'troupe call', false);
    table('round trip p99 (µs, lower is better)', [{ name: 'troupe call', value: ours.p99, unit: 'µs' }, ...anchorRows(json, 'rtt_p99_us'), ...anchorRows(adv, 'rtt_p99_us'), ...anchorRows(pyl, 'rtt_p99_us')], 'troupe call', false);
  }
  if (want('bulk')) {
    const ours = await bulk();
    table('1 MiB buffers parent → child (MB/s, 1 MB = 10^6 bytes, higher is better)', [{ name: 'troupe send (Buffer)', value: ours, unit: 'MB/s' }, ...anchorRows(nodeIpc('bulk'), 'bulk_MBps'), ...anchorRows(py('bulk'), 'bulk_MBps')], 'troupe send (Buffer)', true);
  }
}
