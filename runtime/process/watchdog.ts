/**
 * The orphan watch of an actor process, where the kernel cannot be asked to
 * signal the process when its parent dies (no setpriv: see child.ts). The
 * control pipe's EOF tells an idle process that its parent died; a process
 * busy in a long synchronous loop never reads it. This thread checks the
 * parent pid every 200 ms and, when the parent is gone, kills the process's
 * descendants and then the process, whatever its main thread is doing.
 */
const MAX_PIDS = 4096;
const POLL_MS = 200;

// [count, pid, pid, …], written by the main thread, read by the watchdog.
const shared = new Int32Array(new SharedArrayBuffer(4 * (MAX_PIDS + 1)));

// Plain JS run with eval: there is no module to bundle for it.
const SOURCE = `
const { workerData } = require('node:worker_threads');
const pids = new Int32Array(workerData.pids);
const nap = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  Atomics.wait(nap, 0, 0, ${POLL_MS});
  if (process.ppid === workerData.ppid) continue;
  const n = Atomics.load(pids, 0);
  for (let i = 1; i <= n; i++) { try { process.kill(Atomics.load(pids, i), 'SIGKILL'); } catch {} }
  process.kill(workerData.self, 'SIGKILL');
}
`;

let started = false;

/** Starts the watch (once); it never keeps the process alive. */
export async function startWatchdog(): Promise<void> {
  if (started) return;
  started = true;
  // Loaded after `ready`, so that a spawn does not wait for it.
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(SOURCE, { eval: true, workerData: { pids: shared.buffer, ppid: process.ppid, self: process.pid }, stdout: false, stderr: false });
  worker.unref();
  worker.on('error', () => {});
}

/** Tells the watch which pids live below this process. */
export function watchPids(pids: readonly number[]): void {
  const n = Math.min(pids.length, MAX_PIDS);
  for (let i = 0; i < n; i++) Atomics.store(shared, i + 1, pids[i]!);
  Atomics.store(shared, 0, n);
}
