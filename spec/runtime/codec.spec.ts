import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ATTACHMENT_MIN_BYTES, FLAG_HANDLES, FLAG_RECORDS, decode, encode, errorFromWire, errorToWire, handOver } from '../../runtime/codec.ts';
import { AbortError, ActorRef, CommandTimeoutError, InvalidArgumentError, Lock, OutputLimitError, PoolClosedError, SerializationError, TimeoutError, TroupeError, WorkerCrashedError, registerErrorClass } from '../../index.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameReader, FrameWriter, type Frame } from '../../runtime/framing.ts';

function framePair(): { writer: FrameWriter; written: Buffer[] } {
  const written: Buffer[] = [];
  return { writer: new FrameWriter({ write: (chunks) => void written.push(...chunks) }), written };
}

const roundTrip = (value: unknown): unknown => {
  const { payload, attachments, flags } = encode(value, 'message');
  return decode(payload, attachments, flags);
};

describe('codec', () => {
  it('keeps nothing of a value once it is encoded and its turn has ended (a sent task argument can be collected)', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    const refs: WeakRef<object>[] = [];
    for (const make of [() => ({ items: [1, 2, 3] }), () => ({ held: new Map([[1, { deep: true }]]) })]) {
      let value: object | null = make();
      refs.push(new WeakRef(value));
      encode({ job: value }, 'message');
      value = null;
    }
    await turn();
    await turn();
    gc();
    expect(refs.map((ref) => ref.deref())).toEqual([undefined, undefined]);
  });

  it('carries a thrown value that is not an Error as the rebuilt error\'s value, where it can cross', () => {
    const thrown = errorFromWire(roundTrip(errorToWire({ code: 42, msg: 'obj' })) as Parameters<typeof errorFromWire>[0]) as Error & { value?: unknown };
    expect(thrown.message).toBe('non-error value thrown: [object Object]');
    expect(thrown.value).toEqual({ code: 42, msg: 'obj' });
    // One that cannot cross (a function) is named in the message only, and the error still encodes.
    const fn = errorFromWire(roundTrip(errorToWire(function secret() {})) as Parameters<typeof errorFromWire>[0]) as Error & { value?: unknown };
    expect(fn.message).toContain('non-error value thrown: function secret');
    expect(fn.value).toBeUndefined();
  });

  it('round-trips structured-clone values', () => {
    const value = {
      s: 'text',
      n: -1.5,
      i: 42,
      big: 2n ** 80n,
      nothing: null,
      undef: undefined,
      date: new Date(1_700_000_000_000),
      re: /a+b/gi,
      set: new Set(['a', 1]),
      map: new Map<unknown, unknown>([
        ['k', { deep: [1, 2] }],
        [3, 'three'],
      ]),
      f64: new Float64Array([1.5, -2]),
      u8: new Uint8Array([1, 2, 3]),
      buf: Buffer.from('hi'),
      arr: [1, 'two', [3]],
    };
    const back = roundTrip(value) as typeof value;
    expect(back).toEqual(value);
    expect(back.map).toBeInstanceOf(Map);
    expect(Buffer.isBuffer(back.buf)).toBe(true);
    expect(Buffer.isBuffer(back.u8)).toBe(false);
    expect(back.u8).toBeInstanceOf(Uint8Array);
  });

  it('marks a payload that holds a handle (a message dropped unread is decoded for its handles only then)', async () => {
    const lock = new Lock();
    expect(encode({ a: [1, 'x'] }, 'message').flags & FLAG_HANDLES).toBe(0);
    expect(encode({ a: [1, { lock }] }, 'message').flags & FLAG_HANDLES).toBe(FLAG_HANDLES);
    expect(encode(new Map([['lock', lock]]), 'message').flags).toBe(FLAG_RECORDS | FLAG_HANDLES);
    // The next value without one is not marked.
    expect(encode([1, 2, 3], 'message').flags).toBe(0);
    await lock.close();
  });

  it('encodes plain data without records, and a value holding a Map with them', () => {
    expect(encode({ a: [1, { b: 'x' }] }, 'message').flags).toBe(0);
    expect(encode({ a: [1, { b: new Map() }] }, 'message').flags).toBe(FLAG_RECORDS);
    expect(encode(new Set([new Map()]), 'message').flags).toBe(FLAG_RECORDS);
    const deep: Record<string, unknown> = {};
    let at = deep;
    for (let i = 0; i < 40; i++) at = (at.next = {}) as Record<string, unknown>;
    expect(encode(deep, 'message').flags).toBe(FLAG_RECORDS);
    expect(roundTrip(deep)).toEqual(deep);
    expect(roundTrip({ a: [{ m: new Map([[1, new Map([['x', {}]])]]) }] })).toEqual({ a: [{ m: new Map([[1, new Map([['x', {}]])]]) }] });
  });

  it('keeps cycles and shared references', () => {
    const shared = { n: 1 };
    const value: Record<string, unknown> = { a: shared, b: shared };
    value.self = value;
    const back = roundTrip(value) as typeof value;
    expect(back.self).toBe(back);
    expect(back.a).toBe(back.b);
  });

  it('carries errors whole: class, message, stack, code and cause', () => {
    const cause = new RangeError('inner');
    const err = Object.assign(new TypeError('outer', { cause }), { code: 'E_THING' });
    const back = roundTrip(err) as TypeError & { code: string };
    expect(back).toBeInstanceOf(TypeError);
    expect(back.message).toBe('outer');
    expect(back.stack).toBe(err.stack);
    expect(back.code).toBe('E_THING');
    expect(back.cause).toBeInstanceOf(RangeError);
    expect((back.cause as Error).message).toBe('inner');
    const custom = errorFromWire(errorToWire(Object.assign(new Error('x'), { name: 'QuotaError' })));
    expect(custom.name).toBe('QuotaError');
  });

  it('travels refs as handles', () => {
    const ref = new ActorRef('abc.1/0', 'worker-1');
    const back = roundTrip({ to: ref }) as { to: ActorRef };
    expect(back.to).toBeInstanceOf(ActorRef);
    expect(back.to).toMatchObject({ id: 'abc.1/0', name: 'worker-1' });
  });

  it('sends large buffers beside the body, without copying them in', () => {
    const big = Buffer.alloc(ATTACHMENT_MIN_BYTES, 1);
    const { payload, attachments } = encode({ big, small: Buffer.from([1]) }, 'message');
    expect(attachments).toHaveLength(1);
    expect(attachments[0]!.buffer).toBe(big.buffer);
    expect(payload.byteLength).toBeLessThan(100);
    const back = decode(payload, attachments, 0) as { big: Buffer };
    expect(back.big.equals(big)).toBe(true);
  });

  it('sends large typed arrays of every kind beside the body, and gives each back as a copy with a buffer of its own', () => {
    const n = ATTACHMENT_MIN_BYTES; // elements: at least that many bytes for every kind
    const values = [
      new Int8Array(n).fill(-3),
      new Uint8ClampedArray(n).fill(250),
      new Int16Array(n).fill(-300),
      new Uint16Array(n).fill(60_000),
      new Int32Array(n).fill(-70_000),
      new Uint32Array(n).fill(4_000_000_000),
      Float32Array.from({ length: n }, (_, i) => i / 3),
      Float64Array.from({ length: n }, (_, i) => (i % 3 === 0 ? -0 : i % 3 === 1 ? NaN : i * 1.5)),
      new BigInt64Array(n).fill(-(2n ** 60n)),
      new BigUint64Array(n).fill(2n ** 63n),
    ];
    // A view into a larger buffer, at an odd offset: only its own bytes go.
    const wide = new Uint8Array(ATTACHMENT_MIN_BYTES * 4 + 3);
    const view = new Float64Array(wide.buffer, 8, ATTACHMENT_MIN_BYTES / 8);
    view.fill(7.25);
    const small = new Float64Array([1.5, -0, NaN]);
    const { payload, attachments, flags } = encode({ values, view, small }, 'message');
    expect(attachments).toHaveLength(values.length + 1);
    expect(payload.byteLength).toBeLessThan(1000);
    const back = decode(payload, attachments, flags) as { values: typeof values; view: Float64Array; small: Float64Array };
    for (const [i, original] of values.entries()) {
      const got = back.values[i]!;
      expect(got.constructor).toBe(original.constructor);
      expect(got.byteOffset).toBe(0);
      expect(got.buffer.byteLength).toBe(original.byteLength);
      expect(Object.is(got[0], original[0]) && Object.is(got[1], original[1]) && Object.is(got[n - 1], original[n - 1])).toBe(true);
    }
    expect(back.view).toEqual(view);
    expect(back.view.buffer.byteLength).toBe(view.byteLength);
    expect(Object.is(back.small[1], -0)).toBe(true);
    expect(Number.isNaN(back.small[2])).toBe(true);
  });

  it('sends a large typed array handed over (one its maker never changes again) without copying it', () => {
    const values = handOver(new Float64Array(ATTACHMENT_MIN_BYTES).fill(3));
    const { payload, attachments, flags } = encode(values, 'message');
    expect(attachments[0]!.buffer).toBe(values.buffer);
    expect((decode(payload, attachments, flags) as Float64Array)[0]).toBe(3);
  });

  it('carries an object of 65,536 keys or more (a word count), alone and where records are used', () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 70_000; i++) counts[`w${i}`] = i;
    // Before, msgpackr refused it: "use the variableMapSize option".
    const alone = roundTrip({ counts }) as { counts: Record<string, number> };
    expect(Object.keys(alone.counts)).toHaveLength(70_000);
    expect(alone.counts.w69999).toBe(69_999);
    const withMap = roundTrip({ counts, index: new Map([['all', counts]]) }) as { counts: Record<string, number>; index: Map<string, Record<string, number>> };
    expect(Object.keys(withMap.index.get('all')!)).toHaveLength(70_000);
    expect(withMap.counts.w12345).toBe(12_345);
    // Small values go on as before.
    expect(roundTrip({ a: 1 })).toEqual({ a: 1 });
  });

  it('gives a handed-over typed array as a view of its frame where the frame holds it aligned, and a copy otherwise', () => {
    const through = (value: unknown): unknown => {
      const { payload, attachments, flags } = encode(value, 'message');
      const { writer, written } = framePair();
      writer.push(1, 1, 2, 0, flags, payload, attachments);
      writer.flush();
      let frame: Frame | undefined;
      new FrameReader((f) => (frame = f)).push(Buffer.concat(written));
      return decode(frame!.payload, frame!.attachments, frame!.flags);
    };
    const handed = through(handOver(Float64Array.from({ length: ATTACHMENT_MIN_BYTES / 8 }, (_, i) => i * 1.5))) as Float64Array;
    expect(handed[1]).toBe(1.5);
    expect(handed.byteOffset).toBeGreaterThan(0);
    expect(handed.buffer.byteLength).toBeGreaterThan(handed.byteLength);
    // Not handed over: a copy, with a buffer of its own, as structuredClone gives.
    const kept = through(Float64Array.from({ length: ATTACHMENT_MIN_BYTES / 8 }, (_, i) => i * 1.5)) as Float64Array;
    expect(kept[1]).toBe(1.5);
    expect(kept.byteOffset).toBe(0);
    expect(kept.buffer.byteLength).toBe(kept.byteLength);
    // Handed over, in a frame read at an odd place: a copy, which a Float64Array needs.
    const { payload, attachments, flags } = encode(handOver(new Float64Array(ATTACHMENT_MIN_BYTES / 8).fill(2.5)), 'message');
    const odd = Buffer.alloc(attachments[0]!.byteLength + 1);
    attachments[0]!.copy(odd, 1);
    const copied = decode(payload, [odd.subarray(1)], flags) as Float64Array;
    expect(copied[0]).toBe(2.5);
    expect(copied.byteOffset).toBe(0);
  });

  it('refuses a frame whose body names an attachment it lacks, or a typed array of a kind it does not know', () => {
    const { payload, flags } = encode(new Float64Array(ATTACHMENT_MIN_BYTES), 'message');
    expect(() => decode(payload, [], flags)).toThrow('frame refers to a missing attachment');
    const inline = encode(new Float64Array([1, 2]), 'message');
    // The kind byte follows the tag byte (TAG_BUFFER, 0) of the extension's data: Float64Array is kind 7.
    const at = Buffer.from(inline.payload).indexOf(Buffer.from([0, 7]));
    expect(at).toBeGreaterThan(0);
    const bad = Buffer.from(inline.payload);
    bad[at + 1] = 99;
    expect(() => decode(bad, [], inline.flags)).toThrow('frame holds a typed array of an unknown kind');
  });

  it('takes a large typed array as it is when sent: changing it afterwards changes nothing sent', () => {
    const sent = new Float64Array(ATTACHMENT_MIN_BYTES).fill(1);
    const { payload, attachments, flags } = encode(sent, 'message');
    sent.fill(2);
    const back = decode(payload, attachments, flags) as Float64Array;
    expect(back.every((x) => x === 1)).toBe(true);
  });

  it.each([
    ['message.job.cb', 'a function', { job: { cb: () => 1 } }],
    ['message[2]', 'a symbol', [1, 2, Symbol('s')]],
    ['message.p', 'a Promise', { p: Promise.resolve() }],
    ['message.list[0]', 'a WeakMap', { list: [new WeakMap()] }],
    ['message.em', 'an EventEmitter', { em: new EventEmitter() }],
    ['message.get("k")', 'a function', new Map([['k', () => 1]])],
    ['message["odd key"][0]', 'a function', { 'odd key': [() => 1] }],
  ])('refuses the value at %s (%s)', (path, what, value) => {
    let err: unknown;
    try {
      encode(value, 'message');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SerializationError);
    expect(err).toMatchObject({ code: 'ERR_SERIALIZATION', path });
    expect((err as Error).message).toContain(`Cannot send ${path}: it is ${what}`);
  });

  it('puts buffers past the 255th attachment inline, so a frame can always count them', () => {
    const many = Array.from({ length: 300 }, (_, i) => Buffer.alloc(ATTACHMENT_MIN_BYTES, i % 256));
    const { payload, attachments, flags } = encode(many, 'message');
    expect(attachments).toHaveLength(255);
    const back = decode(payload, attachments, flags) as Buffer[];
    expect(back).toHaveLength(300);
    expect(back[299]!.equals(many[299]!)).toBe(true);
  });

  it('gives a subclass of Map back as a Map with its entries, as structuredClone does', () => {
    class Registry extends Map<string, number> {}
    const back = roundTrip({ plain: new Map([['a', 1]]), sub: new Registry([['b', 2]]) }) as { plain: Map<string, number>; sub: Map<string, number> };
    // Before, the subclass arrived as `{}`, its entries lost.
    expect(back.sub).toBeInstanceOf(Map);
    expect([...back.sub]).toEqual([['b', 2]]);
    expect(back).toEqual(structuredClone({ plain: new Map([['a', 1]]), sub: new Map([['b', 2]]) }));
    expect(roundTrip(new Registry([['top', 3]]))).toEqual(new Map([['top', 3]]));
  });

  it('gives boxed primitives back boxed, as structuredClone does', () => {
    const value = { n: new Number(3), s: new String('str'), b: new Boolean(false) };
    const back = roundTrip(value) as typeof value;
    // Before: { n: {}, s: { '0': 's', '1': 't', '2': 'r' }, b: {} }.
    expect(back.n).toBeInstanceOf(Number);
    expect(back.s).toBeInstanceOf(String);
    expect(back.b).toBeInstanceOf(Boolean);
    expect([back.n.valueOf(), back.s.valueOf(), back.b.valueOf()]).toEqual([3, 'str', false]);
  });

  it('gives a subclass of a boxed primitive back boxed, and never takes an own `constructor` field for a class', () => {
    class Amount extends Number {}
    const back = roundTrip({ n: new Amount(5) }) as { n: Number };
    expect(back.n).toBeInstanceOf(Number);
    expect(back.n.valueOf()).toBe(5);
    // A plain object with a field named constructor: its fields, not a boxed value (its `v` was lost).
    expect(roundTrip({ x: { constructor: 'Number', v: 1 } })).toEqual({ x: { constructor: 'Number', v: 1 } });
    expect(() => encode({ x: { constructor: Number, v: 1 } }, 'message')).toThrow(/message\.x\.constructor: it is a function/);
  });

  it("rebuilds an error whose fields shadow its class's accessors (a name like troupe's TimeoutError)", () => {
    const err = Object.assign(new Error('mine'), { name: 'TimeoutError', detail: 1 });
    const back = roundTrip(err) as Error & { detail: number };
    expect(back.name).toBe('TimeoutError');
    expect(back.message).toBe('mine');
    expect(back.detail).toBe(1);
    // An AggregateError's errors stay out of its enumerable fields, as the sender's were.
    const many = roundTrip(new AggregateError([new Error('one')], 'many')) as AggregateError;
    expect(Object.keys(many)).toEqual([]);
    expect(many.errors.map((e: Error) => e.message)).toEqual(['one']);
    // A name given as a field of its own stays one (enumerable), as it was sent.
    const named = roundTrip(Object.assign(new Error('named'), { name: 'HttpError' })) as Error;
    expect(Object.keys(named)).toEqual(['name']);
    // A name that is a key of every object is no error type of its own.
    const odd = roundTrip(Object.assign(new Error('odd'), { name: 'toString' })) as Error;
    expect(odd).toBeInstanceOf(Error);
    expect([odd.name, odd.message]).toEqual(['toString', 'odd']);
  });

  it("rebuilds troupe's errors as their classes, but not another error that shares a name with one (Node's AbortError, a program's TimeoutError)", async () => {
    const ours = roundTrip(new TimeoutError('late', 250)) as TimeoutError;
    expect(ours).toBeInstanceOf(TimeoutError);
    expect([ours.code, ours.timeoutMs]).toEqual(['ERR_TIMEOUT', 250]);
    // Before, each came back as troupe's class by its name alone: instanceof true, its code Node's or none.
    const nodes = (await sleep(10, undefined, { signal: AbortSignal.abort() }).catch((err: unknown) => err)) as Error & { code: string };
    expect(nodes.name).toBe('AbortError');
    const back = roundTrip(nodes) as Error & { code: string };
    expect(back).not.toBeInstanceOf(AbortError);
    expect(back).not.toBeInstanceOf(TroupeError);
    expect([back.name, back.code]).toEqual(['AbortError', 'ABORT_ERR']);
    class TimeoutErrorOfMine extends Error {}
    Object.defineProperty(TimeoutErrorOfMine, 'name', { value: 'TimeoutError' });
    const mine = roundTrip(Object.assign(new TimeoutErrorOfMine('mine'), { name: 'TimeoutError' })) as Error;
    expect(mine).not.toBeInstanceOf(TimeoutError);
    expect([mine.name, mine.message]).toEqual(['TimeoutError', 'mine']);
    // Nor may a program's class take troupe's name, or a value that is no error class register at all.
    expect(() => registerErrorClass(TimeoutErrorOfMine)).toThrow(/TimeoutError is the name of one of troupe's errors/);
    expect(() => registerErrorClass(5 as never)).toThrow(InvalidArgumentError);
    expect(() => registerErrorClass(class NotAnError {} as never)).toThrow(/a class that extends Error/);
    // Its own class again is no error.
    expect(() => registerErrorClass(TimeoutError)).not.toThrow();
  });

  it('gives an error that came before its class was registered here that class once it is, and leaves one its holder froze as it is', () => {
    const early = errorFromWire({ name: 'RegisteredLater', r: 1, message: 'early' });
    const frozen = Object.freeze(errorFromWire({ name: 'RegisteredLater', r: 1, message: 'frozen' }));
    expect(early).not.toBeInstanceOf(TroupeError);
    class RegisteredLater extends Error {}
    Object.defineProperty(RegisteredLater, 'name', { value: 'RegisteredLater' });
    // Before, a frozen one made registering throw (a module's import failed for it), and stopped there.
    expect(() => registerErrorClass(RegisteredLater)).not.toThrow();
    expect(early).toBeInstanceOf(RegisteredLater);
    expect(early.message).toBe('early');
    expect(frozen).not.toBeInstanceOf(RegisteredLater);
  });

  it('rebuilds every troupe error class, the base and the pool\'s included, and a registered class found by its class whatever its name says', () => {
    // Before, these were not registered: each came back a plain Error with their name.
    expect(roundTrip(new PoolClosedError('closed'))).toBeInstanceOf(PoolClosedError);
    expect(roundTrip(new WorkerCrashedError('crashed', 'worker-1', -9))).toBeInstanceOf(WorkerCrashedError);
    expect(roundTrip(new OutputLimitError('too much', 10, 'out', ''))).toBeInstanceOf(OutputLimitError);
    const late = roundTrip(new CommandTimeoutError('late', 50, 'out', 'err')) as CommandTimeoutError;
    expect(late).toBeInstanceOf(CommandTimeoutError);
    expect([late.timeoutMs, late.stdout]).toEqual([50, 'out']);
    const base = roundTrip(new TroupeError('ERR_CUSTOM' as never, 'mine')) as TroupeError;
    expect(base).toBeInstanceOf(TroupeError);
    expect(base.code).toBe('ERR_CUSTOM');
    // Found by its name alone before, which such a class leaves as Error, or sets to something else.
    class Unnamed extends Error {}
    class Renamed extends Error {
      constructor(message: string) {
        super(message);
        this.name = 'HTTPFailure';
      }
    }
    registerErrorClass(Unnamed);
    registerErrorClass(Renamed);
    const unnamed = roundTrip(new Unnamed('plain')) as Error;
    expect(unnamed).toBeInstanceOf(Unnamed);
    expect([unnamed.name, unnamed.message]).toEqual(['Error', 'plain']);
    const renamed = roundTrip(roundTrip(new Renamed('twice'))) as Error;
    expect(renamed).toBeInstanceOf(Renamed);
    expect(renamed.name).toBe('HTTPFailure');
  });

  it('refuses a SharedArrayBuffer, which no other process could share, naming it and what to do', () => {
    let err: unknown;
    try {
      encode({ memory: new SharedArrayBuffer(8) }, 'message');
    } catch (e) {
      err = e;
    }
    // Before, it arrived as `{}`.
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as SerializationError).path).toBe('message.memory');
    expect((err as SerializationError).message).toMatch(/SharedArrayBuffer .*use SharedArray or Value, or send a copy/);
    // A typed array over one is its bytes, copied, as documented.
    expect(roundTrip(new Int32Array(new SharedArrayBuffer(8)))).toEqual(new Int32Array(2));
  });

  it("keeps a Map inside an AggregateError's errors", () => {
    const err = new AggregateError([Object.assign(new Error('inner'), { m: new Map([['k', 'v']]) })], 'many');
    const back = roundTrip({ err }) as { err: AggregateError };
    // Before, the errors were not looked into for a Map, and it arrived as `{ k: 'v' }`.
    expect((back.err.errors[0] as { m: unknown }).m).toEqual(new Map([['k', 'v']]));
  });

  it('refuses a value nested past the stack with SerializationError saying so, and stays usable', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100_000; i++) deep = { deep };
    let err: unknown;
    try {
      encode(deep, 'message');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SerializationError);
    // Before: "Cannot send message.deep.deep…(about 1,700 levels): it is a value that throws when it is read".
    expect((err as SerializationError).message).toMatch(/^Cannot send message: it is nested too deeply/);
    expect((err as SerializationError).path).toBe('message');
    expect(roundTrip({ a: [1] })).toEqual({ a: [1] });
  });

  it('stays usable after refusing a value', () => {
    expect(() => encode({ a: { f: () => 1 } }, 'message')).toThrow(SerializationError);
    expect(roundTrip({ a: { f: 1 } })).toEqual({ a: { f: 1 } });
  });

  it('refuses a value whose getter throws with SerializationError naming it, the getter\'s error as its cause', () => {
    const getter = new RangeError('cannot read');
    let err: unknown;
    try {
      encode({ a: [{ get b(): never { throw getter; } }] }, 'message');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SerializationError);
    expect((err as SerializationError).path).toBe('message.a[0].b');
    expect((err as SerializationError).cause).toBe(getter);
  });

  it('makes any thrown value into error data that can be encoded, with notes for what cannot cross', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const selfCaused = new Error('self');
    selfCaused.cause = selfCaused;
    const withGetter = Object.defineProperty(new Error('getter'), 'detail', { enumerable: true, get: () => { throw new Error('no'); } });
    const deep = Array.from({ length: 40 }).reduce<Error>((cause, _, i) => new Error(`level ${i}`, { cause }), new Error('bottom'));
    const withMethod = Object.assign(new Error('method'), { retry: function retry() {}, tag: Symbol('t') });
    const thrown = [proxy, selfCaused, withGetter, new Error('fn cause', { cause: { f() {} } }), deep, new AggregateError([new TypeError('t')], 'agg'), withMethod];
    const back = thrown.map((value) => {
      const wire = errorToWire(value);
      return errorFromWire(decode(encode(wire, 'error').payload) as Parameters<typeof errorFromWire>[0]);
    });
    expect(back[0]!.message).toMatch(/a thrown value that cannot be read/);
    expect(back[1]!.cause).toMatch(/refers back to itself/);
    expect((back[2] as Error & { detail: string }).detail).toMatch(/its getter threw no/);
    expect(back[3]!.cause).toMatch(/not sent: cause\.f is a function/);
    let depth = 0;
    for (let e: unknown = back[4]; e instanceof Error; e = e.cause) depth++;
    expect(depth).toBe(32);
    expect((back[5] as AggregateError).errors[0]).toBeInstanceOf(TypeError);
    // On the error itself: before, such fields went without a word.
    expect((back[6] as Error & { retry: string }).retry).toMatch(/not sent: retry is a function \(retry\)/);
    expect((back[6] as Error & { tag: string }).tag).toMatch(/not sent: tag is a symbol/);
  });
});
