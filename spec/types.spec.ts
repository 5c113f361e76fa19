/**
 * Types flow from actor definitions to spawn sites. These checks run in the
 * typecheck (`npm test` runs tsc first): each @ts-expect-error fails the build
 * if the mistake it marks ever compiles.
 */
import { describe, expectTypeOf, it } from 'vitest';
import { Actor, Pipe, Pool, SharedArray, Supervisor, supervisor, type ChildSpec, Value, actor, run, spawn, spawnCommand, type ActorRef, type Command, type CommandOptions, type Connection, type ElementOf, type ChildRef, type Context } from '../index.ts';
import { add, setPrefix, square, withPrefix } from './fixtures/tasks.ts';

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
  // Its writer's recv() gives nothing a program could use.
  expectTypeOf(writer.recv()).toEqualTypeOf<Promise<never>>();
  // Code generic over a connection's message types compiles against every end.
  async function drain<T>(c: Connection<unknown, T>): Promise<T> {
    await c.poll();
    return c.recv();
  }
  async function echoBack<A>(c: Connection<A, A>): Promise<void> {
    await c.send(await c.recv());
    await c.sendBytes(Buffer.alloc(1));
  }
  void [drain, echoBack];

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
  // A Value of any kind holds a number or a bigint: reading one, neither alone is promised.
  const anyKind = async (v: Value): Promise<void> => {
    expectTypeOf(await v.get()).toEqualTypeOf<number | bigint>();
    await v.set(1n);
    await v.set(1);
  };
  void anyKind;
  const either: ElementOf<'int32' | 'bigint64'> = 1n;
  void either;
  // A class of one's own over it, as over any class.
  class Counter extends Value {}
  class Int32Counter extends Value<'int32'> {}
  void [Counter, Int32Counter];
}

/** A command's output is text, or Buffers with a literal `encoding: 'buffer'`; an encoding not known till run time is either. */
async function commandOutputs(): Promise<void> {
  const text: string = (await spawnCommand('ls').output()).stdout;
  const latin: string = (await run('ls', [], { encoding: 'latin1' })).stdout;
  const bytes: Buffer = (await run('ls', [], { encoding: 'buffer' })).stdout;
  const raw: Command<Buffer> = spawnCommand('cat', [], { encoding: 'buffer' });
  const plain: Command = spawnCommand('ls');
  const options: CommandOptions = { encoding: 'buffer' };
  // @ts-expect-error: it may be a Buffer
  const unknown: string = (await spawnCommand('ls', [], options).output()).stdout;
  // @ts-expect-error: it may be a Buffer
  const unknownRun: string = (await run('ls', [], options)).stdout;
  void [text, latin, bytes, raw, plain, unknown, unknownRun];
}

/** A pool's results are typed from its tasks, and its tasks' and initializer's arguments are checked. */
async function poolTypes(pool: Pool): Promise<void> {
  expectTypeOf(await pool.map(square, [1, 2])).toEqualTypeOf<number[]>();
  expectTypeOf(await pool.apply(add, [1, 2])).toEqualTypeOf<number>();
  expectTypeOf(await pool.starmap(add, [[1, 2]])).toEqualTypeOf<number[]>();
  for await (const x of pool.imap(withPrefix, [1])) expectTypeOf(x).toEqualTypeOf<string>();
  // @ts-expect-error: square takes a number
  await pool.map(square, ['a']);
  // @ts-expect-error: add takes two numbers
  await pool.apply(add, [1]);
  const ready = new Pool({ initializer: setPrefix, initArgs: ['ready'] });
  // @ts-expect-error: setPrefix takes a string
  const wrong = new Pool({ initializer: setPrefix, initArgs: [1] });
  // A pool of any initializer is a Pool.
  const pools: Pool[] = [ready, wrong, new Pool({ maxTasksPerChild: null })];
  void pools;
}

/** A supervisor's child specs are checked against their actors, as spawn's args are. */
async function supervisorTypes(): Promise<void> {
  Supervisor.start({ children: [{ id: 'a', actor: adder, args: [1, 'one'] }, { id: 'g', actor: greeter, args: [2] }] });
  // @ts-expect-error: adder takes a number and a string
  Supervisor.start({ children: [{ id: 'a', actor: adder, args: [1, 2] }] });
  // @ts-expect-error: adder needs its args
  Supervisor.start({ children: [{ id: 'a', actor: adder }] });
  // Specs built in an array are checked too.
  const specs = ['a', 'b'].map((id) => ({ id, actor: adder, args: [1, id] as [number, string] }));
  Supervisor.start({ strategy: 'one-for-all', children: specs });
  const sup = Supervisor.start();
  await sup.startChild({ id: 'c', actor: adder, args: [3, 'three'] });
  // @ts-expect-error: adder takes a number first
  await sup.startChild({ id: 'c', actor: adder, args: ['three', 3] });
  // A spec annotated with the exported type is checked, and taken.
  const annotated: ChildSpec<typeof adder> = { id: 'd', actor: adder, args: [4, 'four'] };
  // @ts-expect-error: adder takes a number and a string
  const wrong: ChildSpec<typeof adder> = { id: 'e', actor: adder, args: ['x', 'y', 'z'] };
  await sup.startChild(annotated);
  Supervisor.start({ children: [annotated] });
  // An empty supervisor as a child, to fill later with startChild: its spec is optional.
  Supervisor.start({ children: [{ id: 'empty', actor: supervisor, shutdown: 'infinity' }] });
  void wrong;
}

describe('types', () => {
  it('are checked by the typechecker, not at run time', () => {
    expectTypeOf(compileOnly).toBeFunction();
    expectTypeOf(commandOutputs).toBeFunction();
    expectTypeOf(poolTypes).toBeFunction();
    expectTypeOf(supervisorTypes).toBeFunction();
  });
});
