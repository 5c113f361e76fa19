/**
 * The supervisor, organised like OTP's supervisor_SUITE: start and stop,
 * each strategy, restart types, intensity, dynamic children, nesting. Real
 * processes; restarts are observed through the children's own reports.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ActorExitedError,
  ChildExistsError,
  NoSuchChildError,
  SpawnError,
  Supervisor,
  SupervisorStoppingError,
  current,
  isDown,
  node,
  register,
  whereis,
  supervisor,
  type ActorRef,
  type ChildSpec,
  type Down,
  type RestartEvent,
  type SupervisorSpec,
} from '../../index.ts';
import { crashOnText, member, partner, slowStop } from '../fixtures/members.ts';
import { until } from '../helpers.ts';

type Report = { started: string; pid: number } | { stopped: string };

const started = (name: string) => (m: unknown): m is { started: string; pid: number } =>
  typeof m === 'object' && m !== null && (m as { started?: string }).started === name;
/** A stop report from one of `names`: every test names its own children, so a late report from another test never matches. */
const stoppedOf =
  (...names: string[]) =>
  (m: unknown): m is { stopped: string } =>
    typeof m === 'object' && m !== null && names.includes((m as { stopped?: string }).stopped ?? '');
const next = <T extends Report>(match: (m: unknown) => m is T): Promise<T> => current().receive({ match, timeout: 30_000 });

const child = (id: string, more: Partial<ChildSpec> = {}): ChildSpec => ({ id, actor: member, args: [current().self], shutdown: 5000, ...more });
/** Waits for the down message of `ref`, watched from the root. */
async function ended(ref: ActorRef | null): Promise<unknown> {
  current().monitor(ref!);
  const down = await current().receive({ match: (m): m is Down => isDown(m) && m.actor.id === ref!.id, timeout: 30_000 });
  return down.reason;
}

let dir: string;
let log: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'troupe-sup-'));
  log = join(dir, 'starts.log');
  process.env.TROUPE_SPEC_START_LOG = log;
});
afterAll(() => {
  delete process.env.TROUPE_SPEC_START_LOG;
  rmSync(dir, { recursive: true, force: true });
});

const running: Supervisor[] = [];
afterEach(async () => {
  for (const sup of running.splice(0)) {
    sup.ref.kill();
    await sup.join({ timeout: 10_000 });
  }
});

/** Starts a supervisor and waits for the start report of each named child. */
async function start(spec: SupervisorSpec, names: string[]): Promise<{ sup: Supervisor; pids: Map<string, number> }> {
  const sup = Supervisor.start(spec);
  running.push(sup);
  await sup.ready;
  const pids = new Map<string, number>();
  for (const name of names) pids.set(name, (await next(started(name))).pid);
  return { sup, pids };
}

