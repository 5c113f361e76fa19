/**
 * Python's Process lifecycle tutorial, as actors: start, join with a
 * timeout, terminate, kill, exit codes, and daemon children.
 *
 * Run: npx tsx examples/lifecycle.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { actor, current, isMain, spawn, type Context } from '../index.ts';

/** Sleeps for `ms`, then returns (exit code 0). */
export const sleeper = actor(async (_ctx: Context, ms: number) => {
  await sleep(ms);
});

/** Exits with the code it is given, as sys.exit(n) does. */
export const exiter = actor(async (_ctx: Context, code: number) => {
  process.exit(code);
});

/** Starts a daemon child that would sleep for a minute, and returns at once. */
export const parent = actor(async (ctx: Context) => {
  const child = spawn(sleeper, { args: [60_000], daemon: true, name: 'daemon-child' });
  await child.ready;
  ctx.parent!.send(child.pid);
});

if (isMain(import.meta)) {
  const p = spawn(sleeper, { args: [60_000], name: 'long-sleeper' });
  console.log(`before start: alive=${p.isAlive()} exitCode=${p.exitCode}`);
  await p.ready;
  console.log(`started: pid is a number: ${typeof p.pid === 'number'}`);
  console.log(`join(timeout 100 ms) -> ${await p.join({ timeout: 100 })}, alive=${p.isAlive()}`);
  p.terminate();
  console.log(`after terminate: join -> ${await p.join()}`);

  const k = spawn(sleeper, { args: [60_000], name: 'killed-sleeper' });
  await k.ready;
  k.kill();
  console.log(`after kill: join -> ${await k.join()}`);

  for (const code of [0, 3]) {
    const e = spawn(exiter, { args: [code] });
    console.log(`process.exit(${code}) -> exit code ${await e.join()}`);
  }

  const quick = spawn(sleeper, { args: [10] });
  console.log(`returned normally -> exit code ${await quick.join()}`);

  const withDaemon = spawn(parent, { name: 'parent' });
  const daemonPid = await current().receive<number>({ timeout: 30_000 });
  console.log(`parent with a daemon child -> exit code ${await withDaemon.join()}`);
  console.log(`daemon child still running after its parent ended: ${isRunning(daemonPid)}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
