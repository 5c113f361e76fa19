import { execFile, execFileSync, spawn as spawnProcess, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Queue, SpawnError, activeChildren, actor, current, isDown, node, spawn, task, type Down } from '../../index.ts';
import { obedient } from '../fixtures/watchers.ts';
import { busyFromStart, crasher, handlesItsOwnUncaught, echo, exitBy, exiter, hangsOnStop, exitsBySignalWithListener, exitsFromLeftWorkThenFails, exitsFromLeftWorkWhileChildWorks, extendsItsEnd, failsWhileStopFlushes, introspect, leavesGet, leavesReceive, waitsOnSignal, setsExitCodeWhileChildWorks, namedKid, NamedClassKid, namesItsKids, leavesInterval, leavesIntervalLinked, leavesThrow, leavesThrowWhileChildWorks, leavesWork, parentOfTwo, quick, receiver, reporterParent, spawnsOnStop, stubborn, syncRun, waiter } from '../fixtures/actors.ts';
import { reap, runFixture } from '../helpers.ts';

describe('actor process lifecycle', () => {
  it('starts the process within spawn() once the actor\'s bundles are built, and tells a failure only after spawn() returned', async () => {
    await reap(spawn(echo)).ready; // builds (or finds) the bundles
    const spawned: string[] = [];
    const onSpawn = (ref: { id: string }): void => void spawned.push(ref.id);
    node().on('spawn', onSpawn);
    try {
      const ref = reap(spawn(echo));
      expect(ref.pid).toBeGreaterThan(0);
      expect(spawned).toEqual([ref.id]);
      expect(await ref.call('hi', { timeout: 20_000 })).toBe('hi');
    } finally {
      node().off('spawn', onSpawn);
    }
    // A process that cannot be spawned (Node refuses an environment with a NUL in it): its end comes after.
    const exits: string[] = [];
    const onExit = (event: { ref: { id: string } }): void => void exits.push(event.ref.id);
    node().on('exit', onExit);
    try {
      const bad = spawn(echo, { env: { ...process.env, TROUPE_SPEC_BAD: 'a\u0000b' } });
      expect(exits).toEqual([]);
      await expect(bad.ready).rejects.toBeInstanceOf(SpawnError);
      expect(await bad.join({ timeout: 10_000 })).toBe(1);
      expect(exits).toEqual([bad.id]);
    } finally {
      node().off('exit', onExit);
    }
  });

  it('lets an error of a \'spawn\' listener out as an uncaught exception, not out of spawn()', () => {
    const fixture = resolve(import.meta.dirname, '..', 'fixtures', 'spawn-listener-throws.ts');
    const run = spawnSync(process.execPath, ['--import', 'tsx', fixture], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout).toContain('spawn() returned, pid known');
    expect(run.stderr).toContain('the spawn listener broke');
    expect(run.status).toBe(1);
  });

  it("starts troupe's own actors when troupe is loaded through tsx's tsImport(), which adds a query to each module's URL", () => {
    const fixture = resolve(import.meta.dirname, '..', 'fixtures', 'own-actors.ts');
    const script = `const { tsImport } = await import('tsx/esm/api'); await tsImport(${JSON.stringify(fixture)}, import.meta.url);`;
    // Before, the supervisor, the command host and the pool worker were defined under the
    // query-named module, and their processes, which name it by its path, did not find them.
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, 'own-actors-run'], { cwd: resolve(import.meta.dirname, '..', '..'), encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('own actors ok: hi 9');
    expect(run.status).toBe(0);
  });

  it('runs a class actor whose run() is synchronous, as Python\'s is', async () => {
    const ref = reap(spawn(syncRun, { args: [21] }));
    expect(await current().receive({ match: (m): m is { doubled: number } => typeof m === 'object' && m !== null && 'doubled' in m, timeout: 20_000 })).toEqual({ doubled: 42 });
    expect(await ref.join({ timeout: 20_000 })).toBe(0);
  });

  it('returns a ref at once, with exitCode null and isAlive true until it ends with 0', async () => {
    const ref = reap(spawn(quick));
    expect(ref.exitCode).toBeNull();
    expect(ref.isAlive()).toBe(true);
    expect(await ref.join({ timeout: 15_000 })).toBe(0);
    expect(ref.exitCode).toBe(0);
    expect(ref.isAlive()).toBe(false);
    expect(ref.error).toBeUndefined();
  });

  it("waits, once its behaviour returned, for the work it left running, as a Node script and Python's non-daemon threads", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-left-work-'));
    const path = join(dir, 'out.bin');
    try {
      const ref = reap(spawn(leavesWork, { args: [path] }));
      expect(await ref.join({ timeout: 20_000 })).toBe(0);
      // Before, the process exited at the return: an empty file, and no timer file.
      expect(statSync(path).size).toBe(8 * 1024 * 1024);
      expect(readFileSync(`${path}.timer`, 'utf8')).toBe('done');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with the error of work it left running, as Node ends a process on an uncaught error', async () => {
    const ref = reap(spawn(leavesThrow));
    // Before, the error was dropped: exit code 0, no error.
    expect(await ref.join({ timeout: 20_000 })).toBe(1);
    expect(ref.error?.message).toBe('left work failed');
  });

  it('keeps the exit code it was reported with when its left work fails while it waits for its children, as Python leaves it for a thread', async () => {
    const ref = reap(spawn(leavesThrowWhileChildWorks));
    const monitor = current().monitor(ref);
    // Reported ended as it began to wait for its non-daemon child: normal.
    const down = await current().receive({ match: (m): m is Down => isDown(m) && m.monitor === monitor, timeout: 20_000 });
    expect(down.reason).toBe('normal');
    // The error is printed; the exit code does not contradict the down, and the interval the error
    // left behind is not waited for (before, the process lived on).
    expect(await ref.join({ timeout: 20_000 })).toBe(0);
  });

  it.each([3, 'SIGTERM'] as const)('keeps the exit code it was reported with when its left work calls ctx.exit(%s), as Python ignores sys.exit in a thread', async (code) => {
    const ref = reap(spawn(exitsFromLeftWorkWhileChildWorks, { args: [code] }));
    const monitor = current().monitor(ref);
    const down = await current().receive({ match: (m): m is Down => isDown(m) && m.monitor === monitor, timeout: 20_000 });
    expect(down.reason).toBe('normal');
    // Before, it exited 3 (or by SIGTERM) after its watchers were told normal.
    expect(await ref.join({ timeout: 20_000 })).toBe(0);
  });

  it.each([
    ['its left work throws', false],
    ['the failure of an actor linked to it comes back', true],
  ])('ends with the code of a ctx.exit() its left work called, after the child it waits for, though then %s', async (_then, linked) => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-left-exit-'));
    const path = join(dir, 'child-done');
    try {
      const peer = linked ? reap(spawn(obedient)) : null;
      const ref = reap(spawn(exitsFromLeftWorkThenFails, { args: [path, peer] }));
      const monitor = current().monitor(ref);
      const down = await current().receive({ match: (m): m is Down => isDown(m) && m.monitor === monitor, timeout: 20_000 });
      expect(down.reason).toEqual({ exitCode: 3 });
      // Before, the wait for the left work, ended by the error or the link, exited 0 at once and
      // killed the child its ctx.exit(3) was waiting for.
      expect(await ref.join({ timeout: 20_000 })).toBe(3);
      expect(readFileSync(path, 'utf8')).toBe('done');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("waits for work a 'beforeExit' listener of its own starts, as a Node script does", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-before-exit-'));
    const path = join(dir, 'out');
    try {
      const ref = reap(spawn(extendsItsEnd, { args: [path] }));
      expect(await ref.join({ timeout: 20_000 })).toBe(0);
      // Before, the first 'beforeExit' ended the wait, and the process exited before the timer ran.
      expect(readFileSync(path, 'utf8')).toBe('written');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['it returned', 'return', 'exit 1 error left work failed, tick', 'failed after it returned, in work it left running:'],
    ['it returned, its end reported as it waits for a child', 'told', 'exit 0 error undefined', 'failed after it returned, in work it left running (its end was reported already: its exit code stays):'],
    ['a ctx.exit(0)', 'exit0', 'exit 0 error undefined', 'failed after its end began, in work still running (its exit code stays):'],
    ['its behaviour threw', 'throw', 'exit 1 error behaviour failed', 'failed after its end began, in work still running (its exit code stays):'],
  ])('prints an error of work left running after %s, once', (_after, how, result, heading) => {
    const fixture = resolve(import.meta.dirname, '..', 'fixtures', 'left-work-fails.ts');
    const run = spawnSync(process.execPath, ['--import', 'tsx', fixture, how], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stdout).toBe(`${result}\n`);
    expect(run.stderr).toMatch(new RegExp(`\\) ${heading.replace(/[()]/g, '\\$&')}\nError: left work failed, tick\n`));
    // Once, though the interval throws every 20 ms. Before, nothing at all was printed after a
    // ctx.exit() or a throw, the process waiting for its child.
    expect(run.stderr.split('Error: left work failed, tick').length - 1).toBe(1);
  });

  it.each([
    ['fails', 'throw', 1, '{"exitCode":1,"error":"the program failed"}'],
    ['calls exit(3)', 'exit3', 3, '{"exitCode":3}'],
  ])('tells the actors that link to or monitor the program when it %s, before it waits for them', async (_what, how, code, reason) => {
    const run = await runFixture('root-watched.ts', [how]);
    // Before, none of them heard anything, and the program waited for them for ever.
    expect(run.code).toBe(code);
    // The linked child that does not trap exits ends by the link, printing nothing.
    // One that monitors the program again after its end is told at once that it is gone (noproc).
    expect(run.stdout.split('\n').filter(Boolean).sort()).toEqual(['late: noproc', `monitor: ${reason}`, `trap: ${reason}`]);
  });

  it.each([
    ['takes it and calls exit(2)', 'exit', 2, 'ended before it replied (exit code 2)', undefined],
    ['takes it and fails', 'throw', 1, 'ended before it replied (exit code 1: Error: the program failed)', 'the program failed'],
    ['fails before it comes', 'fails-first', 1, '(exit code 1: Error: the program failed)', 'the program failed'],
  ] as const)('fails a child\'s call to the program that %s, saying why, rather than wait on each other', async (_what, how, code, said, cause) => {
    const run = await runFixture('root-called.ts', [how]);
    // Before, the call of a program that failed waited for ever (and the program for its child); after exit(n), it said no why.
    expect(run.code).toBe(code);
    const told = JSON.parse(run.stdout.trim()) as { code: string; message: string; cause?: string };
    expect(told.code).toBe('ERR_ACTOR_EXITED');
    expect(told.message).toContain(said);
    expect(told.cause).toBe(cause);
  });

  it('leaves an uncaught error to a listener of the actor\'s own, as the main program and a Node script do', async () => {
    const ref = reap(spawn(handlesItsOwnUncaught));
    const { caught } = await current().receive({ match: (m): m is { caught: string } => typeof (m as { caught?: unknown })?.caught === 'string', timeout: 20_000 });
    expect(caught).toBe('thrown in a timer');
    // Before, the actor failed all the same: exit 1, its listener's work cut short.
    expect(await ref.join({ timeout: 20_000 })).toBe(0);
    expect(ref.error).toBeUndefined();
  });

  it('ends a program whose output nobody reads any more with 1, as Node does, rather than fail on its own error report for ever', async () => {
    const fixture = resolve(import.meta.dirname, '..', 'fixtures', 'writes-to-closed-pipe.ts');
    const program = spawnProcess(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Nobody reads its output: its next write fails with EPIPE.
    program.stdout!.destroy();
    program.stderr!.destroy();
    // Before, reporting that error to the same closed pipe failed again, an uncaught error each time:
    // the program spun at 100 % and even SIGTERM did not end it.
    const killer = setTimeout(() => program.kill('SIGKILL'), 30_000);
    try {
      const [code] = (await once(program, 'exit')) as [number | null];
      expect(code).toBe(1);
    } finally {
      clearTimeout(killer);
    }
  });

  it('starts no pool worker once SIGINT began to stop the program, and ends with 130', async () => {
    const fixture = resolve(import.meta.dirname, '..', 'fixtures', 'pool-interrupted.ts');
    const program = spawnProcess(process.execPath, ['--import', 'tsx', fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    program.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (chunk.includes('mapping')) program.kill('SIGINT');
    });
    const killer = setTimeout(() => program.kill('SIGKILL'), 60_000);
    try {
      const [code] = (await once(program, 'close')) as [number | null];
      expect(code).toBe(130);
      // Before, the stop of a worker was taken for a crash: a new one started, took tasks, and the stop
      // waited for it to its budget (about 9 s of 10).
      const after = out.slice(out.indexOf('SIGINT'));
      expect(out).toContain('SIGINT');
      expect(after).not.toContain('spawned');
      // The tasks not sent fail, saying why.
      expect(after).toContain('map: PoolClosedError');
    } finally {
      clearTimeout(killer);
    }
  });

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('ends with the %s code, quietly, though the stop rejected a pool map the program awaited unhandled', async (signal, exitCode) => {
    const fixture = resolve(import.meta.dirname, '..', 'fixtures', 'pool-interrupted.ts');
    const program = spawnProcess(process.execPath, ['--import', 'tsx', fixture, 'uncaught'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    program.stderr!.setEncoding('utf8').on('data', (chunk: string) => void (err += chunk));
    program.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('mapping')) program.kill(signal);
    });
    const killer = setTimeout(() => program.kill('SIGKILL'), 60_000);
    try {
      const [code] = (await once(program, 'close')) as [number | null];
      // Before: 1, with the PoolClosedError the stop gave the map printed as the program's failure.
      expect(code).toBe(exitCode);
      expect(err).not.toContain('PoolClosedError');
    } finally {
      clearTimeout(killer);
    }
  });

  it('still prints an error of its own that comes while SIGINT stops it, and ends with 130', async () => {
    const fixture = resolve(import.meta.dirname, '..', 'fixtures', 'pool-interrupted.ts');
    const program = spawnProcess(process.execPath, ['--import', 'tsx', fixture, 'unrelated'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    program.stderr!.setEncoding('utf8').on('data', (chunk: string) => void (err += chunk));
    program.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('mapping')) program.kill('SIGINT');
    });
    const killer = setTimeout(() => program.kill('SIGKILL'), 60_000);
    try {
      const [code] = (await once(program, 'close')) as [number | null];
      expect(code).toBe(130);
      expect(err).toContain('TypeError: a failure of its own during the stop');
      expect(err).not.toContain('PoolClosedError');
    } finally {
      clearTimeout(killer);
    }
  });

  it('still gives a program that traps exits its exit messages after it failed, while it waits for its children', async () => {
    const run = await runFixture('root-traps.ts');
    expect(run.stdout).toBe('exit message: true\n');
    expect(run.code).toBe(1);
  });

  it('exits with the code its watchers were told, though its left work set process.exitCode while it waited for a child', async () => {
    const ref = reap(spawn(setsExitCodeWhileChildWorks));
    const monitor = current().monitor(ref);
    const down = await current().receive({ match: (m): m is Down => isDown(m) && m.monitor === monitor, timeout: 20_000 });
    expect(down.reason).toBe('normal');
    // Before, the process exited by itself with the 4 its left work set.
    expect(await ref.join({ timeout: 20_000 })).toBe(0);
  });

  it('fails with 1 when its left work throws while a stop flushes its last messages', async () => {
    const ref = reap(spawn(failsWhileStopFlushes));
    await current().receive({ match: (m): m is string => m === 'returning', timeout: 20_000 });
    // Before, the flush that began first ended the process with 0, its error on ref.error all the same.
    expect(await ref.stop({ timeout: 20_000 })).toBe(1);
    expect(ref.error?.message).toBe('left work failed as the stop flushed');
    await current().receive({ match: (m): m is { big: Buffer } => typeof m === 'object' && m !== null && 'big' in m, timeout: 5000 });
  });

  it('does not wait for a queue get its behaviour left pending, which then takes no item', async () => {
    const q = new Queue<string>();
    try {
      const ref = reap(spawn(leavesGet, { args: [q] }));
      expect(await ref.join({ timeout: 20_000 })).toBe(0);
      await q.put('important');
      expect(await q.get({ timeout: 5000 })).toBe('important');
    } finally {
      await q.close();
    }
  });

  it.each([
    ['its behaviour', 'waits'],
    ['the work its behaviour left', 'left'],
    ['its behaviour, not awaited while it serves its inbox', 'unawaited'],
  ] as const)('ends as stopped, not failed, when a stop aborts a wait of %s on ctx.signal', async (_whose, how) => {
    const ref = reap(spawn(waitsOnSignal, { args: [how] }));
    await current().receive({ match: (m): m is 'waiting' => m === 'waiting', timeout: 20_000 });
    // Before, the AbortError of the wait failed the actor: exit 1, printed, on ref.error.
    expect(await ref.stop({ timeout: 20_000 })).toBe(0);
    expect(ref.error).toBeUndefined();
  });

  it('does not fail for a receive() its behaviour left waiting, which its end cuts short', async () => {
    const ref = reap(spawn(leavesReceive));
    // Before, the receive's AbortError, unhandled, failed the actor after it returned: exit 1.
    expect(await ref.join({ timeout: 20_000 })).toBe(0);
    expect(ref.error).toBeUndefined();
  });

  it.each([
    ['', 0],
    [', though it came while the process waited for a non-daemon child', 1500],
  ])('ends the wait for its left work when an actor linked to it fails%s', async (_while, childMs) => {
    const peer = reap(spawn(obedient));
    const ref = reap(spawn(leavesIntervalLinked, { args: [peer, childMs] }));
    await current().receive({ match: (m): m is string => m === 'linked, returning', timeout: 20_000 });
    peer.send('throw');
    // Before, the link's news was ignored while the process waited: it lived on.
    expect(await ref.join({ timeout: 20_000 })).toBe(0);
  });

  it("runs its 'exit' listeners when it ends itself by a signal, though one throws", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-exit-listener-'));
    const path = join(dir, 'ran');
    try {
      const ref = reap(spawn(exitsBySignalWithListener, { args: [path] }));
      expect(await ref.join({ timeout: 20_000 })).toBe(-15);
      // Before, ending by its own signal skipped them (a command host's ends its program's group there).
      expect(readFileSync(path, 'utf8')).toBe('ran');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is alive while it waits for work left running, and stop() ends that wait, its stop hooks run, its watchers told then', async () => {
    const ref = reap(spawn(leavesInterval));
    const monitor = current().monitor(ref);
    await current().receive({ match: (m): m is string => m === 'returning', timeout: 20_000 });
    // Its behaviour has returned; its interval never ends, so its process lives on (before, it exited at once).
    expect(await ref.join({ timeout: 500 })).toBeNull();
    expect(ref.isAlive()).toBe(true);
    expect(await ref.stop({ timeout: 20_000 })).toBe(0);
    expect(await current().receive({ match: (m): m is string => m === 'stop hook ran', timeout: 5000 })).toBe('stop hook ran');
    // Told as its process exits, as for a Python process held by a thread.
    const down = await current().receive({ match: (m): m is Down => isDown(m) && m.monitor === monitor, timeout: 5000 });
    expect(down.reason).toBe('shutdown');
  });

  it('exits 1 on an uncaught error and keeps the error with its remote stack', async () => {
    const ref = reap(spawn(crasher, { args: ['went wrong'] }));
    expect(await ref.join({ timeout: 15_000 })).toBe(1);
    expect(ref.error).toBeInstanceOf(TypeError);
    expect(ref.error!.message).toBe('went wrong');
    expect(ref.error!.stack).toContain('spec/fixtures/actors.ts');
  });

  it('exits n after process.exit(n), delivering what it sent just before', async () => {
    const ref = reap(spawn(exiter, { args: [7] }));
    expect(await ref.join({ timeout: 15_000 })).toBe(7);
    expect(await current().receive({ timeout: 5000 })).toEqual({ last: 'words' });
  });

  it('gives -15 after terminate() and -9 after kill()', async () => {
    const a = reap(spawn(stubborn));
    const b = reap(spawn(stubborn));
    await Promise.all([a.ready, b.ready]);
    a.terminate();
    b.kill();
    expect(await a.join({ timeout: 10_000 })).toBe(-15);
    expect(await b.join({ timeout: 10_000 })).toBe(-9);
    // Both do nothing once the actor has ended.
    a.terminate();
    b.kill();
    expect(a.exitCode).toBe(-15);
  });

  it('resolves ready when the behaviour starts, even one that computes without ever awaiting', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-busy-'));
    const release = join(dir, 'release');
    try {
      const ref = reap(spawn(busyFromStart, { args: [release] }));
      // Before, ready was written at the end of the behaviour's first turn: never, for this one.
      const ready = await Promise.race([ref.ready.then(() => 'ready'), new Promise((r) => setTimeout(r, 20_000, 'not ready within 20 s').unref())]);
      expect(ready).toBe('ready');
      writeFileSync(release, '');
      expect(await ref.join({ timeout: 20_000 })).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ends an actor by the signal it gives ctx.exit(), and refuses one that would not end it', async () => {
    expect(await reap(spawn(exitBy, { args: ['SIGTERM'] })).join({ timeout: 20_000 })).toBe(-15);
    expect(await reap(spawn(exitBy, { args: ['SIGUSR2'] })).join({ timeout: 20_000 })).toBe(-12);
    // Before, SIGUSR1 started Node's inspector and ctx.exit() never settled; SIGCHLD is ignored by default, SIGPIPE by Node.
    for (const signal of ['SIGUSR1', 'SIGCHLD', 'SIGPIPE'] as const) {
      const ref = reap(spawn(exitBy, { args: [signal] }));
      const told = await current().receive({ match: (m): m is { refused: string } => typeof (m as { refused?: unknown })?.refused === 'string', timeout: 20_000 });
      expect(told).toEqual({ refused: 'ERR_INVALID_ARGUMENT' });
      expect(await ref.join({ timeout: 20_000 })).toBe(0);
    }
  });

  it('ends an actor with 0 for ctx.exit(null), as Python\'s sys.exit(None), and refuses a code that is not an integer (before, it hung)', async () => {
    expect(await reap(spawn(exitBy, { args: [null as unknown as number] })).join({ timeout: 20_000 })).toBe(0);
    for (const code of [1.5, NaN, 2 ** 53, true as unknown as number]) {
      const ref = reap(spawn(exitBy, { args: [code] }));
      const told = await current().receive({ match: (m): m is { refused: string } => typeof (m as { refused?: unknown })?.refused === 'string', timeout: 20_000 });
      expect(told).toEqual({ refused: 'ERR_INVALID_ARGUMENT' });
      expect(await ref.join({ timeout: 20_000 })).toBe(0);
    }
  });

  it.each([
    ['return', 0],
    ['throw', 1],
    ['throw-object', 1],
    ['exit', 3],
  ] as const)('writes out what the actor wrote to a slow reader before it ends (%s), as Python flushes', async (how, code) => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-loud-'));
    const bytes = 2 * 1024 * 1024;
    try {
      // Run as the README runs programs, by tsx's command (whose process makes the pipe non-blocking for all
      // that share it), stdout and stderr in one pipe, read only a second on: the actor's 2 MB wait for the reader.
      const tsx = resolve(import.meta.dirname, '../../node_modules/.bin/tsx');
      const program = `"${tsx}" "${resolve(import.meta.dirname, '../fixtures/loud.ts')}" ${bytes} "${join(dir, 'written')}" ${how}`;
      const { stdout } = await promisify(execFile)('bash', ['-c', `${program} 2>&1 | (sleep 1; cat)`], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024, cwd: import.meta.dirname });
      expect(stdout.split('~').length - 1).toBe((bytes / 1024) * 1023);
      expect(stdout).toContain(`exit ${code}\n`);
      if (how === 'throw') expect(stdout).toContain('Error: loud, then failing');
      // A thrown value that is not an Error is shown as it is, as Python shows its repr.
      if (how === 'throw-object') expect(stdout).toContain("failed:\n{ code: 'E_LOUD', detail: [ 1, 2 ] }");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('join resolves null on timeout while the actor stays alive', async () => {
    const ref = reap(spawn(stubborn));
    await ref.ready;
    expect(await ref.join({ timeout: 0 })).toBeNull();
    expect(await ref.join({ timeout: -1 })).toBeNull(); // as Python's join(-1): no wait
    expect(await ref.join({ timeout: 50 })).toBeNull();
    expect(ref.isAlive()).toBe(true);
    expect(ref.exitCode).toBeNull();
  });

  it('stop() runs the stop hook, ends the behaviour and resolves 0', async () => {
    const ref = reap(spawn(waiter));
    await ref.ready;
    expect(await ref.stop({ timeout: 10_000 })).toBe(0);
    expect(await current().receive({ match: (m): m is string => m === 'stop hook ran', timeout: 5000 })).toBe('stop hook ran');
  });

  it('stop() of an actor waiting in receive() ends it with 0, not as a failure', async () => {
    const ref = reap(spawn(receiver));
    await ref.ready;
    expect(await ref.stop({ timeout: 10_000 })).toBe(0);
    expect(ref.error).toBeUndefined();
  });

  it('stop() ends an actor that does not return with SIGTERM', async () => {
    const ref = reap(spawn(stubborn));
    await ref.ready;
    expect(await ref.stop({ timeout: 10_000 })).toBe(-15);
  });

  it('stop() kills an actor whose stop hook outlives the deadline: -9', async () => {
    const ref = reap(spawn(hangsOnStop));
    await ref.ready;
    expect(await ref.stop({ timeout: 500 })).toBe(-9);
  });

  it('ends an actor that is not yet started when terminated, and its ready rejects', async () => {
    const ref = reap(spawn(stubborn));
    ref.terminate();
    expect(await ref.join({ timeout: 10_000 })).toBe(-15);
    await expect(ref.ready).rejects.toBeInstanceOf(SpawnError);
  });

  it('gives -2 for SIGINT, as a signal number like any other', async () => {
    const ref = reap(spawn(stubborn));
    await ref.ready;
    process.kill(ref.pid!, 'SIGINT');
    expect(await ref.join({ timeout: 10_000 })).toBe(-2);
  });

  it('knows its pid, name, id and parent, inside and out', async () => {
    const ref = reap(spawn(introspect, { name: 'looking-glass' }));
    await ref.ready;
    const seen = (await current().receive({ match: (m): m is Record<string, unknown> => typeof m === 'object' && m !== null && 'ppid' in m, timeout: 5000 })) as Record<string, unknown>;
    expect(ref.pid).toBeGreaterThan(0);
    expect(seen).toMatchObject({ pid: ref.pid, ppid: process.pid, id: ref.id, name: 'looking-glass', parent: current().self.id, title: 'troupe-actor looking-glass' });
    expect(ref.parent.id).toBe(current().self.id);
    const args = execFileSync('ps', ['-o', 'args=', '-p', String(ref.pid)], { encoding: 'utf8' });
    expect(args).toContain('troupe-actor looking-glass');
    ref.send('bye');
    expect(await ref.join({ timeout: 10_000 })).toBe(0);
  });

  it('lists the children that have not ended, as Python\'s active_children(), in the root and in an actor', async () => {
    const before = activeChildren().length;
    const ref = reap(spawn(waiter));
    expect(activeChildren()).toContain(ref);
    expect(activeChildren()).toHaveLength(before + 1);
    await ref.ready;
    ref.kill();
    await ref.join({ timeout: 10_000 });
    expect(activeChildren()).not.toContain(ref);
    const parent = reap(spawn(parentOfTwo));
    expect(await parent.call('names', { timeout: 20_000 })).toEqual(['kid-a', 'kid-b']);
    expect(await parent.call('end-one', { timeout: 20_000 })).toEqual(['kid-b']);
  });

  it('closes a ref once its actor has ended, as Python\'s Process.close(): refused while it runs, its lifecycle refused after', async () => {
    const ref = spawn(waiter);
    await ref.ready;
    expect(() => ref.close()).toThrow(expect.objectContaining({ code: 'ERR_STILL_RUNNING' }));
    ref.kill();
    expect(await ref.join({ timeout: 10_000 })).toBe(-9);
    ref.close();
    ref.close(); // a second call does nothing
    expect(() => ref.isAlive()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(() => ref.terminate()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(() => ref.kill()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    await expect(ref.join()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    await expect(ref.stop()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    // As Python's exitcode and pid after close() (test_close): ValueError there.
    expect(() => ref.exitCode).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(() => ref.pid).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(activeChildren()).not.toContain(ref);
  });

  it("has its pid when spawn returns, as Python's after start(), once its module is bundled", async () => {
    // The first spawn of a module after an edit bundles it first: its pid comes with its process.
    await reap(spawn(quick)).join({ timeout: 20_000 });
    const ref = reap(spawn(quick));
    const pid = ref.pid;
    expect(pid).toEqual(expect.any(Number));
    await ref.ready;
    expect(ref.pid).toBe(pid);
    expect(await ref.join({ timeout: 20_000 })).toBe(0);
  });

  it('names actors like Python names processes when no name is given', () => {
    const a = reap(spawn(quick));
    const b = reap(spawn(quick));
    expect(a.name).toMatch(/^actor-\d+$/);
    expect(Number(b.name.split('-')[1])).toBe(Number(a.name.split('-')[1]) + 1);
    expect(reap(spawn(echo)).name).toMatch(/^Echo-\d+$/);
  });

  it('names an actor by its function or class the same in an actor process as in the program that defined it', async () => {
    expect(reap(spawn(namedKid)).name).toMatch(/^namedKid-\d+$/);
    expect(reap(spawn(NamedClassKid)).name).toMatch(/^NamedClassKid-\d+$/);
    const parent = reap(spawn(namesItsKids));
    const names = await current().receive({ match: (m): m is string[] => Array.isArray(m), timeout: 20_000 });
    // Before, the bundle the actor process runs had renamed both: namedKid2-5:1, NamedClassKid2-5:2.
    expect(names[0]).toMatch(/^namedKid-\d+:1$/);
    expect(names[1]).toMatch(/^NamedClassKid-\d+:2$/);
    expect(await parent.join({ timeout: 20_000 })).toBe(0);
  });

  it('disposes with `await using` by stopping the actor', async () => {
    let ref;
    {
      await using scoped = spawn(waiter);
      ref = reap(scoped);
      await scoped.ready;
    }
    expect(ref.exitCode).toBe(0);
  });
});

describe('spawn failures', () => {
  it('rejects ready with SpawnError when the module throws on import, and exits 1', async () => {
    const { fragile } = await import('../fixtures/throws-in-actor.ts');
    const ref = reap(spawn(fragile));
    const err = await ref.ready.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpawnError);
    expect((err as SpawnError).code).toBe('ERR_SPAWN');
    expect((err as SpawnError).message).toContain('its module threw while loading: Error: this module refuses to load in an actor process');
    expect(await ref.join({ timeout: 10_000 })).toBe(1);
    expect(ref.error).toBeInstanceOf(SpawnError);
  });

  it('rejects ready with SpawnError naming the mistake when a module spawns at import', async () => {
    const { bomb } = await import('../fixtures/spawns-at-import.ts');
    const ref = reap(spawn(bomb));
    const err = await ref.ready.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpawnError);
    expect((err as SpawnError).code).toBe('ERR_SPAWN_AT_IMPORT');
    expect((err as SpawnError).message).toContain('isMain(import.meta)');
    expect(await ref.join({ timeout: 10_000 })).toBe(1);
  });

  it.each([
    ['spawns', 'actor', 'program: child exit 0'],
    ['makes a pool', 'pool', 'program: map [2,4]'],
    ['spawns a coordinator that spawns a worker', 'chain', 'program: coordinator exit 0', 'actor: main failed ERR_SPAWN_AT_IMPORT'],
  ])('refuses, with ERR_SPAWN_AT_IMPORT, an unguarded async main() that %s past its first await in an actor process', async (_what, mode, result, more?: string) => {
    const { code, stdout } = await runFixture('spawns-after-await.ts', [mode]);
    expect(code).toBe(0);
    // Before, the actor process (or pool worker) ran main() too and spawned again, without end; in a
    // chain, the worker's main() started its parent's actor again.
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual(['actor: main failed ERR_SPAWN_AT_IMPORT', ...(more === undefined ? [] : [more]), result].sort());
  });

  it('lets a behaviour spawn another actor from a listener that work its module started at import feeds', async () => {
    const { spawnsOnTick } = await import('../fixtures/module-emitter.ts');
    const ref = reap(spawn(spawnsOnTick, { args: [current().self] }));
    const { leaf } = await current().receive({ match: (m): m is { leaf: number } => typeof (m as { leaf?: unknown })?.leaf === 'number', timeout: 20_000 });
    expect(leaf).toBe(0);
    expect(await ref.join({ timeout: 20_000 })).toBe(0);
  });

  it("stops tracking what an ES module started as it loaded once it has loaded without leaving work, though its process opened its control socket meanwhile", async () => {
    const { slowLoader } = await import('../fixtures/slow-loader.ts');
    const ref = reap(spawn(slowLoader));
    // Before, the socket opened during the module's top-level await counted as work the module left:
    // its async context stayed tracked for good, and this spawn from a callback it registered was refused.
    expect(await ref.call('try', { timeout: 20_000 })).toBe('spawned');
    await ref.terminate();
  });

  it('rejects ready with SpawnError when the actor process does not define the actor', async () => {
    const { ghost } = await import('../fixtures/defined-in-parent-only.ts');
    const ref = reap(spawn(ghost!));
    const err = await ref.ready.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpawnError);
    expect((err as SpawnError).message).toMatch(/did not define actor #1 of that module/);
    expect(await ref.join({ timeout: 10_000 })).toBe(1);
  });

  it('rejects ready with SpawnError naming the module when it no longer builds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-spec-'));
    const file = join(dir, 'moving.ts');
    writeFileSync(file, `import { actor } from ${JSON.stringify(pathToFileURL(resolve('index.ts')).href)};\nexport const moving = actor(async () => {});\n`);
    try {
      const { moving } = (await import(pathToFileURL(file).href)) as typeof import('../fixtures/actors.ts') & { moving: typeof quick };
      writeFileSync(file, 'export const moving = actor(async () => { let x = ; });\n');
      const ref = reap(spawn(moving));
      const err = await ref.ready.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SpawnError);
      expect((err as SpawnError).message).toContain(`its module ${pathToFileURL(file).href} failed to build`);
      expect(ref.exitCode).toBe(1);
      expect(ref.pid).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects ready with SpawnError naming a working directory that does not exist', async () => {
    const ref = reap(spawn(quick, { cwd: '/no/such/dir' }));
    await expect(ref.ready).rejects.toThrow('its working directory /no/such/dir does not exist');
    expect(await ref.join({ timeout: 10_000 })).toBe(1);
    expect(ref.isAlive()).toBe(false);
  });

  it('fails a spawn out of file descriptors with SpawnError saying so, and spawns again (and a pool starts its workers again) once there are some', async () => {
    const program = resolve(import.meta.dirname, '../fixtures/out-of-fds.ts');
    const { stdout } = await promisify(execFile)('bash', ['-c', `ulimit -n 200 && exec "${process.execPath}" --import tsx "${program}"`], { timeout: 60_000, cwd: import.meta.dirname });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({
      failed: { name: 'SpawnError', code: 'ERR_SPAWN', message: expect.stringMatching(/EMFILE \(too many open files: close some, or raise the limit, `ulimit -n`\)$/) },
      exitCode: 1,
      task: 'WorkerCrashedError',
      again: 0,
      workers: 2,
      left: 0,
    });
  });

  it('refuses what is not an actor definition and bad options, naming them', () => {
    expect(() => spawn((() => {}) as unknown as typeof quick)).toThrow('Expected `definition` to be an actor definition made with `actor(…)`, got `[function anonymous]` (function).');
    expect(() => spawn(quick, { name: 3 as never })).toThrow('Expected `name` to be a string, got `3` (number).');
    expect(() => spawn(quick, { daemon: 'yes' as never })).toThrow('Expected `daemon` to be a boolean, got `"yes"` (string).');
    expect(() => spawn(quick, { args: 'x' as never })).toThrow('Expected `args` to be an array of arguments, got `"x"` (string).');
    expect(() => spawn(quick, { mailbox: { max: 0 } })).toThrow('Expected `mailbox.max` to be a positive integer, got `0` (number).');
    expect(() => spawn(quick, { shutdown: NaN })).toThrow("Expected `shutdown` to be a number of milliseconds >= 0, 'brutal' or 'infinity', got `NaN` (number).");
  });
});

describe('modules and events', () => {
  it('runs actors from plain .mjs modules', async () => {
    const { plain } = await import('../fixtures/plain.mjs');
    const ref = reap(spawn(plain, { args: ['hi'] }));
    expect(await current().receive({ match: (m): m is string => typeof m === 'string' && m.startsWith('hi from plain JS'), timeout: 15_000 })).toBe(`hi from plain JS in pid ${ref.pid}`);
    expect(await ref.join({ timeout: 10_000 })).toBe(0);
  });

  it('finds the module that defines an actor or a task without formatting a stack', () => {
    // An actor process formats stacks through source maps: a definition must not pay for that.
    const previous = Error.prepareStackTrace;
    let formatted = 0;
    Error.prepareStackTrace = (error, sites) => {
      formatted++;
      return previous ? previous(error, sites) : String(error);
    };
    try {
      const t = task((x: number) => x);
      const a = actor(async () => {});
      expect(t.module).toBe(import.meta.url);
      expect(a.module).toBe(import.meta.url);
      expect(formatted).toBe(0);
    } finally {
      Error.prepareStackTrace = previous;
    }
  });

  it('emits spawn and exit events on the node', async () => {
    const spawned: string[] = [];
    const exits: [string, number][] = [];
    const onSpawn = (r: { id: string }): void => void spawned.push(r.id);
    const onExit = (e: { ref: { id: string }; exitCode: number }): void => void exits.push([e.ref.id, e.exitCode]);
    node().on('spawn', onSpawn).on('exit', onExit);
    try {
      const ref = reap(spawn(crasher, { args: ['for the event'] }));
      await ref.join({ timeout: 15_000 });
      expect(spawned).toContain(ref.id);
      expect(exits).toContainEqual([ref.id, 1]);
    } finally {
      node().off('spawn', onSpawn).off('exit', onExit);
    }
  });
});

describe('stopping a tree', () => {
  it('stops the children before the parent', async () => {
    const parent = reap(spawn(reporterParent, { args: [current().self], name: 'top' }));
    expect(await current().receive({ match: (m): m is string => m === 'tree ready', timeout: 15_000 })).toBe('tree ready');
    expect(await parent.stop({ timeout: 10_000 })).toBe(0);
    const isReport = (m: unknown): m is string => typeof m === 'string' && m.endsWith(' stopped');
    const first = await current().receive({ match: isReport, timeout: 5000 });
    const second = await current().receive({ match: isReport, timeout: 5000 });
    expect([first, second]).toEqual(['top-child stopped', 'top stopped']);
  });
  it('stops a child started while the stop ran, rather than wait for it', async () => {
    const ref = reap(spawn(spawnsOnStop));
    await ref.ready;
    const stopping = ref.stop({ timeout: 20_000 });
    const { late } = await current().receive({ match: (m): m is { late: number } => typeof (m as { late?: unknown })?.late === 'number', timeout: 20_000 });
    // Before, the stop waited for that child to its deadline, and killed the actor: -9.
    expect(await stopping).toBe(0);
    expect(() => process.kill(late, 0)).toThrow();
  });
});
