import { spawn as spawnProcess, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProtocolError, current, node, spawn } from '../../index.ts';
import { daemonParent, exitWhileCalled, exitWithChildren, returnsWithStubbornDaemon, takesCallAndEnds, tree, vandal } from '../fixtures/actors.ts';
import { allGone, alive, reap, reapGroup, waitForGroup } from '../helpers.ts';

const ROOT = new URL('../fixtures/root-tree.ts', import.meta.url).pathname;
const REPO = new URL('../..', import.meta.url).pathname;

/** Runs root-tree.ts in its own process; resolves with it and its first stdout line as JSON. */
async function runRoot(mode: string, env: NodeJS.ProcessEnv = {}): Promise<{ root: ChildProcess; first: Record<string, unknown>; lines: string[]; stderr: () => string; exited: Promise<number | null> }> {
  // Its own process group, as a program run from a shell is: a signal to the group is Ctrl-C.
  const root = spawnProcess(process.execPath, ['--import', 'tsx', ROOT, mode], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env }, detached: true });
  let stderr = '';
  root.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    process.stderr.write(chunk);
  });
  // 'close', not 'exit': stdout and stderr are read to their end by then.
  const exited = once(root, 'close').then(([code]) => code as number | null);
  const lines: string[] = [];
  const rl = createInterface({ input: root.stdout! });
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    rl.on('line', (line) => {
      lines.push(line);
      if (lines.length === 1) resolve(JSON.parse(line) as Record<string, unknown>);
    });
    // 'close', not 'exit': a root that ends at once may have its line still in the pipe at 'exit'.
    root.once('close', (code) => reject(new Error(`root exited (${code}) before printing`)));
  });
  return { root, first: await first, lines, stderr: () => stderr, exited };
}

async function treePids(count: number): Promise<number[]> {
  const pids: number[] = [];
  let ready = 0;
  while (ready < count) {
    const m = (await current().receive({ match: (x): x is object => typeof x === 'object' && x !== null && ('pid' in x || 'ready' in x), timeout: 30_000 })) as { pid?: number; ready?: number };
    if (m.pid !== undefined) pids.push(m.pid);
    if (m.ready !== undefined) ready++;
  }
  return pids;
}

