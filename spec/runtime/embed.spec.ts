import { describe, expect, it } from 'vitest';
import { Supervisor, current, isDown, node, spawn, startNode, stopTree, type Down } from '../../index.ts';
import { printer, stubborn } from '../fixtures/actors.ts';
import { reap } from '../helpers.ts';

describe('embedding', () => {
  it('startNode returns the root node and checks its options', () => {
    expect(startNode()).toBe(node());
    expect(node().parentless).toBe(true);
    expect(() => startNode({ shutdownBudgetMs: -1 })).toThrow('Expected `shutdownBudgetMs` to be a number of milliseconds >= 0, got `-1` (number).');
    expect(() => startNode({ handleSignals: 'yes' as never })).toThrow('Expected `handleSignals` to be a boolean');
  });

  it('stopTree stops every actor this process started, newest first', async () => {
    const a = reap(spawn(printer, { name: 'older' }));
    const b = reap(spawn(stubborn, { shutdown: 200 }));
    await Promise.all([a.ready, b.ready]);
    await stopTree();
    expect(a.exitCode).toBe(0);
    // No stop hook and it never returns: SIGTERM once its stop hooks ran.
    expect(b.exitCode).toBe(-15);
  });

  it('a node disposes with await using by stopping its tree', async () => {
    const a = reap(spawn(printer));
    await a.ready;
    {
      await using _root = node();
    }
    expect(a.exitCode).toBe(0);
  });

  it('a supervisor disposes with await using by stopping', async () => {
    let ref;
    {
      await using sup = Supervisor.start({ children: [{ id: 'p', actor: printer }] });
      await sup.ready;
      ref = sup.ref;
      current().monitor(ref);
    }
    const down = await current().receive({ match: (m): m is Down => isDown(m) && m.actor.id === ref.id, timeout: 20_000 });
    expect(down.reason).toBe('shutdown');
    expect(ref.exitCode).toBe(0);
  });
});
