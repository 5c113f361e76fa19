/**
 * The two-worker anchor for pool-start.ts: a fresh process (started the same
 * way, `node --import tsx`) forks a naive pool of two `child_process.fork`
 * workers and sends the first its first task at once, as troupe's Pool(2)
 * does; first fork → that task's result. Run by run.ts as its own process;
 * prints one JSON line.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('./anchors/node-pool-worker.mjs', import.meta.url));
const t = performance.now();
const children = [0, 1].map(() => fork(WORKER, [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
const result = new Promise((resolve) => children[0]!.on('message', (m) => typeof m === 'number' && resolve(m)));
children[0]!.send(2);
await result;
const ms = performance.now() - t;
for (const child of children) child.kill();
const anchor = 'node child_process.fork ×2 (naive pool), first forks of a fresh process → first result';
console.log(JSON.stringify({ anchor, metric: 'startup_ms', value: Math.round(ms * 10) / 10, unit: 'ms' }));
