/**
 * Parties advancing in lockstep through a Barrier: no party starts step n+1
 * before all have finished step n. Midway, one party stalls in its work and
 * is killed (SIGKILL); the others, waiting for it at the barrier, are told it
 * broke (`BrokenBarrierError`) instead of waiting forever, as Python's would.
 *
 * Run: npx tsx examples/barrier.ts
 */
import { Barrier, BrokenBarrierError, actor, current, isMain, spawn, type ActorRef, type Context } from '../index.ts';

type Report = { party: number; step: number; index: number } | { party: number; step: number; broken: string };

/** Works on step after step, waiting at the barrier after each, reporting to `main`; stalls in step `stallAt` (0: never). */
export const stepper = actor(async (_ctx: Context, barrier: Barrier, main: ActorRef<Report>, party: number, steps: number, stallAt: number) => {
  for (let step = 1; step <= steps; step++) {
    // The step's work: uneven on purpose, and endless for a party that stalls (until it is killed).
    await new Promise((resolve) => setTimeout(resolve, step === stallAt ? 600_000 : 10 * (party + 1)));
    try {
      const index = await barrier.wait({ timeout: 30_000 });
      main.send({ party, step, index });
    } catch (err) {
      if (!(err instanceof BrokenBarrierError)) throw err;
      main.send({ party, step, broken: err.message });
      return;
    }
  }
});

if (isMain(import.meta)) {
  const parties = 3;
  const steps = 5;
  const killAfter = 2;
  const barrier = new Barrier(parties);
  const me = current() as Context<Report>;
  // The last party stalls in the step after killAfter: it never reaches the barrier for it.
  const stallAt = (party: number): number => (party === parties - 1 ? killAfter + 1 : 0);
  const refs = Array.from({ length: parties }, (_, party) => spawn(stepper, { args: [barrier, me.self as ActorRef<Report>, party, steps, stallAt(party)], name: `party-${party}` }));
  const victim = refs[parties - 1]!;
  let reports = 0;
  let broken = 0;
  while (broken < parties - 1) {
    const report = await me.receive({ timeout: 30_000 });
    if ('broken' in report) {
      broken++;
      console.log(`party ${report.party}, step ${report.step}: BrokenBarrierError`);
      continue;
    }
    console.log(`party ${report.party} passed step ${report.step} (arrival index ${report.index})`);
    if (++reports === parties * killAfter) {
      console.log(`all ${parties} parties passed step ${killAfter}: party ${parties - 1} stalls in step ${killAfter + 1}; killing it (pid ${victim.pid})`);
      victim.kill();
    }
  }
  const codes = await Promise.all(refs.map((ref) => ref.join({ timeout: 30_000 })));
  console.log(`exit codes: ${codes.join(', ')}`);
  console.log(`summary: ${parties} parties in lockstep for ${killAfter} steps; after the kill, ${broken} got BrokenBarrierError; barrier broken: ${await barrier.broken()}`);
  await barrier.close();
}