describe('supervisor: start and stop', () => {
  it('starts children in order, each ready before the next, and stops them in reverse', async () => {
    rmSync(log, { force: true });
    const { sup } = await start({ children: [child('c1'), child('c2'), child('c3')] }, ['c1', 'c2', 'c3']);
    expect(readFileSync(log, 'utf8')).toBe('c1\nc2\nc3\n');
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['c1', 'c2', 'c3']);
    expect(await sup.stop()).toBe(0);
    const stopped = stoppedOf('c1', 'c2', 'c3');
    const order = [(await next(stopped)).stopped, (await next(stopped)).stopped, (await next(stopped)).stopped];
    expect(order).toEqual(['c3', 'c2', 'c1']);
  });

  it("counts a nested supervisor up once its own children are (OTP's start_link), and fails a startChild whose subtree cannot start", async () => {
    const { heldPid } = await import('../fixtures/held-start.ts');
    const { fragile } = await import('../fixtures/throws-in-actor.ts');
    const dir = mkdtempSync(join(tmpdir(), 'troupe-nested-'));
    const hold = join(dir, 'go');
    process.env.TROUPE_SPEC_HOLD = hold;
    try {
      const tree = Supervisor.start({ children: [{ id: 'inner', actor: supervisor, args: [{ children: [{ id: 'held', actor: heldPid }] }], shutdown: 'infinity' }] });
      running.push(tree);
      // The grandchild cannot be ready while the file is missing: neither can the tree (before, it
      // was as soon as the inner supervisor's module had loaded).
      const early = await Promise.race([tree.ready.then(() => 'ready'), sleep(1500).then(() => 'waiting')]);
      expect(early).toBe('waiting');
      writeFileSync(hold, '');
      await tree.ready;
      // Before, this resolved, and the subtree's restarts then ended the tree at its intensity.
      const failed = await tree.startChild({ id: 'bad', actor: supervisor, args: [{ children: [{ id: 'broken', actor: fragile }] }], shutdown: 'infinity' }).catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(SpawnError);
      expect((failed as Error).message).toContain('could not start child broken');
      expect((await tree.whichChildren()).map((c) => c.id)).toEqual(['inner']);
      expect(tree.ref.isAlive()).toBe(true);
    } finally {
      delete process.env.TROUPE_SPEC_HOLD;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts no child once asked to stop while starting, and a stop is not a failure to start', async () => {
    const { heldPid } = await import('../fixtures/held-start.ts');
    const holdDir = mkdtempSync(join(tmpdir(), 'troupe-stop-start-'));
    const hold = join(holdDir, 'go');
    process.env.TROUPE_SPEC_HOLD = hold;
    try {
      const sup = Supervisor.start({ children: [child('ss-a'), { id: 'ss-held', actor: heldPid, shutdown: 5000 }, child('ss-c')] });
      running.push(sup);
      const ready = sup.ready.then(() => 'ready', (err: unknown) => err);
      await next(started('ss-a'));
      const stopping = sup.stop({ timeout: 20_000 });
      // The held child may now finish starting: the one after it must not start all the same.
      writeFileSync(hold, '');
      expect(await stopping).toBe(0);
      expect((await next(stoppedOf('ss-a'))).stopped).toBe('ss-a');
      expect(readFileSync(log, 'utf8')).not.toContain('ss-c');
      // Never up, so never ready (before, ready resolved: the supervisor answered the call it waits on).
      expect(await ready).toBeInstanceOf(ActorExitedError);
    } finally {
      delete process.env.TROUPE_SPEC_HOLD;
      rmSync(holdDir, { recursive: true, force: true });
    }
  });

  it('refuses startChild and restartChild once its stop has begun, and its stop ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-stop-start-'));
    try {
      const release = join(dir, 'release');
      const sup = Supervisor.start({ children: [{ id: 'slow', actor: slowStop, args: [current().self, release], shutdown: 20_000 }, child('spare', { restart: 'transient' })] });
      running.push(sup);
      await sup.ready;
      await sup.terminateChild('spare');
      const stopping = sup.stop({ timeout: 30_000 });
      await current().receive({ match: (m): m is { stopping: string } => (m as { stopping?: unknown })?.stopping === 'slow', timeout: 30_000 });
      // Before, both started a child nobody stopped, and the stop waited for it to its deadline (-9).
      for (const late of [sup.startChild(child('late')), sup.restartChild('spare')]) {
        const err = await late.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SupervisorStoppingError);
        expect((err as SupervisorStoppingError).code).toBe('ERR_SUPERVISOR_STOPPING');
      }
      writeFileSync(release, '');
      expect(await stopping).toBe(0);
      expect(readFileSync(log, 'utf8')).not.toContain('late');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ends itself when a child cannot start, naming the child, and its ready rejects', async () => {
    const { fragile } = await import('../fixtures/throws-in-actor.ts');
    const sup = Supervisor.start({ children: [child('fine-first'), { id: 'broken', actor: fragile }, child('never-started')] });
    running.push(sup);
    // With the SpawnError itself, as the docs say (before, an ActorExitedError whose cause it was).
    const failed = await sup.ready.catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(SpawnError);
    expect(failed).toMatchObject({ code: 'ERR_SPAWN', actorName: 'broken' });
    expect(await sup.join({ timeout: 20_000 })).toBe(1);
    expect(sup.ref.error?.message).toContain('could not start child broken');
    expect(sup.ref.error).toBeInstanceOf(SpawnError);
    expect(sup.ref.error).toMatchObject({ code: 'ERR_SPAWN', actorName: 'broken' });
    // The child started before it was ended again; the one after it never started.
    expect((await next(stoppedOf('fine-first'))).stopped).toBe('fine-first');
  });

  it('refuses a bad spec at the call site, naming the field', () => {
    expect(() => Supervisor.start({ strategy: 'one-for-some' as never })).toThrow(
      "Expected `strategy` to be 'one-for-one', 'one-for-all' or 'rest-for-one', got `\"one-for-some\"` (string).",
    );
    expect(() => Supervisor.start({ children: [{ id: 'x', actor: (() => 1) as never }] })).toThrow('Expected `children[0].actor` to be an actor definition');
    expect(() => Supervisor.start({ children: [child('a'), child('a')] })).toThrow('Two children have the id "a"');
    expect(() => Supervisor.start({ children: [child('a', { shutdown: -1 })] })).toThrow("Expected `children[0].shutdown` to be a number of milliseconds >= 0, 'brutal' or 'infinity', got `-1` (number).");
    expect(() => Supervisor.start({ children: [child('a', { deathSignal: 'HUP' as never })] })).toThrow("Expected `children[0].deathSignal` to be 'KILL' or 'TERM', got `\"HUP\"` (string).");
  });
});

