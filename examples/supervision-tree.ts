/**
 * A supervision tree, as OTP builds them:
 *   1. a crashy worker, restarted by its supervisor (one-for-one, with backoff);
 *   2. a rest-for-one group (db → cache → api): when db dies, cache and api,
 *      which depend on it, are restarted after it;
 *   3. an escalation: a team whose worker crashes at every start exceeds its
 *      restart intensity, and its supervisor gives up and ends.
 *
 * Run: npx tsx examples/supervision-tree.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Supervisor, actor, current, describeReason, isDown, isMain, node, supervisor, type ActorRef, type Context, type Down, type RestartEvent } from '../index.ts';

type Report = { up: string; pid: number } | { result: string };

/** Does jobs; the job 'boom' crashes it. */
export const crashy = actor(async (ctx: Context<string>, report: ActorRef<Report>) => {
  report.send({ up: ctx.name, pid: ctx.pid });
  for await (const job of ctx.inbox) {
    if (job === 'boom') throw new Error('crashy choked on a job');
    report.send({ result: `${ctx.name} did ${job}` });
  }
});

/** A service that says when it is up, then waits. */
export const service = actor(async (ctx: Context, report: ActorRef<Report>) => {
  report.send({ up: ctx.name, pid: ctx.pid });
  await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
});

/** Falls over shortly after every start. */
export const fragile = actor(async (ctx: Context, report: ActorRef<Report>) => {
  report.send({ up: ctx.name, pid: ctx.pid });
  await sleep(50);
  throw new Error('fragile fell over');
});

if (isMain(import.meta)) {
  const me = current() as ReturnType<typeof current>;
  // Where the children report: this program's own inbox, which takes Reports.
  const reports = me.self as ActorRef<Report>;
  const pids = new Map<string, number>();
  /** Waits for `name` to say it is up; remembers its pid. */
  const up = async (name: string): Promise<void> => {
    const m = (await me.receive({ match: (x): x is { up: string; pid: number } => (x as { up?: string } | null)?.up === name, timeout: 30_000 })) as { pid: number };
    pids.set(name, m.pid);
  };
  /** Resolves with the next restart of `child` anywhere in the tree (restart events reach the root). */
  const restartOf = (child: string): Promise<RestartEvent> =>
    new Promise((resolve) => {
      const listener = (e: RestartEvent): void => {
        if (e.child !== child) return;
        node().off('restart', listener);
        resolve(e);
      };
      node().on('restart', listener);
    });
  const show = (e: RestartEvent): void => console.log(`  restarted ${e.child} (attempt ${e.attempt}) after: ${describeReason(e.reason)}`);

  const services = { strategy: 'rest-for-one' as const, children: ['db', 'cache', 'api'].map((id) => ({ id, actor: service, args: [reports] })) };
  const team = { maxRestarts: 2, periodMs: 10_000, children: [{ id: 'fragile', actor: fragile, args: [reports] }] };
  const tree = Supervisor.start(
    {
      strategy: 'one-for-one',
      maxRestarts: 5,
      periodMs: 10_000,
      backoff: { minMs: 100, maxMs: 1000, jitter: 0 },
      children: [
        { id: 'crashy', actor: crashy, args: [reports] },
        { id: 'services', actor: supervisor, args: [services], shutdown: 'infinity' },
      ],
    },
    { name: 'top' },
  );
  await tree.ready;
  for (const name of ['crashy', 'db', 'cache', 'api']) await up(name);
  console.log('the tree is up: crashy; services (db, cache, api)');

  console.log('1. crashy gets a job it cannot do, and is restarted after a backoff');
  const crashyRestart = restartOf('crashy');
  (await tree.whichChildren())[0]!.ref!.send('boom');
  show(await crashyRestart);
  await up('crashy');
  (await tree.whichChildren())[0]!.ref!.send('the next job');
  const done = (await me.receive({ match: (x): x is { result: string } => (x as { result?: string } | null)?.result !== undefined, timeout: 30_000 })) as { result: string };
  console.log(`  ${done.result}`);

  console.log('2. db dies: rest-for-one restarts db, then cache and api, which depend on it');
  const before = ['db', 'cache', 'api'].map((n) => pids.get(n));
  const dbRestart = restartOf('db');
  process.kill(pids.get('db')!, 'SIGKILL');
  show(await dbRestart);
  for (const name of ['db', 'cache', 'api']) await up(name);
  const after = ['db', 'cache', 'api'].map((n) => pids.get(n));
  console.log(`  db, cache and api run again, all in new processes: ${after.every((pid, i) => pid !== before[i])}`);

  console.log('3. a team joins, whose worker falls over at every start, more often than the team allows');
  // Temporary: when this team gives up, top lets it go.
  const teamRef = await tree.startChild({ id: 'team', actor: supervisor, args: [team], shutdown: 'infinity', restart: 'temporary' });
  const monitor = me.monitor(teamRef);
  const down = (await me.receive({ match: (x): x is Down => isDown(x) && x.monitor === monitor, timeout: 30_000 })) as Down;
  // As OTP's: a supervisor past its restart intensity ends with reason shutdown (its
  // RestartIntensityError is on its ref's error, in top's process, and in its own report on stderr).
  console.log(`  team gave up, reason: ${String(down.reason)}`);
  console.log(`  top lets it go (temporary) and now has: ${(await tree.whichChildren()).map((c) => c.id).join(', ')}`);

  console.log(`stopping the tree, children first: exit code ${await tree.stop()}`);
}
