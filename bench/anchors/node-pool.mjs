// Anchor: a naive pool of two child_process.fork workers, one IPC message per
// task and one per result, round robin, all tasks sent at once.
//
//   node bench/anchors/node-pool.mjs [--n N]
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const i = process.argv.indexOf('--n');
const n = i > 0 ? Number(process.argv[i + 1]) : 20_000;
const worker = fileURLToPath(new URL('./node-pool-worker.mjs', import.meta.url));
const children = [0, 1].map(() => fork(worker, [], { execArgv: [], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
await Promise.all(children.map((c) => new Promise((resolve) => c.once('message', resolve))));
let done = 0;
const t = performance.now();
await new Promise((resolve) => {
  for (const c of children) c.on('message', () => ++done === n && resolve());
  for (let k = 0; k < n; k++) children[k % 2].send(k);
});
process.stdout.write(JSON.stringify({ anchor: 'naive fork pool (one message per task)', metric: 'tasks_per_s_c1', value: Math.round(n / ((performance.now() - t) / 1000)), unit: 'tasks/s' }) + '\n');
for (const c of children) c.kill();