describe('actor trees', () => {
  it('builds a tree 3 levels deep, and terminate() ends the whole subtree', async () => {
    const top = reap(spawn(tree, { args: [3, 2, current().self, false] }));
    const pids = await treePids(7);
    expect(pids).toHaveLength(7);
    expect(pids.every(alive)).toBe(true);
    top.terminate();
    expect(await top.join({ timeout: 10_000 })).toBe(-15);
    await allGone(pids, 5000);
  });

  it('ends daemon children with their parent', async () => {
    const parent = reap(spawn(daemonParent));
    const { daemon } = (await current().receive({ match: (m): m is { daemon: number } => typeof m === 'object' && m !== null && 'daemon' in m, timeout: 15_000 })) as { daemon: number };
    expect(alive(daemon)).toBe(true);
    parent.send('return now');
    expect(await parent.join({ timeout: 10_000 })).toBe(0);
    await allGone([daemon], 5000);
  });

  it('kills a daemon child that ignores the SIGTERM of its parent\'s end once its shutdown time is over, rather than hang the parent', async () => {
    const parent = reap(spawn(returnsWithStubbornDaemon));
    const { daemon } = (await current().receive({ match: (m): m is { daemon: number } => typeof m === 'object' && m !== null && 'daemon' in m, timeout: 15_000 })) as { daemon: number };
    // Before, the parent waited for it for ever (as Python's exit does; OTP kills it after its shutdown time).
    expect(await parent.join({ timeout: 10_000 })).toBe(0);
    await allGone([daemon], 5000);
  });

  it("waits on ctx.exit(n) for its non-daemon children and ends its daemons, as Python's sys.exit", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-exit-'));
    const path = join(dir, 'worker');
    try {
      const parent = reap(spawn(exitWithChildren, { args: [path, 5] }));
      const { daemon } = (await current().receive({ match: (m): m is { daemon: number } => typeof m === 'object' && m !== null && 'daemon' in m, timeout: 15_000 })) as { daemon: number };
      expect(await parent.join({ timeout: 15_000 })).toBe(5);
      // Before, ctx.exit ended the process at once, and the kernel killed the worker mid-task.
      expect(existsSync(path) && readFileSync(path, 'utf8')).toBe('done');
      await allGone([daemon], 5000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['the kernel parent-death signal', {}],
    ['the watchdog thread', { TROUPE_DEATH_SIGNAL: 'off' }],
  ])('leaves no process behind when the root is SIGKILLed, busy actors included (%s)', async (_how, env) => {
    const { root, first, exited } = await runRoot('tree', env);
    const pids = first.pids as number[];
    expect(pids).toHaveLength(11);
    expect(pids.every(alive)).toBe(true);
    root.kill('SIGKILL');
    try {
      const took = await allGone(pids, 5000);
      expect(took).toBeLessThanOrEqual(5000);
      // Its output pipe closes once no process below it holds it.
      await exited;
    } finally {
      // What this test is about, if it fails: none may outlive it.
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
    }
  });

  it.each([
    ['the kernel parent-death signal', {}],
    ['the watchdog thread', { TROUPE_DEATH_SIGNAL: 'off' }],
  ])('lets an orphan of deathSignal TERM clean up in its grace, and kills a busy one after it (%s)', async (_how, env) => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-term-orphan-'));
    const log = join(dir, 'log');
    writeFileSync(log, '');
    const { root, first, exited } = await runRoot('term-orphans', { ...env, TROUPE_SPEC_LOG: log });
    const { calm, busy } = first as { calm: number; busy: number };
    try {
      root.kill('SIGKILL');
      // Before, the calm one exited at once (its control pipe's end), its cleanup cut short, and the
      // busy one, whose handler never runs, lived on.
      await allGone([calm, busy], 10_000);
      await exited;
      expect(readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('calm')).sort()).toEqual(['calm cleaned up', 'calm got SIGTERM']);
    } finally {
      for (const pid of [calm, busy].filter(alive)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ends an actor orphaned while it still loaded its module, busy from its first line, with no parent-death signal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-orphan-start-'));
    const hold = join(dir, 'hold');
    const { root, first, exited } = await runRoot('orphaned-starting', { TROUPE_DEATH_SIGNAL: 'off', TROUPE_SPEC_HOLD_FILE: hold });
    const child = first.child as number;
    try {
      root.kill('SIGKILL');
      await once(root, 'exit');
      // Orphaned before its watchdog started: before, the watchdog took the new parent (init) for
      // its parent, and the busy actor ran for ever.
      writeFileSync(hold, '');
      await allGone([child], 5000);
      // Its output pipe closes once the actor, which holds it too, has gone.
      await exited;
    } finally {
      if (alive(child)) process.kill(child, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['a command, its shell and the shell\'s children', 'command', 3],
    ['one that ignores SIGTERM, which ends its leader', 'command-ignorer', 2],
  ])('leaves no program behind when the root is SIGKILLed: %s', async (_what, mode, members) => {
    const { root, first, exited } = await runRoot(mode);
    const program = first.program as number;
    // The shell's own children (sleep, cat) are in its process group.
    const group = await waitForGroup(program, members);
    try {
      root.kill('SIGKILL');
      await exited;
      // command-ignorer: before, the host passed SIGTERM on, ended with the leader, and left the member that ignores it.
      await allGone([first.host as number, ...group], 5000);
    } finally {
      // What this test is about, if it fails: nothing of the program's group may outlive it.
      reapGroup(program);
    }
  });

  it('does not let a daemon child keep the root alive, and ends it at exit', async () => {
    const { first, exited } = await runRoot('daemon');
    expect(await exited).toBe(0);
    await allGone([first.daemon as number], 5000);
  });

  it('ends running children when the root calls process.exit()', async () => {
    const { first, exited } = await runRoot('exit-with-child');
    expect(await exited).toBe(0);
    await allGone([first.child as number], 5000);
  });

  it('answers a child that calls it while ctx.exit(n) waits for that child, rather than waiting on each other', async () => {
    const parent = reap(spawn(exitWhileCalled, { args: [current().self, 4] }));
    // Before, the parent's mailbox stayed open: the child's call waited for ever, and the parent for the child.
    expect(await parent.join({ timeout: 20_000 })).toBe(4);
    const told = await current().receive({ match: (m): m is { callEnded: string } => typeof (m as { callEnded?: unknown })?.callEnded === 'string', timeout: 10_000 });
    expect(told.callEnded).toBe('ERR_ACTOR_EXITED');
  });

  it.each([
    ['calls ctx.exit(3)', 'exit', 3, 'ended before it replied (exit code 3)', undefined],
    ['throws', 'throw', 1, 'ended before it replied (exit code 1: Error: gave up)', 'gave up'],
    ['returns', 'return', 0, 'ended before it replied (exit code 0: normal)', undefined],
  ] as const)('fails a call it took and did not answer when it %s while waiting for the caller, its child', async (_what, how, code, said, cause) => {
    const parent = reap(spawn(takesCallAndEnds, { args: [current().self, how] }));
    type Settled = { settled: string; message?: string; cause?: string };
    // Before, the child's call (no deadline) waited for ever, and the parent's process for the child.
    const told = await current().receive({ match: (m): m is Settled => typeof (m as Settled)?.settled === 'string', timeout: 20_000 });
    expect(told.settled).toBe('ERR_ACTOR_EXITED');
    expect(told.message).toContain(said);
    expect(told.cause).toBe(cause);
    expect(await parent.join({ timeout: 20_000 })).toBe(code);
  });

  it('leaves a call it put off with deferReply() to the work that answers it after the actor returned', async () => {
    const parent = reap(spawn(takesCallAndEnds, { args: [current().self, 'defer'] }));
    const told = await current().receive({ match: (m): m is { settled: string; value: unknown } => typeof (m as { settled?: unknown })?.settled === 'string', timeout: 20_000 });
    expect(told).toEqual({ settled: 'answered', value: 'later' });
    expect(await parent.join({ timeout: 20_000 })).toBe(0);
  });

  it("waits on the root's ctx.exit(n) for its non-daemon children, as Python's sys.exit", async () => {
    const { lines, exited } = await runRoot('ctx-exit');
    expect(await exited).toBe(3);
    expect(lines).toContain('slowpoke done');
  });

  it('keeps the root alive while it waits with no deadline on work a daemon child does', async () => {
    // Before, Node ended the program at once, its await unsettled (exit code 13): a daemon keeps nothing alive.
    const { first, lines, exited } = await runRoot('daemon-waits');
    expect(first).toEqual({ received: 'late item' });
    expect(await exited).toBe(0);
    expect(lines).toContain(JSON.stringify({ got: 'late item' }));
  });

  it('still ends once its main code has, with waits left open in the background and a daemon that never ends', async () => {
    const { root, first, exited } = await runRoot('daemon-background');
    // Killed past 20 s rather than left behind should it hang (as it did with the waits holding it).
    const deadline = setTimeout(() => root.kill('SIGKILL'), 20_000);
    expect(await exited).toBe(0);
    clearTimeout(deadline);
    await allGone([first.daemon as number], 5000);
  });

  it('keeps the root alive until its non-daemon children finish', async () => {
    const { first, lines, exited } = await runRoot('non-daemon');
    expect(await exited).toBe(0);
    expect(lines).toContain('slowpoke done');
    expect(alive(first.child as number)).toBe(false);
  });

  // Python prints the traceback, terminates the daemons and joins the others, then exits 1;
  // Node alone would exit at once and the child's work would be lost.
  it.each([
    ['an uncaught error', 'throws', 'Error: main program failed'],
    ['an unhandled rejection', 'rejects', 'Error: main program rejected'],
    ['an uncaught error with the waiting turned off and on again', 'throws-rewait', 'Error: main program failed'],
  ])('after %s in the main program, waits for the non-daemon children, ends the daemons, and exits 1', async (_what, mode, printed) => {
    const { first, lines, stderr, exited } = await runRoot(mode);
    expect(await exited).toBe(1);
    expect(lines).toContain('slowpoke done');
    expect(stderr()).toContain(printed);
    // Said, so that a program that seems to hang tells why.
    expect(stderr()).toMatch(/waiting for its non-daemon children to finish, as Python does: slowpoke \(pid \d+\)\. Ctrl-C stops them\./);
    await allGone([first.child as number, first.daemon as number], 5000);
  });

  it('after an uncaught error, waits for the children of every copy of troupe in the program, and exits 1', async () => {
    // A second copy, as a second version in a package tree would be.
    const copy = mkdtempSync(join(tmpdir(), 'troupe-copy-'));
    try {
      for (const part of ['index.ts', 'package.json', 'runtime', 'actors', 'spec/fixtures']) cpSync(join(REPO, part), join(copy, part), { recursive: true });
      symlinkSync(join(REPO, 'node_modules'), join(copy, 'node_modules'));
      const root = spawnProcess(process.execPath, ['--import', 'tsx', join(REPO, 'spec/fixtures/two-copies.ts'), copy], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      root.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      root.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const deadline = setTimeout(() => root.kill('SIGKILL'), 25_000);
      const [code] = (await once(root, 'close')) as [number | null];
      clearTimeout(deadline);
      // Before, each copy took the other's handler for the program's own and stepped aside:
      // the error was swallowed, and the program exited 0.
      expect(stderr).toContain('Error: main program failed');
      expect(code).toBe(1);
      expect(stdout).toContain('first-copy done');
      expect(stdout).toContain('second-copy done');
      // The first child may be done before the second copy has built its bundles and printed the pids.
      await allGone((JSON.parse(stdout.split('\n').find((line) => line.startsWith('{'))!) as { pids: number[] }).pids, 5000);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });

  it("leaves an uncaught error to Node after startNode({ uncaught: 'exit' }): it exits at once, its children with it", async () => {
    const { first, lines, stderr, exited } = await runRoot('throws-exit');
    expect(await exited).toBe(1);
    expect(stderr()).toContain('Error: main program failed');
    expect(stderr()).not.toContain('waiting for its non-daemon children');
    expect(lines).not.toContain('slowpoke done');
    await allGone([first.child as number, first.daemon as number], 5000);
  });

  it("leaves an uncaught error to the program's own handler", async () => {
    const { first, lines, exited } = await runRoot('throws-handled');
    expect(await exited).toBe(5);
    expect(lines).toContain('handled main program failed');
    expect(lines).not.toContain('slowpoke done');
    await allGone([first.child as number, first.daemon as number], 5000);
  });
});

describe('signals to the root', () => {
  it.each([
    ['SIGINT to the process group (Ctrl-C)', 'SIGINT', true, 130],
    ['SIGTERM to the root', 'SIGTERM', false, 143],
  ] as const)('%s stops the actors in reverse order, then exits as a shell expects', async (_what, signal, group, code) => {
    const { root, first, lines, exited } = await runRoot('graceful');
    const pids = first.pids as number[];
    process.kill(group ? -root.pid! : root.pid!, signal);
    expect(await exited).toBe(code);
    expect(lines.slice(1)).toEqual(['second stopped', 'first stopped']);
    await allGone(pids, 5000);
  });
});

describe('control channel', () => {
  it('ends the connection of an actor that writes garbage, with a logged error, and the node lives on', async () => {
    const errors: Error[] = [];
    const onError = (err: Error): void => void errors.push(err);
    node().on('error', onError);
    try {
      const ref = reap(spawn(vandal));
      expect(await ref.join({ timeout: 15_000 })).toBe(-9);
      expect(ref.error).toBeInstanceOf(ProtocolError);
      expect(ref.error!.message).toContain('bad frame');
      expect(errors).toHaveLength(1);
    } finally {
      node().off('error', onError);
    }
  });
});
