import { describe, expect, it } from 'vitest';
import { Barrier, Condition, Connection, Event, InvalidArgumentError, JoinableQueue, Lock, Pipe, Pool, Queue, Semaphore, SharedArray, SimpleQueue, Supervisor, Value, actor, commandSpec, current, isMain, run, spawn, spawnCommand, startNode, wait } from '../../index.ts';
import { echo } from '../fixtures/actors.ts';
import { square } from '../fixtures/tasks.ts';
import { poolMaker, reap } from '../helpers.ts';

const pool = poolMaker({ size: 1 });

/** What `promise` rejects with (or a note that it settled otherwise within 10 s). */
async function refusal(promise: Promise<unknown>): Promise<unknown> {
  const late = new Promise((resolve) => setTimeout(resolve, 10_000, 'still waiting after 10 s').unref());
  return Promise.race([promise.then((value) => `resolved ${String(value)}`, (err: unknown) => err), late]);
}

describe('options that are not options', () => {
  it('are refused with InvalidArgumentError, not taken as none (a wait with no deadline) nor left to fail deep inside', async () => {
    const ref = reap(spawn(echo));
    const queue = new Queue<number>();
    const [a] = Pipe();
    const p = pool();
    const refused = [
      ref.call('hi', 'x' as never),
      ref.call('hi', { signal: 'x' as never }),
      ref.join('x' as never),
      ref.stop(5 as never),
      queue.get('x' as never),
      queue.put(1, 'x' as never),
      a.poll('x' as never),
      a.recvBytes(-1 as never),
      p.apply(square, [2], 'x' as never),
      p.map(square, [1, 2], 'x' as never),
      p.map(square, [1, 2], { onProgress: 5 as never }),
      // Before, the callback's TypeError came when the task settled, uncaught: the program crashed.
      p.applyAsync(square, [2], { callback: 5 as never }),
      p.applyAsync(square, [2], { errorCallback: 'x' as never }),
    ];
    for (const [i, promise] of refused.entries()) {
      const got = await refusal(promise);
      expect(got, `case ${i}: ${String(got)}`).toBeInstanceOf(InvalidArgumentError);
    }
    expect(() => p.imap(square, [1], 'x' as never)).toThrow(InvalidArgumentError);
    // null is no options, as undefined is, and a null signal no signal.
    expect(await ref.call('hi', null as never)).toBe('hi');
    expect(await ref.call('hi', { signal: null as never })).toBe('hi');
    expect(await p.applyAsync(square, [3], null as never)).toBe(9);
    expect(await p.mapAsync(square, [1, 2], null as never)).toEqual([1, 4]);
    expect(ref.isAlive()).toBe(true);
    await a.close();
    await queue.close();
  });
});

