import { Pool, isMain } from '../index.ts';
import { squareTask } from './actors.ts';
if (isMain(import.meta)) {
  const t = performance.now();
  console.error('t0 at', t.toFixed(0), 'heap', (process.memoryUsage().heapUsed / 1e6).toFixed(1));
  const pool = new Pool({ size: 2 });
  await pool.apply(squareTask, [2]);
  console.error('result at', performance.now().toFixed(0), 'took', (performance.now() - t).toFixed(1));
  await pool.terminate();
}
