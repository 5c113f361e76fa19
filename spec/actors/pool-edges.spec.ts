/**
 * The pool at its edges: what cannot be sent, inputs left early, a pool ended
 * under an imap, modules that fail to load for a while. Each case is one that
 * hung, crashed the program or its worker, or leaked before it was fixed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Pool, RemoteError } from '../../index.ts';
import { setGlobal } from '../fixtures/tasks.ts';
import { double } from '../fixtures/tasks-flaky.ts';

const pools: Pool[] = [];
const pool = (options: ConstructorParameters<typeof Pool>[0] = { size: 1 }): Pool => {
  const p = new Pool(options);
  pools.push(p);
  return p;
};
afterEach(async () => {
  for (const p of pools.splice(0)) await p.terminate();
});

/** `promise`, or a rejection naming `what` if it has not settled within `ms`. */
function within<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
  return Promise.race([promise, sleep(ms, undefined, { ref: false }).then(() => Promise.reject(new Error(`${what}: not settled within ${ms} ms`)))]);
}

describe('Pool: task modules', () => {
  it('loads a task module again after it threw while loading, as Python imports it again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-flaky-'));
    const flag = join(dir, 'fail');
    try {
      writeFileSync(flag, '');
      const p = pool({ size: 1, initializer: setGlobal, initArgs: ['troupeFlakyFlag', flag] });
      const err = await p.apply(double, [1]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect(String((err as RemoteError).cause)).toMatch(/threw while loading: the module cannot load/);
      rmSync(flag);
      // The same worker: before, it answered every later task with the first failure.
      expect(await p.apply(double, [21])).toBe(42);
      expect(await p.map(double, [1, 2, 3])).toEqual([2, 4, 6]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