describe('supervisor: strategies', () => {
  it('one-for-one restarts only the child that ended, and the root hears of it', async () => {
    const restarted = new Promise<RestartEvent>((resolve) => node().once('restart', resolve));
    const { sup, pids } = await start({ strategy: 'one-for-one', maxRestarts: 5, children: [child('o1'), child('o2'), child('o3')] }, ['o1', 'o2', 'o3']);
    const before = (await sup.whichChildren()).map((c) => c.ref?.id);
    process.kill(pids.get('o2')!, 'SIGKILL');
    const again = await next(started('o2'));
    expect(again.pid).not.toBe(pids.get('o2'));
    const after = (await sup.whichChildren()).map((c) => c.ref?.id);
    expect([after[0], after[2]]).toEqual([before[0], before[2]]);
    expect(after[1]).not.toBe(before[1]);
    expect(await restarted).toMatchObject({ supervisor: { id: sup.ref.id }, child: 'o2', attempt: 1, reason: 'killed' });
    expect(await sup.countChildren()).toEqual({ specs: 3, active: 3, supervisors: 0, workers: 3 });
  });

  it('one-for-all ends the others in reverse order and restarts all in order', async () => {
    const { pids } = await start({ strategy: 'one-for-all', maxRestarts: 5, children: [child('a1'), child('a2'), child('a3')] }, ['a1', 'a2', 'a3']);
    rmSync(log, { force: true });
    process.kill(pids.get('a2')!, 'SIGKILL');
    expect((await next(stoppedOf('a1', 'a2', 'a3'))).stopped).toBe('a3');
    expect((await next(stoppedOf('a1', 'a2', 'a3'))).stopped).toBe('a1');
    for (const name of ['a1', 'a2', 'a3']) expect((await next(started(name))).pid).not.toBe(pids.get(name));
    expect(readFileSync(log, 'utf8')).toBe('a1\na2\na3\n');
  });

  it('deals with a child that ends while later ones start once all have started, as OTP does after init', async () => {
    rmSync(log, { force: true });
    rmSync(`${log}.crashing`, { force: true });
    // x crashes as y's process loads (its line in the start log), and y holds its start until
    // x is crashing, and half a second more: x ends in the middle of the supervisor's start.
    process.env.TROUPE_SPEC_HOLD = 'iy';
    process.env.TROUPE_SPEC_HOLD_FILE = `${log}.crashing`;
    const spec: SupervisorSpec = {
      strategy: 'one-for-all',
      maxRestarts: 5,
      children: [{ id: 'ix', actor: crashOnText, args: [current().self, log, 'iy\n'], shutdown: 5000 }, child('iy'), child('iz')],
    };
    const sup = Supervisor.start(spec);
    running.push(sup);
    try {
      await sup.ready;
    } finally {
      delete process.env.TROUPE_SPEC_HOLD;
      delete process.env.TROUPE_SPEC_HOLD_FILE;
    }
    const events: string[] = [];
    const isEvent = (m: unknown): m is Report => typeof m === 'object' && m !== null && ['ix', 'iy', 'iz'].includes((m as { started?: string; stopped?: string }).started ?? (m as { stopped?: string }).stopped ?? '');
    while (events.length < 8) {
      const m = await next(isEvent);
      events.push('started' in m ? `up:${m.started}` : `down:${m.stopped}`);
    }
    // Before, the crash was dealt with in the middle of the start: y was ended and x and y
    // restarted while z started, and z was left out of the group's restart.
    expect(events).toEqual(['up:ix', 'up:iy', 'up:iz', 'down:iz', 'down:iy', 'up:ix', 'up:iy', 'up:iz']);
  });

  it('traps exits: a child linked to it that crashes is restarted, and the supervisor goes on', async () => {
    const { sup, pids } = await start({ strategy: 'one-for-one', maxRestarts: 5, children: [child('l1'), child('l2')] }, ['l1', 'l2']);
    const l1 = (await sup.whichChildren()).find((c) => c.id === 'l1')!.ref!;
    l1.send('link');
    await current().receive({ match: (m): m is { linked: string } => (m as { linked?: string })?.linked === 'l1', timeout: 30_000 });
    l1.send('crash');
    // Before, the link's exit signal ended the supervisor (LinkedExitError) and nothing was restarted.
    expect((await next(started('l1'))).pid).not.toBe(pids.get('l1'));
    expect(sup.ref.isAlive()).toBe(true);
    expect((await sup.countChildren()).active).toBe(2);
  });

  it("leaves a transient child ended by a linked sibling's shutdown alone: it ended with shutdown too, as in OTP", async () => {
    const { sup } = await start({ strategy: 'one-for-one', children: [child('lb')] }, ['lb']);
    const b = (await sup.whichChildren())[0]!.ref!;
    const a = await sup.startChild({ id: 'la', actor: partner, args: [current().self, b], restart: 'transient' });
    await next(started('la'));
    const monitor = current().monitor(a);
    await sup.terminateChild('lb');
    const down = await current().receive({ match: (m): m is Down => isDown(m) && m.monitor === monitor, timeout: 30_000 });
    expect(down.reason).toBe('shutdown');
    // Asked after the supervisor heard of its exit: before, it was restarted (as a failure), linked
    // again to the ended sibling, failed again, and the supervisor reached its restart intensity.
    const la = (await sup.whichChildren()).find((c) => c.id === 'la')!;
    expect(la.ref).toBeNull();
    expect(sup.ref.isAlive()).toBe(true);
  });

  it('rest-for-one restarts the child and those started after it', async () => {
    const { sup, pids } = await start({ strategy: 'rest-for-one', maxRestarts: 5, children: [child('r1'), child('r2'), child('r3')] }, ['r1', 'r2', 'r3']);
    const before = (await sup.whichChildren()).map((c) => c.ref?.id);
    process.kill(pids.get('r2')!, 'SIGKILL');
    expect((await next(stoppedOf('r1', 'r2', 'r3'))).stopped).toBe('r3');
    expect((await next(started('r2'))).pid).not.toBe(pids.get('r2'));
    expect((await next(started('r3'))).pid).not.toBe(pids.get('r3'));
    const after = (await sup.whichChildren()).map((c) => c.ref?.id);
    expect(after[0]).toBe(before[0]);
    expect(after[1]).not.toBe(before[1]);
    expect(after[2]).not.toBe(before[2]);
  });
});

