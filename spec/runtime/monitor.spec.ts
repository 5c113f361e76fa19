import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LinkedExitError, MailboxFullError, current, isDown, isExitSignal, spawn, type ActorRef, type Down, type ExitSignal } from '../../index.ts';
import { returnsWhileChildRuns, stubborn, waiter } from '../fixtures/actors.ts';
import { linked, obedient, parentOfNamed, puppet, unlinker, watcher, type PuppetOrder } from '../fixtures/watchers.ts';
import { reap, until } from '../helpers.ts';

const downFor = (ref: ActorRef) => (m: unknown): m is Down => isDown(m) && m.actor.id === ref.id;
const next = <T>(match: (m: unknown) => m is T): Promise<T> => current().receive({ match, timeout: 20_000 });
const field =
  <K extends string>(key: K) =>
  (m: unknown): m is Record<K, unknown> =>
    typeof m === 'object' && m !== null && key in m;

describe('monitors', () => {
  it.each([
    ['return', 'normal'],
    ['exit:3', { exitCode: 3 }],
  ] as const)('tell the watcher how the actor ended (%s → %j)', async (order, reason) => {
    const target = reap(spawn(obedient));
    const monitor = current().monitor(target);
    target.send(order);
    const down = await next(downFor(target));
    expect(down).toEqual({ type: 'down', monitor, actor: expect.objectContaining({ id: target.id }), reason });
  });

  it('report an uncaught error with its stack', async () => {
    const target = reap(spawn(obedient));
    current().monitor(target);
    target.send('throw');
    const { reason } = await next(downFor(target));
    expect(reason).toMatchObject({ exitCode: 1 });
    const { error } = reason as { error: Error };
    expect(error.message).toBe('told to throw');
    expect(error.stack).toContain('spec/fixtures/watchers.ts');
  });

  it('say killed for SIGKILL and shutdown for stop() and terminate()', async () => {
    const [a, b, c] = [reap(spawn(stubborn)), reap(spawn(waiter)), reap(spawn(stubborn))];
    await Promise.all([a.ready, b.ready, c.ready]);
    for (const r of [a, b, c]) current().monitor(r);
    a.kill();
    await b.stop();
    c.terminate();
    expect((await next(downFor(a))).reason).toBe('killed');
    expect((await next(downFor(b))).reason).toBe('shutdown');
    expect((await next(downFor(c))).reason).toBe('shutdown');
  });

  it('say noproc at once for an actor that has ended or never was', async () => {
    const gone = reap(spawn(obedient));
    gone.send('return');
    await gone.join({ timeout: 15_000 });
    current().monitor(gone);
    expect((await next(downFor(gone))).reason).toBe('noproc');
  });

  it('say noproc for an actor that has ended while its process still waits for a child, links too', async () => {
    const parent = reap(spawn(returnsWhileChildRuns));
    const first = current().monitor(parent);
    const { child } = await next(field('child'));
    // Its behaviour returned: its watchers are told now, while its process waits for its child.
    expect((await next((m): m is Down => isDown(m) && m.monitor === first)).reason).toBe('normal');
    expect(parent.isAlive()).toBe(true);
    const late = current().monitor(parent);
    expect((await next((m): m is Down => isDown(m) && m.monitor === late)).reason).toBe('noproc');
    const linker = reap(spawn(linked, { args: [parent, current().self, true] }));
    // Taken, so that no later test takes it for its own.
    await next((m): m is 'linked' => m === 'linked');
    expect((await next(field('trapped'))).trapped).toMatchObject({ type: 'exit', reason: 'noproc' });
    expect(await linker.join({ timeout: 20_000 })).toBe(0);
    expect(parent.isAlive()).toBe(true);
    process.kill(child as number, 'SIGKILL');
    expect(await parent.join({ timeout: 20_000 })).toBe(0);
  });

  it('name the actor as it was monitored or linked, killed with its parent and once gone, though the node that answers knows only its ID', async () => {
    const parent = reap(spawn(parentOfNamed, { args: ['named-grandchild'] }));
    const { grandchild } = (await next(field('grandchild'))) as { grandchild: ActorRef };
    expect(grandchild.name).toBe('named-grandchild');
    const before = current().monitor(grandchild);
    const trapper = reap(spawn(linked, { args: [grandchild, current().self, true] }));
    await next((m): m is 'linked' => m === 'linked');
    parent.kill();
    // Its parent's process is gone: the root tells its watchers, knowing the actor by ID alone.
    const killed = await next((m): m is Down => isDown(m) && m.monitor === before);
    expect(killed.reason).toBe('killed');
    expect(killed.actor.name).toBe('named-grandchild');
    const trapped = (await next(field('trapped'))).trapped as ExitSignal;
    expect(trapped).toMatchObject({ type: 'exit', reason: 'killed' });
    expect(trapped.actor.name).toBe('named-grandchild');
    const after = current().monitor(grandchild);
    const gone = await next((m): m is Down => isDown(m) && m.monitor === after);
    expect(gone.reason).toBe('noproc');
    expect(gone.actor).toMatchObject({ id: grandchild.id, name: 'named-grandchild' });
    expect(await trapper.join({ timeout: 20_000 })).toBe(0);
    // A link made after its end: the exit signal names it as it was linked.
    const late = reap(spawn(linked, { args: [grandchild, current().self, true] }));
    await next((m): m is 'linked' => m === 'linked');
    const lateExit = (await next(field('trapped'))).trapped as ExitSignal;
    expect(lateExit).toMatchObject({ type: 'exit', reason: 'noproc' });
    expect(lateExit.actor.name).toBe('named-grandchild');
    expect(await late.join({ timeout: 20_000 })).toBe(0);
  });

  it('stop after demonitor: only the remaining monitor fires', async () => {
    const target = reap(spawn(stubborn));
    await target.ready;
    const first = current().monitor(target);
    const second = current().monitor(target);
    current().demonitor(target, first);
    target.kill();
    const down = await next(downFor(target));
    expect(down.monitor).toBe(second);
    // Both would be sent together, the first one first: none may be left.
    await expect(current().receive({ match: (m): m is Down => isDown(m) && m.monitor === first, timeout: 200 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });

  it('work between two actors in different processes', async () => {
    const target = reap(spawn(obedient));
    const w = reap(spawn(watcher, { args: [target, current().self] }));
    await next(field('watching'));
    target.send('exit:4');
    const { seen } = (await next(field('seen'))) as { seen: Down };
    expect(seen).toMatchObject({ type: 'down', actor: { id: target.id }, reason: { exitCode: 4 } });
    expect(await w.join({ timeout: 10_000 })).toBe(0);
  });
});

describe('links', () => {
  it('end a linked actor when the other ends abnormally, with LinkedExitError', async () => {
    const target = reap(spawn(obedient));
    const partner = reap(spawn(linked, { args: [target, current().self, false] }));
    await next((m): m is 'linked' => m === 'linked');
    target.send('throw');
    expect(await partner.join({ timeout: 15_000 })).toBe(1);
    expect(partner.error).toBeInstanceOf(Error);
    expect(partner.error!.name).toBe('LinkedExitError');
    expect(partner.error!.message).toContain(`ended because actor ${target.name}`);
  });

  it('deliver an exit message instead to an actor that traps exits', async () => {
    const target = reap(spawn(obedient));
    const partner = reap(spawn(linked, { args: [target, current().self, true] }));
    await next((m): m is 'linked' => m === 'linked');
    target.send('exit:5');
    const { trapped } = (await next(field('trapped'))) as { trapped: ExitSignal };
    expect(trapped).toMatchObject({ type: 'exit', actor: { id: target.id }, reason: { exitCode: 5 } });
    expect(await partner.join({ timeout: 10_000 })).toBe(0);
  });

  it('work both ways: the target ends when the linking actor dies', async () => {
    const target = reap(spawn(stubborn));
    const partner = reap(spawn(linked, { args: [target, current().self, false] }));
    await next((m): m is 'linked' => m === 'linked');
    current().monitor(target);
    partner.kill();
    // With the partner's reason, `killed`, as Erlang's linked process: by SIGKILL, its error still told.
    expect(await target.join({ timeout: 15_000 })).toBe(-9);
    expect(target.error).toBeInstanceOf(Error);
    expect((target.error as LinkedExitError).code).toBe('ERR_LINKED_EXIT');
  });

  it("end a linked actor with the other's reason when that is shutdown, as Erlang does: no failure", async () => {
    const target = reap(spawn(stubborn));
    const partner = reap(spawn(linked, { args: [target, current().self, false] }));
    await next((m): m is 'linked' => m === 'linked');
    const monitor = current().monitor(partner);
    target.terminate();
    const down = await next((m): m is Down => isDown(m) && m.monitor === monitor);
    // Before, it ended with code 1 and the reason { error: LinkedExitError }: a supervisor restarted it as a failure.
    expect(down.reason).toBe('shutdown');
    expect(await partner.join({ timeout: 15_000 })).toBe(-15);
    expect((partner.error as LinkedExitError).reason).toBe('shutdown');
  });

  it('leave the linked actor alone when the other returns normally', async () => {
    const target = reap(spawn(obedient));
    const partner = reap(spawn(linked, { args: [target, current().self, false] }));
    await next((m): m is 'linked' => m === 'linked');
    target.send('return');
    expect(await target.join({ timeout: 10_000 })).toBe(0);
    // The link's news went to the partner before this message, on the same pipe: an answer means it lived through it.
    partner.send('still there?');
    expect(await next(field('echo'))).toEqual({ echo: 'still there?' });
    expect(partner.isAlive()).toBe(true);
  });

  it('stop carrying exits once unlinked', async () => {
    const target = reap(spawn(obedient));
    const partner = reap(spawn(unlinker, { args: [target, current().self] }));
    await next((m): m is 'linked' => m === 'linked');
    partner.send('unlink');
    await next((m): m is 'unlinked' => m === 'unlinked');
    target.send('throw');
    expect(await target.join({ timeout: 10_000 })).toBe(1);
    // The unlink reached the root before the target's end did: the partner lives on.
    partner.send('still there?');
    expect(await next(field('echo'))).toEqual({ echo: 'still there?' });
  });
});

describe('monitors and links at the edges, as OTP keeps them', () => {
  const T = { timeout: 20_000 };
  /** Runs `test` with a scratch directory of its own, removed after. */
  const inScratch = async (test: (dir: string) => Promise<void>): Promise<void> => {
    const dir = mkdtempSync(join(tmpdir(), 'troupe-spin-'));
    try {
      await test(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  /** `ref`'s kept messages, once `enough` says they are all there (or after 20 s, for the assertion to show what came). */
  const gotOnce = async (ref: ActorRef<PuppetOrder, unknown>, enough: (got: unknown[]) => boolean): Promise<unknown[]> => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      // A bounded mailbox may refuse the question until the puppet has taken in what filled it.
      const got = (await ref.call({ op: 'got' }, T).catch((err: unknown) => (err instanceof MailboxFullError && Date.now() < deadline ? [] : Promise.reject(err)))) as unknown[];
      if (enough(got) || Date.now() > deadline) return got;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('ignore an exit signal already on its way once unlink() has returned (erlang:unlink/1)', () =>
    inScratch(async (dir) => {
      const a = reap(spawn(puppet));
      const b = reap(spawn(puppet));
      await a.call({ op: 'link', ref: b }, T);
      const unlinking = a.call({ op: 'spin', dir, then: { unlink: b } }, T);
      await until(() => existsSync(join(dir, 'spinning')), 20_000, 'the partner to spin');
      await b.call({ op: 'throw' }, T);
      expect(await b.join({ timeout: 10_000 })).toBe(1);
      // The exit signal is on its way to the spinning partner now, in its pipe, unread.
      await new Promise((resolve) => setImmediate(resolve));
      writeFileSync(join(dir, 'release'), '');
      expect(await unlinking).toBe('ok');
      expect(await a.call({ op: 'got' }, T)).toEqual([]);
      expect(a.isAlive()).toBe(true);
    }));

  it('carry the exits of a link made again by the other side after an unlink', async () => {
    const a = reap(spawn(puppet));
    const b = reap(spawn(puppet));
    await a.call({ op: 'trap', on: true }, T);
    await a.call({ op: 'link', ref: b }, T);
    await a.call({ op: 'unlink', ref: b }, T);
    await b.call({ op: 'link', ref: a }, T);
    await b.call({ op: 'throw' }, T);
    const got = await gotOnce(a, (list) => list.length >= 1);
    expect(got).toEqual([{ type: 'exit', actor: expect.objectContaining({ id: b.id }), reason: expect.objectContaining({ exitCode: 1 }) }]);
  });

  it('hand a down to a receive waiting for it, past the letters waiting for room in a blocking mailbox', async () => {
    const w = reap(spawn(puppet, { mailbox: { max: 1, overflow: 'block' } }));
    const x = reap(spawn(puppet));
    const monitor = await w.call({ op: 'monitor', ref: x }, T);
    await w.call({ op: 'awaitDown' }, T);
    void w.send({ filler: 1 } as never); // fills the mailbox (the receive does not want it)
    void w.send({ filler: 2 } as never); // waits for room
    await x.call({ op: 'return' }, T);
    const got = await gotOnce(w, (list) => list.some((m) => isDown(m) || m === 'TimeoutError'));
    expect(got).toContainEqual({ type: 'down', monitor, actor: expect.objectContaining({ id: x.id }), reason: 'normal' });
  });

  it('deliver no down of a monitor once demonitor() has returned, though it was on its way (erlang:demonitor/1)', () =>
    inScratch(async (dir) => {
      const w = reap(spawn(puppet));
      const x = reap(spawn(puppet));
      const monitor = (await w.call({ op: 'monitor', ref: x }, T)) as number;
      const demonitoring = w.call({ op: 'spin', dir, then: { demonitor: x, monitor } }, T);
      await until(() => existsSync(join(dir, 'spinning')), 20_000, 'the watcher to spin');
      await x.call({ op: 'return' }, T);
      expect(await x.join({ timeout: 10_000 })).toBe(0);
      await new Promise((resolve) => setImmediate(resolve)); // the down is in the spinning watcher's pipe now
      writeFileSync(join(dir, 'release'), '');
      expect(await demonitoring).toBe('ok');
      expect(await w.call({ op: 'got' }, T)).toEqual([]);
    }));

  it('still deliver exit messages after a demonitor() of a monitor number never given (0)', () =>
    inScratch(async (dir) => {
      const w = reap(spawn(puppet));
      const y = reap(spawn(puppet));
      await w.call({ op: 'trap', on: true }, T);
      await w.call({ op: 'link', ref: y }, T);
      writeFileSync(join(dir, 'release'), ''); // the spin below ends at once
      await w.call({ op: 'spin', dir, then: { demonitor: y, monitor: 0 } }, T);
      await y.call({ op: 'throw' }, T);
      // Exit messages carry no monitor number (0): a review found a demonitor(…, 0) hid them.
      const got = await gotOnce(w, (list) => list.length >= 1);
      expect(got).toEqual([{ type: 'exit', actor: expect.objectContaining({ id: y.id }), reason: expect.objectContaining({ exitCode: 1 }) }]);
    }));

  it("fail a call to a grandchild whose parent is terminated as the grandchild's watchers are told (killed), not with its parent's code", () =>
    inScratch(async (dir) => {
      const p = reap(spawn(puppet));
      const g = (await p.call({ op: 'spawn' }, T)) as ActorRef<PuppetOrder, unknown>;
      current().monitor(g);
      const pending = g.call({ op: 'spin', dir }).catch((err: unknown) => err);
      await until(() => existsSync(join(dir, 'spinning')), 20_000, 'the grandchild to spin');
      p.terminate();
      expect((await next(downFor(g))).reason).toBe('killed');
      const err = (await pending) as Error;
      expect(err.name).toBe('ActorExitedError');
      // Before: "(exit code -15: shutdown)", its parent's end, while its watchers heard killed.
      expect(err.message).toContain('(killed)');
      expect(err.message).not.toContain('-15');
    }));

  it('tell a watch of a grandchild whose parent dies before it took the watch in: killed', () =>
    inScratch(async (dir) => {
      const w = reap(spawn(puppet));
      const p = reap(spawn(puppet));
      const g = (await p.call({ op: 'spawn' }, T)) as ActorRef;
      void p.call({ op: 'spin', dir }).catch(() => {});
      await until(() => existsSync(join(dir, 'spinning')), 20_000, 'the parent to spin');
      await w.call({ op: 'trap', on: true }, T);
      const monitor = await w.call({ op: 'monitor', ref: g }, T);
      await w.call({ op: 'link', ref: g }, T);
      // Both watches went through the root into the spinning parent's pipe, unread.
      p.kill();
      const got = await gotOnce(w, (list) => list.length >= 2);
      expect(got).toEqual(
        expect.arrayContaining([
          { type: 'down', monitor, actor: expect.objectContaining({ id: g.id }), reason: 'killed' },
          { type: 'exit', actor: expect.objectContaining({ id: g.id }), reason: 'killed' },
        ]),
      );
    }));

  it.each([false, true])('tell a child linked to its parent that the parent ended, though the parent waits for it (trapping: %s)', async (trap) => {
    const p = reap(spawn(puppet));
    const c = (await p.call({ op: 'spawn' }, T)) as ActorRef<PuppetOrder, unknown>;
    await c.call({ op: 'trap', on: trap }, T);
    await p.call({ op: 'link', ref: c }, T);
    current().monitor(p);
    await p.call({ op: 'throw' }, T);
    // Told at once, while its process still waits for its child, as Python's does.
    expect((await next(downFor(p))).reason).toMatchObject({ exitCode: 1, error: { name: 'TypeError' } });
    if (trap) {
      const got = await gotOnce(c, (list) => list.length >= 1);
      expect(got).toEqual([{ type: 'exit', actor: expect.objectContaining({ id: p.id }), reason: expect.objectContaining({ exitCode: 1 }) }]);
      expect(p.isAlive()).toBe(true);
      await c.call({ op: 'return' }, T);
    }
    expect(await p.join({ timeout: 10_000 })).toBe(1);
  });

  it('never refuse a down or exit message for room in a bounded mailbox', () =>
    inScratch(async (dir) => {
      const w = reap(spawn(puppet, { mailbox: { max: 1, overflow: 'drop-new' } }));
      const x = reap(spawn(puppet));
      const y = reap(spawn(puppet));
      await w.call({ op: 'trap', on: true }, T);
      const monitor = await w.call({ op: 'monitor', ref: x }, T);
      await w.call({ op: 'link', ref: y }, T);
      const spinning = w.call({ op: 'spin', dir }, T);
      await until(() => existsSync(join(dir, 'spinning')), 20_000, 'the watcher to spin');
      await w.send({ filler: 1 } as never);
      await w.send({ filler: 2 } as never);
      await x.call({ op: 'return' }, T);
      await y.call({ op: 'throw' }, T);
      expect([await x.join({ timeout: 10_000 }), await y.join({ timeout: 10_000 })]).toEqual([0, 1]);
      writeFileSync(join(dir, 'release'), '');
      await spinning;
      // The first filler may go straight to the waiting inbox; the second then fills the mailbox.
      const got = await gotOnce(w, (list) => list.filter((m) => isDown(m) || isExitSignal(m)).length >= 2);
      expect(got).toEqual(
        expect.arrayContaining([
          { filler: 1 },
          { type: 'down', monitor, actor: expect.objectContaining({ id: x.id }), reason: 'normal' },
          { type: 'exit', actor: expect.objectContaining({ id: y.id }), reason: expect.objectContaining({ exitCode: 1 }) },
        ]),
      );
    }));
});
