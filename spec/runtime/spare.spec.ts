import { spawn as spawnProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { Pool, SpawnError, Supervisor, current, spawn, type ActorRef } from '../../index.ts';
import { runtimeBundle } from '../../runtime/process/bundle.ts';
import { entryAfterMeeting, entryOf, loadRuntimeAgain } from '../fixtures/tasks.ts';
import { sparePid, spareHosts } from '../../runtime/process/child.ts';
import { quick, selfReport } from '../fixtures/actors.ts';
import { heldPid } from '../fixtures/held-start.ts';
import { alive, allGone, reap, within } from '../helpers.ts';

const ROOT = new URL('../fixtures/root-tree.ts', import.meta.url).pathname;

type Report = { pid: number; mark: string | null; cwd: string; umask: number; argv: string[]; title: string; args: unknown[] };

/** Spawns selfReport with `args` and resolves with its report. */
async function report(options: Parameters<typeof spawn>[1] = {}): Promise<{ ref: ReturnType<typeof spawn>; report: Report }> {
  const ref = reap(spawn(selfReport, { name: 'reporter', ...options }));
  const got = (await current().receive({ match: (m): m is Report => typeof m === 'object' && m !== null && 'mark' in m, timeout: 30_000 })) as Report;
  return { ref, report: got };
}

/** A root keeps spare hosts once it spawns again an actor whose like ended: this spawns one twice, if it has not yet. */
async function keepSpares(): Promise<void> {
  if (spareHosts.wanted) return;
  for (let i = 0; i < 2; i++) await spawn(quick).join({ timeout: 20_000 });
}

/** Once a spare host is waiting: its pid. */
async function spareWaiting(): Promise<number> {
  await keepSpares();
  await vi.waitFor(() => expect(sparePid()).not.toBeNull(), { timeout: 20_000, interval: 10 });
  return sparePid()!;
}

// The environment can turn spare hosts off (TROUPE_SPARE_HOST=off): then there is nothing here to test.
describe.skipIf(process.env.TROUPE_SPARE_HOST === 'off')('spare hosts', () => {
  afterEach(() => {
    delete process.env.TROUPE_SPEC_MARK;
  });

  it('a spawn takes the waiting spare host, and the actor is what a cold start makes', async () => {
    const first = await report({ args: [] });
    expect(first.report.argv).toEqual(['troupe-actor', 'reporter']);
    const spare = await spareWaiting();
    const taken = spareHosts.taken;
    const second = await report({ args: [1, 'two', { three: [3] }] });
    expect(second.report.pid).toBe(spare);
    expect(second.ref.pid).toBe(spare);
    expect(spareHosts.taken).toBe(taken + 1);
    // The same as the cold one: argv, title, working directory, and its args.
    expect(second.report.argv).toEqual(first.report.argv);
    expect(second.report.title).toBe('troupe-actor reporter');
    expect(second.report.cwd).toBe(first.report.cwd);
    expect(second.report.args).toEqual([1, 'two', { three: [3] }]);
    second.ref.send('end');
    expect(await second.ref.join({ timeout: 10_000 })).toBe(0);
  });

  it('an actor of troupe\'s own (a pool worker) runs the runtime bundle\'s kernel itself, in a spare host as in a cold start', async () => {
    const { kernel: main } = await runtimeBundle();
    await spareWaiting();
    const taken = spareHosts.taken;
    const dir = mkdtempSync(join(tmpdir(), 'troupe-meet-'));
    const pool = new Pool({ size: 2 });
    try {
      // Each task waits for the other: they run on both workers, one in the spare, one started cold.
      const entries = await pool.map(entryAfterMeeting, [dir, dir], { chunksize: 1 });
      expect(spareHosts.taken).toBe(taken + 1);
      expect(entries).toEqual([
        [main, 'troupe-actor-in-runtime'],
        [main, 'troupe-actor-in-runtime'],
      ]);
    } finally {
      await pool.terminate();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an actor of the actors layer (a supervisor) loads that layer over the kernel a spare host runs, and works', async () => {
    await report();
    const spare = await spareWaiting();
    const taken = spareHosts.taken;
    const sup = Supervisor.start({ children: [{ id: 'held', actor: heldPid }] });
    try {
      await within(sup.ready, 'the supervisor and its child');
      expect(sup.ref.pid).toBe(spare);
      expect(spareHosts.taken).toBe(taken + 1);
      const [held] = await sup.whichChildren({ timeout: 10_000 });
      expect(held!.id).toBe('held');
      expect(typeof (await (held!.ref as ActorRef<'pid', number>).call('pid', { timeout: 10_000 }))).toBe('number');
    } finally {
      await sup.stop({ timeout: 20_000 });
    }
  });

  it('a second copy of the runtime loaded into such an actor leaves the process\'s arguments to the first', async () => {
    const { kernel: main } = await runtimeBundle();
    const pool = new Pool({ size: 1 });
    try {
      const pid = await pool.apply(loadRuntimeAgain, [main]);
      // The worker is still there and still works: the second copy did not act as the process's entry.
      expect(await pool.apply(entryOf, [0])).toEqual([pid, main, 'troupe-actor-in-runtime']);
    } finally {
      await pool.terminate();
    }
  });

  it('is not taken when the environment changed since it started: the actor sees the new one', async () => {
    await report();
    const spare = await spareWaiting();
    process.env.TROUPE_SPEC_MARK = 'changed';
    const { report: got } = await report();
    expect(got.mark).toBe('changed');
    expect(got.pid).not.toBe(spare);
    await allGone([spare], 5000); // a spare that can no longer be used is ended, not left waiting
  });

  it('is not taken when the umask changed since it started: the actor has the new one', async () => {
    await report();
    const spare = await spareWaiting();
    const before = process.umask(0o077);
    try {
      const { report: got } = await report();
      // Before, the spare's umask (022): files the actor made were readable by all.
      expect(got.umask).toBe(0o077);
      expect(got.pid).not.toBe(spare);
    } finally {
      process.umask(before);
    }
  });

  it('is not taken by a spawn with options a cold start treats differently (env, cwd, execArgv)', async () => {
    await report();
    const spare = await spareWaiting();
    const { report: got } = await report({ env: { ...process.env, TROUPE_SPEC_MARK: 'given' } });
    expect(got.mark).toBe('given');
    expect(got.pid).not.toBe(spare);
    expect(sparePid()).toBe(spare); // still there for the next default spawn
  });

  it('a spare that died waiting is not taken: the next spawn starts cold', async () => {
    await report();
    const spare = await spareWaiting();
    process.kill(spare, 'SIGKILL');
    await vi.waitFor(() => expect(sparePid()).not.toBe(spare), { timeout: 10_000, interval: 10 });
    const { report: got } = await report();
    expect(got.pid).not.toBe(spare);
  });

  it('is started only once no actor of the root is still starting (its fork would hold up their first messages)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-hold-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const flag = join(dir, 'go');
    // From a spare waiting (none on its way), which the first spawn takes.
    await report();
    await spareWaiting();
    const started = spareHosts.started;
    const quick = reap(spawn(heldPid));
    const held = reap(spawn(heldPid, { env: { ...process.env, TROUPE_SPEC_HOLD: flag } }));
    await quick.ready;
    // A round trip after quick's ready: a spare started at that ready would have been forked by now.
    await quick.call('pid', { timeout: 10_000 });
    expect(spareHosts.started).toBe(started);
    expect(sparePid()).toBeNull();
    writeFileSync(flag, '');
    await held.ready;
    await spareWaiting();
    expect(spareHosts.started).toBe(started + 1);
  });

  it('is started a moment after an actor became ready, not in the turn its first messages come in', async () => {
    await report();
    await spareWaiting();
    const started = spareHosts.started;
    const first = reap(spawn(heldPid)); // takes the spare
    await first.ready;
    // A spare started at that ready (before, in the same turn) would have been forked by the end of this turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect(spareHosts.started).toBe(started);
    expect(await first.call('pid', { timeout: 10_000 })).toBe(first.pid);
    await spareWaiting();
    expect(spareHosts.started).toBe(started + 1);
  });

  it('is started all the same when an actor stays starting (a long top-level await): after a second', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-hold-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    await report();
    await spareWaiting();
    const started = spareHosts.started;
    const quick = reap(spawn(heldPid));
    reap(spawn(heldPid, { env: { ...process.env, TROUPE_SPEC_HOLD: join(dir, 'never') } }));
    await quick.ready;
    await spareWaiting();
    expect(spareHosts.started).toBe(started + 1);
  });

  it('an actor module that throws while loading in a spare host fails its spawn as at a cold start', async () => {
    await report();
    await spareWaiting();
    const taken = spareHosts.taken;
    const { fragile } = await import('../fixtures/throws-in-actor.ts');
    const ref = reap(spawn(fragile));
    const err = await ref.ready.catch((e: unknown) => e);
    expect(spareHosts.taken).toBe(taken + 1);
    expect(err).toBeInstanceOf(SpawnError);
    expect((err as SpawnError).message).toContain('its module threw while loading: Error: this module refuses to load in an actor process');
    expect(await ref.join({ timeout: 10_000 })).toBe(1);
  });

  it('is kept only once the root spawns again an actor whose like ended: actors started once (a pool\'s workers) leave none', async () => {
    const root = spawnProcess(process.execPath, ['--import', 'tsx', ROOT, 'spare-policy'], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    const exited = once(root, 'exit');
    try {
      const line = await within(
        new Promise<string>((resolve, reject) => {
          createInterface({ input: root.stdout! }).once('line', resolve);
          root.once('exit', (code) => reject(new Error(`root exited (${code}) before printing`)));
        }),
        'the root to report',
        60_000,
      );
      const { once: startedOnce, replaced, spare } = JSON.parse(line) as { once: number; replaced: number; spare: number | null };
      // Before, the root forked a spare 50 ms after its first actors were up, used or not.
      expect(startedOnce).toBe(0);
      expect(replaced).toBe(1);
      expect(spare).not.toBeNull();
      await within(exited, 'the root to end');
      await allGone([spare!], 5000);
    } finally {
      if (root.exitCode === null && root.signalCode === null) root.kill('SIGKILL');
    }
  });

  it.each([
    ['ends with its root when the root ends', 'spare-end', {}, false],
    ['ends with its root when the root is SIGKILLed (parent-death signal)', 'spare-wait', {}, true],
    ['ends with its root when the root is SIGKILLed (no parent-death signal: EOF on its stdin)', 'spare-wait', { TROUPE_DEATH_SIGNAL: 'off' }, true],
  ])('%s', async (_what, mode, env, kill) => {
    const root = spawnProcess(process.execPath, ['--import', 'tsx', ROOT, mode], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env }, detached: true });
    const exited = once(root, 'exit');
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: root.stdout! }).once('line', resolve);
        root.once('exit', (code) => reject(new Error(`root exited (${code}) before printing`)));
      });
      const { spare, child } = JSON.parse(line) as { spare: number | null; child: number };
      expect(spare).not.toBeNull();
      expect(alive(spare!)).toBe(true);
      if (kill) root.kill('SIGKILL');
      else root.stdin!.end('end\n'); // now it may end
      await exited;
      await allGone([spare!, child], 5000);
    } finally {
      if (root.exitCode === null && root.signalCode === null) root.kill('SIGKILL');
    }
  });
});