describe('supervisor: restart types', () => {
  it('does not restart a transient child that returned normally, but restarts one that crashed', async () => {
    const { sup } = await start({ maxRestarts: 5, children: [child('t', { restart: 'transient' })] }, ['t']);
    const [info] = await sup.whichChildren();
    info!.ref!.send('crash');
    await next(started('t'));
    const [again] = await sup.whichChildren();
    again!.ref!.send('return');
    expect(await ended(again!.ref)).toBe('normal');
    expect(await sup.countChildren()).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 1 });
  });

  it('restarts a permanent child even after a normal return (OTP permanent_normal)', async () => {
    const { sup } = await start({ maxRestarts: 5, children: [child('perm-normal')] }, ['perm-normal']);
    const [info] = await sup.whichChildren();
    info!.ref!.send('return');
    await next(started('perm-normal'));
    expect(await sup.countChildren()).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
  });

  it('restarts a transient child killed abnormally (OTP transient_abnormal)', async () => {
    const { sup, pids } = await start({ maxRestarts: 5, children: [child('trans-killed', { restart: 'transient' })] }, ['trans-killed']);
    process.kill(pids.get('trans-killed')!, 'SIGKILL');
    expect((await next(started('trans-killed'))).pid).not.toBe(pids.get('trans-killed'));
    expect(await sup.countChildren()).toEqual({ specs: 1, active: 1, supervisors: 0, workers: 1 });
  });

  it('never restarts a temporary child, and forgets its spec', async () => {
    const { sup, pids } = await start({ maxRestarts: 5, children: [child('tmp1', { restart: 'temporary' }), child('perm1')] }, ['tmp1', 'perm1']);
    const [tmp] = await sup.whichChildren();
    const down = ended(tmp!.ref);
    // The monitor travels to the supervisor ahead of this call: once it is answered, the monitor is in place.
    await sup.countChildren();
    process.kill(pids.get('tmp1')!, 'SIGKILL');
    expect(await down).toBe('killed');
    // The supervisor handled the exit before this call: its work runs in order.
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['perm1']);
  });

  it('does not restart a temporary child that a sibling restart ended (one-for-all)', async () => {
    const { sup, pids } = await start({ strategy: 'one-for-all', maxRestarts: 5, children: [child('tmp2', { restart: 'temporary' }), child('perm2')] }, ['tmp2', 'perm2']);
    process.kill(pids.get('perm2')!, 'SIGKILL');
    expect((await next(stoppedOf('tmp2', 'perm2'))).stopped).toBe('tmp2');
    await next(started('perm2'));
    expect((await sup.whichChildren()).map((c) => c.id)).toEqual(['perm2']);
  });
});

