/**
 * Pool(2) start → first result in a process that has spawned nothing yet (so
 * no spare host is waiting): run by run.ts as its own process, prints one
 * JSON line as the anchors do.
 */
import { Pool, isMain } from '../index.ts';
import { squareTask } from './actors.ts';

if (isMain(import.meta)) {
  const t = performance.now();
  const pool = new Pool({ size: 2 });
  await pool.apply(squareTask, [2]);
  const ms = performance.now() - t;
  await pool.terminate();
  const anchor = 'troupe Pool(2), first spawns of a fresh process (no spare host yet)';
  console.log(JSON.stringify({ anchor, metric: 'startup_ms', value: Math.round(ms * 10) / 10, unit: 'ms' }));
}
