/**
 * Python's first multiprocessing example, as actors:
 *
 *   def f(name): print('hello', name)
 *   p = Process(target=f, args=('bob',)); p.start(); p.join()
 *
 * Run: npx tsx examples/hello.ts
 */
import { actor, current, isMain, spawn, type Context } from '../index.ts';

/** Greets, and answers one question from its parent before it ends. */
export const greeter = actor(async (ctx: Context<string, string>, name: string) => {
  console.log(`hello ${name}, from ${ctx.name} (pid ${ctx.pid}, parent pid ${ctx.ppid})`);
  const question = await ctx.receive({ timeout: 5000 });
  ctx.reply(`${name} says: ${question.toUpperCase()}`);
});

/** Fails on purpose, to show an uncaught error's exit code and report. */
export const grump = actor(async (_ctx: Context, name: string) => {
  throw new Error(`${name} refuses to greet`);
});

if (isMain(import.meta)) {
  const bob = spawn(greeter, { args: ['bob'], name: 'greeter-bob' });
  const alice = spawn(greeter, { args: ['alice'], name: 'greeter-alice' });
  console.log(await bob.call('how are you?'));
  console.log(await alice.call('and you?'));
  const grumpy = spawn(grump, { args: ['grumpy'], name: 'grumpy' });
  for (const ref of [bob, alice, grumpy]) {
    const code = await ref.join({ timeout: 10_000 });
    console.log(`${ref.name} exited with code ${code}${ref.error ? ` (${ref.error.message})` : ''}`);
  }
  console.log(`main is ${current().name}, pid ${process.pid}`);
}
