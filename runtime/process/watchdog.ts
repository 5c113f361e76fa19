/**
 * The orphan watch of an actor process, where the kernel cannot be asked to
 * signal the process when its parent dies (no setpriv: see child.ts). The
 * control pipe's EOF tells an idle process that its parent died; a process
 * busy in a long synchronous loop never reads it. This thread checks the
 * parent pid every 200 ms and, when the parent is gone, kills the process's
 * descendants (those /proc still shows below it) and then the process,
 * whatever its main thread is doing. For an actor spawned with
 * `deathSignal: 'TERM'` it runs with the parent-death signal too: the
 * process is sent SIGTERM (by the kernel, or by this thread) and given its
 * grace first, and is killed after it, busy or not.
 */
import { createRequire } from 'node:module';

const MAX_PIDS = 4096;
const POLL_MS = 200;

// [count, pid, pid, …], written by the main thread, read by the watchdog.
const shared = new Int32Array(new SharedArrayBuffer(4 * (MAX_PIDS + 1)));

// Plain JS run with eval: there is no module to bundle for it.
// A reported pid is killed only if /proc still shows it below this process: one that ended since its
// report may already name an unrelated process (pids wrap within a minute on a busy machine). The
// whole set is found before any is killed, since killing a child reparents its children. Without
// /proc, every reported pid is killed, as before.
const SOURCE = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const pids = new Int32Array(workerData.pids);
const nap = new Int32Array(new SharedArrayBuffer(4));
const proc = fs.existsSync('/proc/self/stat');
function below(pid) {
  let at = pid;
  for (let depth = 0; depth < 64; depth++) {
    let stat;
    try { stat = fs.readFileSync('/proc/' + at + '/stat', 'utf8'); } catch { return false; }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === workerData.self) return true;
    if (ppid <= 1) return false;
    at = ppid;
  }
  return false;
}
for (;;) {
  Atomics.wait(nap, 0, 0, ${POLL_MS});
  if (process.ppid === workerData.ppid) continue;
  // deathSignal TERM: the process is asked first (by the kernel, or here where there is no
  // parent-death signal), and given its grace to end by itself.
  if (workerData.graceMs !== null) {
    if (workerData.sendTerm) { try { process.kill(workerData.self, 'SIGTERM'); } catch {} }
    if (workerData.graceMs > 0) Atomics.wait(nap, 0, 0, workerData.graceMs);
  }
  const n = Atomics.load(pids, 0);
  const doomed = [];
  // A negative entry -g is a program's process group, killed whole while its leader g is below.
  for (let i = 1; i <= n; i++) { const pid = Atomics.load(pids, i); if (!proc || below(Math.abs(pid))) doomed.push(pid); }
  for (const pid of doomed) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  process.kill(workerData.self, 'SIGKILL');
}
`;

let started = false;

/**
 * Starts the watch (once); it never keeps the process alive. Called after
 * `ready`, so that a spawn does not wait for it, and synchronously, before
 * the behaviour runs: one busy from its first line never gives the event
 * loop the turn an `import()` would wait for, and outlived its parent.
 */
export function startWatchdog(parentPid: number, graceMs: number | null = null, sendTerm = false): void {
  if (started) return;
  started = true;
  const { Worker } = createRequire(import.meta.url)('node:worker_threads') as typeof import('node:worker_threads');
  // The parent's own pid, not process.ppid now: a parent that died while this process started has
  // left it to init already, and process.ppid would never change again.
  const worker = new Worker(SOURCE, { eval: true, workerData: { pids: shared.buffer, ppid: parentPid, self: process.pid, graceMs, sendTerm }, stdout: false, stderr: false });
  worker.unref();
  worker.on('error', () => {});
}

/** Tells the watch which pids live below this process. */
export function watchPids(pids: readonly number[]): void {
  const n = Math.min(pids.length, MAX_PIDS);
  for (let i = 0; i < n; i++) Atomics.store(shared, i + 1, pids[i]!);
  Atomics.store(shared, 0, n);
}
