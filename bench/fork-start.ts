/**
 * The anchor for pool-start.ts: the first `child_process.fork` of a process
 * started the same way (`node --import tsx`), fork → the child's first
 * message. Run by run.ts as its own process; prints one JSON line.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./anchors/node-child.mjs', import.meta.url));
const t = performance.now();
const child = fork(CHILD, ['ready'], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
await new Promise((resolve) => child.once('message', resolve));
const ms = performance.now() - t;
child.kill();
const anchor = 'node child_process.fork, first fork of a fresh process';
console.log(JSON.stringify({ anchor, metric: 'startup_ms', value: Math.round(ms * 10) / 10, unit: 'ms' }));