describe('supervisor: intensity', () => {
  it('ends its children and itself past maxRestarts within periodMs, with a clear reason', async () => {
    const { sup, pids } = await start({ maxRestarts: 1, periodMs: 60_000, children: [child('w'), child('v')] }, ['w', 'v']);
    process.kill(pids.get('w')!, 'SIGKILL');
    const second = await next(started('w'));
    process.kill(second.pid, 'SIGKILL');
    // As OTP's: its reason is shutdown (SIGTERM, -15), its error on the ref.
    expect(await sup.join({ timeout: 30_000 })).toBe(-15);
    expect(sup.ref.error?.name).toBe('RestartIntensityError');
    expect((sup.ref.error as { code?: string }).code).toBe('ERR_RESTART_INTENSITY');
    expect(sup.ref.error?.message).toContain('more than 1 restart(s) in 60000 ms (child w ended: killed)');
    expect((await next(stoppedOf('v'))).stopped).toBe('v');
  });
});

describe('supervisor: a supervisor that gives up', () => {
  it('ends with reason shutdown: a transient parent does not restart it, a permanent one does', async () => {
    for (const restart of ['transient', 'permanent'] as const) {
      const deep = `deep-${restart}`;
      const sub: ChildSpec = { id: 'sub', actor: supervisor, args: [{ maxRestarts: 0, children: [child(deep)] }], restart, shutdown: 'infinity' };
      const { sup, pids } = await start({ maxRestarts: 5, children: [sub] }, [deep]);
      const subRef = (await sup.whichChildren())[0]!.ref!;
      current().monitor(subRef);
      process.kill(pids.get(deep)!, 'SIGKILL');
      const down = await current().receive({ match: (m): m is Down => isDown(m) && m.actor.id === subRef.id, timeout: 30_000 });
      // Before, it ended with its error, which a transient parent restarted.
      expect(down.reason).toBe('shutdown');
      expect((await sup.countChildren()).active).toBe(restart === 'transient' ? 0 : 1);
      if (restart === 'permanent') await next(started(deep));
    }
  });
});

describe('supervisor: backoff', () => {
  it('ends a restart backoff on stop: what was queued behind it is answered, and the supervisor stops cleanly, well before the backoff', async () => {
    const { sup, pids } = await start({ strategy: 'one-for-all', maxRestarts: 10, backoff: { minMs: 5000, maxMs: 5000, jitter: 0 }, children: [child('bw'), child('bv')] }, ['bw', 'bv']);
    process.kill(pids.get('bw')!, 'SIGKILL');
    // The supervisor ends the sibling before its backoff: from now on, a request waits for the restart.
    await next(stoppedOf('bv'));
    const queued = sup.countChildren();
    const started = performance.now();
    expect(await sup.stop()).toBe(0);
    expect(performance.now() - started).toBeLessThan(3000);
    await expect(queued).resolves.toMatchObject({ specs: 2, active: 0 });
  });
});

