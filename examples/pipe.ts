/**
 * Python's Pipe example: a duplex pipe between two actors. One sends words,
 * the other answers each in upper case; when the sender closes its end, the
 * other reads EOF and ends too.
 *
 * Run: npx tsx examples/pipe.ts
 */
import { EOFError, Pipe, actor, isMain, spawn, type Connection, type Context } from '../index.ts';

/** Answers every message with its upper case, until the other end closes. */
export const shouter = actor(async (_ctx: Context, end: Connection<string, string>) => {
  for (;;) {
    let word: string;
    try {
      word = await end.recv();
    } catch (err) {
      if (err instanceof EOFError) return; // the other end closed: nothing more will come
      throw err;
    }
    await end.send(word.toUpperCase());
  }
});

/** Sends `words` one at a time, printing each answer, then closes its end. */
export const talker = actor(async (_ctx: Context, end: Connection<string, string>, words: string[]) => {
  for (const word of words) {
    await end.send(word);
    console.log(`${word} -> ${await end.recv({ timeout: 10_000 })}`);
  }
  await end.close();
});

if (isMain(import.meta)) {
  const [left, right] = Pipe<string, string>();
  const b = spawn(shouter, { args: [right], name: 'shouter' });
  const a = spawn(talker, { args: [left, ['hello', 'world', 'from', 'a', 'pipe']], name: 'talker' });
  const codes = [await a.join({ timeout: 30_000 }), await b.join({ timeout: 30_000 })];
  console.log(`exit codes: talker ${codes[0]}, shouter ${codes[1]}`);
}