describe('arguments that are not what they must be', () => {
  it('are refused where they are given, not in the actor or the host that would use them', async () => {
    const ctx = current();
    expect(() => ctx.onStop(5 as never)).toThrow(InvalidArgumentError);
    expect(() => ctx.monitor(null as never)).toThrow(InvalidArgumentError);
    expect(() => ctx.link({} as never)).toThrow(InvalidArgumentError);
    expect(() => ctx.unlink('id' as never)).toThrow(InvalidArgumentError);
    expect(() => {
      ctx.trapExits = 'yes' as never;
    }).toThrow(InvalidArgumentError);
    expect(ctx.trapExits).toBe(false);
    await expect(ctx.receive('x' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(ctx.receive({ match: 5 as never, timeout: 1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    // A class that does not extend Actor failed at spawn, in the actor's process; a method named class is no class.
    expect(() => actor(class Plain {} as never)).toThrow(/does not extend Actor/);
    expect(() => actor({ class: (_ctx: unknown) => undefined }.class)).not.toThrow();
    expect(() => actor({ class(_ctx: unknown) {} }.class)).not.toThrow();
    // A maxsize, which a SimpleQueue has not, was dropped: an unbounded queue.
    expect(() => new SimpleQueue({ maxsize: 3 } as never)).toThrow(InvalidArgumentError);
    expect(() => new SimpleQueue('x' as never)).toThrow(InvalidArgumentError);
    await new SimpleQueue({ maxsize: undefined } as never).close();
    for (const spec of [{ maxRestarts: 1.5 }, { backoff: { minMs: Infinity } }, { backoff: { maxMs: 2 ** 31 } }]) {
      expect(() => Supervisor.start(spec as never), JSON.stringify(spec)).toThrow(InvalidArgumentError);
    }
    // A period is compared with timestamps, never a timer: any length is one ("at most N restarts, ever").
    const forever = Supervisor.start({ periodMs: Infinity, backoff: { resetAfterMs: 30 * 24 * 3600e3 } });
    await forever.ready;
    expect(await forever.stop({ timeout: 10_000 })).toBe(0);
    // These failed in the command's host (exit code 1), or ran with no limit.
    expect(() => spawnCommand('true', [], { encoding: 'bogus' as never })).toThrow(InvalidArgumentError);
    expect(() => spawnCommand('true', [], { output: 5 as never })).toThrow(InvalidArgumentError);
    expect(() => spawnCommand('true', [], { shell: 'yes' as never })).toThrow(InvalidArgumentError);
    await expect(run('cat', [], { input: 5 as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(run('true', [], { limit: 'x' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(run('true', [], 'x' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    const cat = spawnCommand('cat');
    try {
      expect(() => cat.send(5 as never)).toThrow(InvalidArgumentError);
      await expect(cat.output({ limit: 'x' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
      expect(cat.isAlive()).toBe(true);
    } finally {
      cat.kill();
      await cat.join({ timeout: 10_000 });
    }
  });

  it('are refused for the functions and lengths of locks, conditions and shared values, not failed inside them', async () => {
    const lock = new Lock();
    const value = new Value('int32', 1);
    const array = new SharedArray('int32', 4);
    const cond = new Condition();
    // Before: "fn is not a function" from inside, the lock taken and given back on the way.
    await expect(lock.withLock(5 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(value.update('x' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(array.update(0, 5 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(cond.waitFor(5 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    // Before: a bare RangeError; and a negative length was taken as nothing to set.
    expect(() => new SharedArray('int32', 2 ** 53)).toThrow(InvalidArgumentError);
    await expect(array.setSlice(0, { length: 2 ** 40 } as never)).rejects.toThrow(/do not fit/);
    await expect(array.setSlice(0, [1, 2, 3, 4, 5])).rejects.toThrow(/do not fit/);
    await expect(array.setSlice(0, { length: -1 } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await value.get()).toBe(1);
    // Before, null was taken for 0, where Python's Value('i', None) is a TypeError.
    expect(() => new Value('int32', null as never)).toThrow('the initial value must be a number for kind int32, got object null.');
  });

  it('are refused for isMain() and a Connection made by hand, with InvalidArgumentError', () => {
    // Before, isMain() of anything but import.meta was false (main code that never ran), and a plain TypeError here.
    expect(() => isMain(undefined as never)).toThrow("Expected `isMain() argument` to be the module's `import.meta`, got `undefined` (undefined).");
    expect(() => isMain({} as never)).toThrow(InvalidArgumentError);
    expect(() => new (Connection as unknown as new () => unknown)()).toThrow(InvalidArgumentError);
  });
});

describe('options a function does not take', () => {
  it('are refused, naming the right spelling where one is close, not dropped without a word', async () => {
    const ref = reap(spawn(echo));
    const queue = new Queue<number>();
    const [a, b] = Pipe();
    const lock = new Lock();
    const p = pool();
    // Python's spellings: before, each was dropped, so `block: false` waited for ever and
    // `processes: 4` made a pool as wide as the machine.
    expect(() => new Pool({ processes: 4 } as never)).toThrow("Unknown option `processes` in Pool options: Python's `processes` is `size` here.");
    expect(() => new Pool({ maxtasksperchild: 1 } as never)).toThrow('Unknown option `maxtasksperchild` in Pool options: did you mean `maxTasksPerChild`?');
    await expect(queue.get({ block: false } as never)).rejects.toThrow("Unknown option `block` in get() options: Python's `block=False` is `{ timeout: 0 }` here (or getNowait() / putNowait()).");
    await expect(p.mapAsync(square, [1], { error_callback: () => {} } as never)).rejects.toThrow('Unknown option `error_callback` in mapAsync() options: did you mean `errorCallback`?');
    expect(() => spawn(echo, { target: echo } as never)).toThrow(/Unknown option `target` in spawn\(\) options: the actor is spawn\(\)'s first argument/);
    expect(() => Supervisor.start({ intensity: 3 } as never)).toThrow("Unknown option `intensity` in supervisor spec: OTP's `intensity` is `maxRestarts` here.");
    await expect(lock.acquire({ block: false } as never)).rejects.toThrow('Unknown option `block` in Lock.acquire() options: did you mean `blocking`?');
    // Any other unknown key, everywhere options are taken.
    const refused: [string, () => unknown][] = [
      ['call', () => ref.call('hi', { timout: 10 } as never)],
      ['join', () => ref.join({ timout: 10 } as never)],
      ['stop', () => ref.stop({ grace: 10 } as never)],
      ['receive', () => current().receive({ timout: 10 } as never)],
      ['spawn', () => spawn(echo, { deamon: true } as never)],
      ['mailbox', () => spawn(echo, { mailbox: { maxsize: 3 } } as never)],
      ['startNode', () => startNode({ signals: false } as never)],
      ['startNode uncaught', () => startNode({ uncught: 'exit' } as never)],
      ['put', () => queue.put(1, { wait: 0 } as never)],
      ['Queue', () => new Queue({ size: 3 } as never)],
      ['JoinableQueue', () => new JoinableQueue({ size: 3 } as never)],
      ['SimpleQueue', () => new SimpleQueue({ size: 3 } as never)],
      ['Pipe', () => Pipe({ duplexx: false } as never)],
      ['recv', () => a.recv({ timout: 0 } as never)],
      ['recvBytes', () => a.recvBytes({ maxlen: 3 } as never)],
      ['poll', () => a.poll({ timout: 0 } as never)],
      ['wait', () => wait([a], { timout: 0 } as never)],
      ['Event.wait', () => new Event().wait({ timout: 0 } as never)],
      ['Semaphore.acquire', () => new Semaphore(1).acquire({ timout: 0 } as never)],
      ['Barrier', () => new Barrier(2, { timout: 10 } as never)],
      ['apply', () => p.apply(square, [1], { chunksize: 2 } as never)],
      ['applyAsync', () => p.applyAsync(square, [1], { onProgress: () => {} } as never)],
      ['map', () => p.map(square, [1], { callback: () => {} } as never)],
      ['imap', () => p.imap(square, [1], { chunk_size: 2 } as never)],
      ['child spec', () => Supervisor.start({ children: [{ id: 'a', actor: echo, restrat: 'temporary' }] } as never)],
      ['backoff', () => Supervisor.start({ backoff: { min: 1 } } as never)],
      ['Supervisor.start', () => Supervisor.start({}, { deamon: true } as never)],
      ['spawnCommand', () => spawnCommand('true', [], { capture_output: true } as never)],
      ['run', () => run('true', [], { check: true } as never)],
      ['commandSpec', () => commandSpec('c', 'true', [], { output: () => {} } as never)],
    ];
    for (const [what, call] of refused) {
      let got: unknown;
      try {
        got = await refusal(Promise.resolve(call()));
      } catch (err) {
        got = err;
      }
      expect(got, what).toBeInstanceOf(InvalidArgumentError);
      expect(String((got as Error).message), what).toMatch(/^Unknown option `/);
    }
    // Not options at all: a signal where its options go, an array, a string spread into keys.
    const barrier = new Barrier(2);
    for (const [what, call] of [
      ['get(signal)', () => queue.get(AbortSignal.timeout(10) as never)],
      ['acquire([])', () => lock.acquire([] as never)],
      ['Barrier.wait(string)', () => barrier.wait('abc' as never)],
      ['Barrier.wait(number)', () => barrier.wait(5 as never)],
      // wait() takes a signal (the README's promise for every wait), but only an AbortSignal.
      ['wait() signal', () => wait([a], { signal: 'soon' } as never)],
      ['wait() negative timeout', () => wait([a], { timeout: -1, timout: 1 } as never)],
    ] as const) {
      let got: unknown;
      try {
        got = await refusal(Promise.resolve((call as () => unknown)()));
      } catch (err) {
        got = err;
      }
      expect(got, what).toBeInstanceOf(InvalidArgumentError);
    }
    // A key that is a name on Object.prototype is no hint.
    expect(() => new Queue({ toString: 1 } as never)).toThrow('Unknown option `toString` in Queue options: its options are `maxsize`, `name`.');
    const program = spawnCommand('true');
    await expect(program.output({ limt: 10 } as never)).rejects.toThrow('Unknown option `limt` in output() options: its options are `limit`.');
    await program.join({ timeout: 10_000 });
    // A known option with a value it does not take.
    expect(() => startNode({ uncaught: 'later' } as never)).toThrow('Expected `uncaught` to be \'wait\' or \'exit\', got `"later"` (string).');
    // An option given as undefined is absent; a known one still works.
    expect(await ref.call('hi', { timeout: 5000, timout: undefined } as never)).toBe('hi');
    expect(await queue.put(1, { timeout: 1000 })).toBeUndefined();
    await Promise.all([a.close(), b.close(), queue.close(), lock.close()]);
  });

  it("checks a command spec's restart and shutdown where it is made, not when a supervisor starts it", () => {
    expect(() => commandSpec('c', 'true', [], { restart: 'sometimes' as never })).toThrow(InvalidArgumentError);
    expect(() => commandSpec('c', 'true', [], { shutdown: -1 })).toThrow(InvalidArgumentError);
    expect(commandSpec('c', 'true', [], { restart: 'transient', shutdown: 'brutal' }).restart).toBe('transient');
  });
});