describe('supervisor: when the supervisor itself is ended', () => {
  it('tells the monitors of its children, and frees their names', async () => {
    const { sup } = await start({ children: [child('watched')] }, ['watched']);
    const [info] = await sup.whichChildren();
    await register('watched-name', info!.ref!);
    const down = ended(info!.ref);
    // The monitor and the registry's reach the supervisor ahead of this call: then they are in place.
    await sup.countChildren();
    sup.ref.terminate();
    expect(await down).toBe('killed');
    expect(await sup.join({ timeout: 10_000 })).toBe(-15);
    expect(await whereis('watched-name')).toBeNull();
  });
});

describe('supervisor: restarts that cannot start', () => {
  it('count a restart that fails to start as another failure, up to the intensity', async () => {
    const { sup, pids } = await start({ maxRestarts: 2, periodMs: 60_000, backoff: { minMs: 0, maxMs: 0 }, children: [child('nostart')] }, ['nostart']);
    writeFileSync(`${log}.fail`, 'nostart');
    try {
      process.kill(pids.get('nostart')!, 'SIGKILL');
      expect(await sup.join({ timeout: 30_000 })).toBe(-15);
      expect(sup.ref.error?.name).toBe('RestartIntensityError');
    } finally {
      rmSync(`${log}.fail`, { force: true });
    }
  });
});

describe('supervisor: a group restart that cannot start a child', () => {
  // This case's children only (named by prefix): reports of other specs' children may still come.
  const eventsOf = async (prefix: string, n: number): Promise<string[]> => {
    const mine = (m: unknown): m is Report =>
      typeof m === 'object' && m !== null && String((m as { started?: string }).started ?? (m as { stopped?: string }).stopped).startsWith(prefix);
    const seen: string[] = [];
    while (seen.length < n) {
      const m = await next(mine);
      seen.push('started' in m ? `start:${m.started.slice(prefix.length)}` : `stop:${m.stopped.slice(prefix.length)}`);
    }
    return seen;
  };

  it.each([
    // OTP's start_children stops at the first child that fails; the restart is tried again, whole.
    ['rest-for-one', 'rg', ['stop:3', 'start:2', 'start:3']],
    ['one-for-all', 'ag', ['stop:3', 'stop:1', 'start:1', 'stop:1', 'start:1', 'start:2', 'start:3']],
  ] as const)('%s starts none after it, and tries the group again', async (strategy, prefix, expected) => {
    const names = [1, 2, 3].map((i) => `${prefix}${i}`);
    const { sup } = await start({ strategy, maxRestarts: 5, periodMs: 60_000, backoff: { minMs: 0, maxMs: 0 }, children: names.map((name) => child(name)) }, names);
    writeFileSync(`${log}.fail`, `once:${prefix}2`);
    try {
      (await sup.whichChildren())[1]!.ref!.send('crash');
      // Before, the third started while the second could not, and was ended again when its failure came back.
      expect(await eventsOf(prefix, expected.length)).toEqual(expected);
      expect((await sup.countChildren()).active).toBe(3);
    } finally {
      rmSync(`${log}.fail`, { force: true });
    }
  });

  it("shows a child whose restart failed as restarting (OTP's which_children): no ref, not active, not restarted or deleted on request", async () => {
    const hold = join(dir, 'hold-restart');
    process.env.TROUPE_SPEC_HOLD = 'hr';
    process.env.TROUPE_SPEC_HOLD_FILE = hold;
    try {
      writeFileSync(hold, '');
      const { sup } = await start({ maxRestarts: 5, periodMs: 60_000, backoff: { minMs: 0, maxMs: 0 }, children: [child('hr')] }, ['hr']);
      rmSync(hold);
      writeFileSync(`${log}.fail`, 'hr');
      const attempts = readFileSync(log, 'utf8').split('\n').filter((l) => l === 'hr').length;
      (await sup.whichChildren())[0]!.ref!.send('crash');
      // Its restart has begun (the start log has it) and is held: these requests wait behind it.
      await until(() => readFileSync(log, 'utf8').split('\n').filter((l) => l === 'hr').length > attempts, 30_000, 'the restart of hr');
      const which = sup.whichChildren();
      const counts = sup.countChildren();
      const restart = sup.restartChild('hr').catch((e: unknown) => e);
      const remove = sup.deleteChild('hr').catch((e: unknown) => e);
      writeFileSync(hold, ''); // the held start goes on, and fails
      // Before, the process that could not start was listed as running, and counted active.
      expect((await which)[0]!.ref).toBeNull();
      expect((await counts).active).toBe(0);
      for (const refused of [await restart, await remove]) {
        expect(refused).toBeInstanceOf(ChildExistsError);
        expect(refused).toMatchObject({ running: false, message: expect.stringContaining('is being restarted') });
      }
      // terminateChild ends the restarts.
      await sup.terminateChild('hr');
      rmSync(`${log}.fail`, { force: true });
      expect(await sup.countChildren()).toMatchObject({ specs: 1, active: 0 });
      await sup.restartChild('hr');
      expect((await sup.countChildren()).active).toBe(1);
    } finally {
      delete process.env.TROUPE_SPEC_HOLD;
      delete process.env.TROUPE_SPEC_HOLD_FILE;
      rmSync(`${log}.fail`, { force: true });
    }
  });
});

