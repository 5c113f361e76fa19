/**
 * Types flow from actor definitions to spawn sites. These checks run in the
 * typecheck (`npm test` runs tsc first): each @ts-expect-error fails the build
 * if the mistake it marks ever compiles.
 */
import { describe, expectTypeOf, it } from 'vitest';
import { Actor, Pipe, SharedArray, Value, actor, spawn, type ActorRef, type ChildRef, type Context } from '../index.ts';

const adder = actor(async (ctx: Context<{ add: number }, number>, start: number, label: string) => {
  void ctx;
  void start;
  void label;
});

class Greeter extends Actor<string, string> {
  override async run(times: number): Promise<unknown> {
    void times;
    return super.run();
  }
  override handle(name: string): string {
    return `hello ${name}`;
  }
}
const greeter = actor(Greeter);

// A synchronous run(), as Python's: its args typed from it too.
class Doubler extends Actor {
  override run(n: number): number {
    return n * 2;
  }
}
const doubler = actor(Doubler);

// An override typed to return the default loop's promise, as before run() could be synchronous.
class Relay extends Actor {
  override run(label: string): Promise<unknown> {
    void label;
    return super.run().then(() => undefined);
  }
}
const relay = actor(Relay);
const noArgs = actor(async () => {});

// Never called: these lines exist for the typechecker only.
function compileOnly(): void {
  const a = spawn(adder, { args: [1, 'x'] });
  expectTypeOf(a).toEqualTypeOf<ChildRef<{ add: number }, number>>();
  expectTypeOf(a.call({ add: 2 })).toEqualTypeOf<Promise<number>>();
  // @ts-expect-error: wrong argument type
  spawn(adder, { args: ['1', 'x'] });
  // @ts-expect-error: missing argument
  spawn(adder, { args: [1] });
  // @ts-expect-error: args are required when the behaviour takes some
  spawn(adder);
  // @ts-expect-error: wrong message type
  a.send({ sub: 1 });

  const g = spawn(greeter, { args: [3] });
  expectTypeOf(g.call('bob')).toEqualTypeOf<Promise<string>>();
  // @ts-expect-error: class args come from run()
  spawn(greeter, { args: ['three'] });
  // @ts-expect-error: wrong message type for a class actor
  g.send(42);

  // A one-way pipe's reader has no send, its writer no recv.
  const [reader, writer] = Pipe<string>({ duplex: false });
  expectTypeOf(reader.recv()).toEqualTypeOf<Promise<string>>();
  void writer.send('x');
  // @ts-expect-error: the read end of a one-way pipe cannot send
  void reader.send('x');
  // @ts-expect-error: nor its write end send something else
  void writer.send(1);
  // @ts-expect-error: nor its write end receive
  void writer.recv();
  // @ts-expect-error: or poll, or receive bytes
  void writer.poll();
  // @ts-expect-error: as above
  void writer.recvBytes();
  // @ts-expect-error: nor its read end send bytes
  void reader.sendBytes(Buffer.alloc(1));
  void writer.sendBytes(Buffer.alloc(1));
  void reader.poll();
  void reader.recvBytes();
  // A duplex end does all of it.
  const [a2] = Pipe<string, number>();
  expectTypeOf(a2.recv()).toEqualTypeOf<Promise<number>>();
  void a2.poll();
  void a2.sendBytes(Buffer.alloc(1));

  spawn(doubler, { args: [2] });
  spawn(relay, { args: ['x'] });
  // @ts-expect-error: a synchronous run()'s args are checked as an async one's
  spawn(doubler, { args: ['two'] });

  spawn(noArgs);
  const ref: ActorRef<{ add: number }, number> = a;
  expectTypeOf(ref.send).parameter(0).toEqualTypeOf<{ add: number }>();

  // Python's typecodes name the kinds: 'q' holds bigints, 'd' numbers, and the kind reads by name.
  const big = new Value('q', 1n);
  expectTypeOf(big.get()).resolves.toEqualTypeOf<bigint>();
  expectTypeOf(big.kind).toEqualTypeOf<'bigint64'>();
  expectTypeOf(new SharedArray('d', [0.5]).get(0)).resolves.toEqualTypeOf<number>();
  // @ts-expect-error: an int32 by typecode takes no bigint
  new Value('i', 1n);
}

describe('types', () => {
  it('are checked by the typechecker, not at run time', () => {
    expectTypeOf(compileOnly).toBeFunction();
  });
});