describe('supervisor: dynamic children', () => {
  it('starts, lists, terminates, restarts and deletes children', async () => {
    const { sup } = await start({ children: [] }, []);
    const ref = await sup.startChild(child('dyn'));
    expect(ref.name).toBe('dyn');
    await next(started('dyn'));
    // OTP's already_started and already_present.
    await expect(sup.startChild(child('dyn'))).rejects.toMatchObject({ code: 'ERR_CHILD_EXISTS', running: true });
    expect(await sup.whichChildren()).toEqual([expect.objectContaining({ id: 'dyn', restart: 'permanent', type: 'worker' })]);
    await sup.terminateChild('dyn');
    expect((await next(stoppedOf('dyn'))).stopped).toBe('dyn');
    expect(await sup.countChildren()).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 1 });
    const present = await sup.startChild(child('dyn')).catch((e: unknown) => e);
    expect(present).toBeInstanceOf(ChildExistsError);
    expect(present).toMatchObject({ running: false, message: expect.stringContaining('restartChild() starts it') });
    await sup.startChild({ id: 'sub', actor: supervisor, args: [{ children: [] }], shutdown: 'infinity' });
    expect(await sup.countChildren()).toEqual({ specs: 2, active: 1, supervisors: 1, workers: 1 });
    await sup.terminateChild('sub');
    await sup.deleteChild('sub');
    await expect(sup.deleteChild('nope')).rejects.toBeInstanceOf(NoSuchChildError);
    const again = await sup.restartChild('dyn');
    expect(again.id).not.toBe(ref.id);
    await next(started('dyn'));
    await expect(sup.deleteChild('dyn')).rejects.toThrow('is running: terminate it before deleting its spec');
    await sup.terminateChild('dyn');
    expect((await next(stoppedOf('dyn'))).stopped).toBe('dyn');
    await sup.deleteChild('dyn');
    expect(await sup.countChildren()).toEqual({ specs: 0, active: 0, supervisors: 0, workers: 0 });
  });
});

describe('supervisor: nesting', () => {
  it('runs a tree 3 levels deep and shuts it down in order', async () => {
    const inner: SupervisorSpec = { children: [child('leaf1'), child('leaf2')] };
    const middle: SupervisorSpec = { children: [child('m-worker'), { id: 'inner', actor: supervisor, args: [inner], shutdown: 'infinity' }] };
    const { sup } = await start({ children: [child('top-worker'), { id: 'middle', actor: supervisor, args: [middle], shutdown: 'infinity' }] }, [
      'top-worker',
      'm-worker',
      'leaf1',
      'leaf2',
    ]);
    const which = await sup.whichChildren();
    expect(which.map((c) => [c.id, c.type])).toEqual([
      ['top-worker', 'worker'],
      ['middle', 'supervisor'],
    ]);
    expect(await sup.stop()).toBe(0);
    const order: string[] = [];
    const stopped = stoppedOf('leaf1', 'leaf2', 'm-worker', 'top-worker');
    for (let i = 0; i < 4; i++) order.push((await next(stopped)).stopped);
    expect(order).toEqual(['leaf2', 'leaf1', 'm-worker', 'top-worker']);
  });
});
