import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotOwnerError, SharedArray, SharedValueError, Value, current, spawn } from '../../index.ts';
import { arrayAdder, byteWriter, holder, incrementer } from '../fixtures/sync-actors.ts';
import { reap } from '../helpers.ts';

type Report = { tag: string; [key: string]: unknown };
const next = (tag: string): Promise<Report> =>
  current().receive({ match: (m): m is Report => (m as Report)?.tag === tag, timeout: 20_000 }) as Promise<Report>;

describe('Value', () => {
  it('gets, sets, adds and compares-and-sets', async () => {
    const v = new Value('int32', 5);
    expect(await v.get()).toBe(5);
    await v.set(7);
    expect(await v.add(3)).toBe(10);
    expect(await v.compareAndSet(9, 1)).toBe(false);
    expect(await v.compareAndSet(10, 1)).toBe(true);
    expect(await v.update((x) => x * 6)).toBe(6);
    expect(await v.get()).toBe(6);
    await v.close();
  });

  it('compares exactly in compareAndSet: an expected value the kind cannot hold never matches', async () => {
    const v = new Value('int32', 1);
    expect(await v.compareAndSet(2 ** 32 + 1, 5)).toBe(false); // would wrap to 1 if stored
    expect(await v.compareAndSet(1.5, 5)).toBe(false);
    expect(await v.compareAndSet(1, 5)).toBe(true);
    expect(await v.get()).toBe(5);
    const f = new Value('float32', 0.1);
    expect(await f.compareAndSet(0.1, 1)).toBe(true); // rounded the same way as the stored value
    await expect(new Value('bigint64', 1n).compareAndSet(1 as never, 2n)).rejects.toBeInstanceOf(SharedValueError);
  });

  it('wraps integers C-style, as ctypes does, and rounds float32', async () => {
    const i = new Value('int32', 2 ** 31 - 1);
    expect(await i.add(1)).toBe(-(2 ** 31));
    const u = new Value('uint8', 255);
    expect(await u.add(1)).toBe(0);
    const b = new Value('bigint64', 2n ** 63n - 1n);
    expect(await b.add(1n)).toBe(-(2n ** 63n));
    const f = new Value('float32', 0.1);
    expect(await f.get()).toBe(Math.fround(0.1));
    // compareAndSet compares as the kind stores: 0.1 is float32's 0.1 here.
    expect(await f.compareAndSet(0.1, 0.5)).toBe(true);
    const d = new Value('float64');
    expect(await d.get()).toBe(0);
    for (const v of [i, u, b, f, d]) await v.close();
  });

  it('resolves update() with the value as stored (wrapped, rounded), and wraps a delta past 2**53 exactly', async () => {
    const i = new Value('i', 2 ** 31 - 1);
    const b = new Value('b', 100);
    const f = new Value('f', 0);
    const a = new SharedArray('B', [250]);
    // Before: the function's own result (2**31, 200, 0.1, 260), not what the value then held.
    expect([await i.update((x) => x + 1), await b.update((x) => x + 100), await f.update((x) => x + 0.1), await a.update(0, (x) => x + 10)]).toEqual([-(2 ** 31), -56, Math.fround(0.1), 4]);
    expect([await i.get(), await b.get(), await f.get(), await a.get(0)]).toEqual([-(2 ** 31), -56, Math.fround(0.1), 4]);
    // As ctypes: c_int(1 + 2**53).value is 1; added as doubles first, the 1 was lost (0).
    const j = new Value('i', 1);
    expect(await j.add(2 ** 53)).toBe(1);
    expect(await j.add(2 ** 60 + 2 ** 32 * 3)).toBe(1);
    await a.set(0, 5);
    expect(await a.add(0, 2 ** 53)).toBe(5);
    for (const v of [i, b, f, a, j]) await v.close();
  });

  it('refuses elements of the wrong type and unknown kinds', async () => {
    expect(() => new Value('int32', 1.5)).toThrow(SharedValueError);
    expect(() => new Value('int32', 1.5)).toThrow('the initial value must be an integer for kind int32, got 1.5.');
    expect(() => new Value('bigint64', 1 as never)).toThrow('the initial value must be a bigint for kind bigint64, got number 1.');
    expect(() => new Value('int128' as never)).toThrow(InvalidArgumentError);
    const v = new Value('int32');
    await expect(v.set(2n as never)).rejects.toThrow(SharedValueError);
    await v.close();
  });

  it("takes Python's typecodes for its kind, and names the kind; refuses Python's lock= argument rather than ignore it", async () => {
    const i = new Value('i', 2 ** 31 - 1);
    const q = new Value('q', 1n);
    const d = new SharedArray('d', [0.5, 1.5]);
    try {
      // Before, each was InvalidArgumentError: "one of int8, …".
      expect([i.kind, q.kind, d.kind]).toEqual(['int32', 'bigint64', 'float64']);
      expect(await i.add(1)).toBe(-(2 ** 31));
      expect(await q.add(2n)).toBe(3n);
      expect(await d.toArray()).toEqual([0.5, 1.5]);
      // A child gets the kind by name, and wraps alike.
      const kid = reap(spawn(incrementer, { args: [i, 3, false, true] }));
      expect(await kid.join({ timeout: 20_000 })).toBe(0);
      expect(await i.get()).toBe(-(2 ** 31) + 3);
    } finally {
      await Promise.all([i.close(), q.close(), d.close()]);
    }
    expect(() => new Value('z' as never)).toThrow(/or Python's typecode for one \(c b B u h H i I l L q Q f d\)/);
    // A C char is a byte (Python's Value('c', b'x') and Array('c')), a wchar_t a code point in 32 bits.
    const c = new Value('c', 'x'.charCodeAt(0));
    const text = new SharedArray('c', 8);
    const u = new Value('u', 0x1f600);
    try {
      expect([c.kind, text.kind, u.kind]).toEqual(['uint8', 'uint8', 'uint32']);
      await c.set('y'.charCodeAt(0));
      expect(String.fromCharCode(await c.get())).toBe('y');
      await text.setString('hello');
      expect(await text.getString()).toBe('hello');
      expect(String.fromCodePoint(await u.get())).toBe('😀');
    } finally {
      await Promise.all([c.close(), text.close(), u.close()]);
    }
    // Before, the third argument was ignored without a word.
    const lockFalse = (): unknown => new (Value as unknown as new (...args: unknown[]) => unknown)('i', 0, { lock: false });
    expect(lockFalse).toThrow(InvalidArgumentError);
    expect(lockFalse).toThrow(/Value takes 2 arguments .*got 3\. Python's lock= has no counterpart/);
    expect(() => new (SharedArray as unknown as new (...args: unknown[]) => unknown)('d', 2, { lock: false })).toThrow(/SharedArray takes 2 arguments/);
  });

  it('loses no increments when four actors add atomically, or read and write under withLock', async () => {
    const atomic = new Value('int32', 0);
    const locked = new Value('int32', 0);
    const kids = [
      ...[0, 1].map(() => reap(spawn(incrementer, { args: [atomic, 500, false, true] }))),
      ...[0, 1].map(() => reap(spawn(incrementer, { args: [locked, 500, true] }))),
    ];
    expect(await Promise.all(kids.map((k) => k.join({ timeout: 60_000 })))).toEqual([0, 0, 0, 0]);
    expect(await atomic.get()).toBe(1000);
    expect(await locked.get()).toBe(1000);
    await atomic.close();
    await locked.close();
  });

  it('makes the plain gets and sets of other actors wait while one holds its lock (Synchronized semantics)', async () => {
    const v = new Value('int32', 1);
    await v.acquire();
    const racer = reap(spawn(incrementer, { args: [v, 1, false] }));
    // The racer's get is queued behind this actor's lock: it cannot read 1 and write 2.
    const deadline = performance.now() + 20_000;
    while (((await v.ref.call({ op: 'state' })) as { waiting: number }).waiting !== 1) {
      if (performance.now() > deadline) throw new Error('the racer never waited');
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await v.get()).toBe(1);
    await v.set(10);
    await v.release();
    expect(await racer.join({ timeout: 20_000 })).toBe(0);
    expect(await v.get()).toBe(11);
    await v.close();
  });

  it('hands its lock on as abandoned when the holder is SIGKILLed, and refuses a release by a non-holder', async () => {
    const v = new Value('float64', 0);
    const child = reap(spawn(holder, { args: [v, current().self, 'h'] }));
    expect((await next('h')).result).toBe(true);
    await expect(v.release()).rejects.toThrow(NotOwnerError);
    const waiting = v.acquire({ timeout: 20_000 });
    child.kill();
    expect(await waiting).toBe('abandoned');
    await v.release();
    await v.close();
  });
});

describe('SharedArray', () => {
  it('holds a fixed-length array: elements, slices, per-element atomics', async () => {
    const a = new SharedArray('int16', [1, 2, 3, 4]);
    expect(a.length).toBe(4);
    expect(await a.toArray()).toEqual([1, 2, 3, 4]);
    expect(await a.slice(1, 3)).toEqual([2, 3]);
    expect(await a.slice(-2)).toEqual([3, 4]);
    await a.setSlice(2, [30, 40]);
    expect(await a.get(3)).toBe(40);
    expect(await a.add(0, 32_767)).toBe(-32_768);
    expect(await a.compareAndSet(1, 2, 20)).toBe(true);
    expect(await a.update(1, (x) => x + 1)).toBe(21);
    const zeros = new SharedArray('float64', 3);
    expect(await zeros.toArray()).toEqual([0, 0, 0]);
    await a.close();
    await zeros.close();
  });

  it("holds bytes and text as Python's Array('c') does (.raw, .value)", async () => {
    const a = new SharedArray('uint8', 8);
    await a.setString('héllo'); // 6 bytes of UTF-8, then a 0
    expect(await a.getString()).toBe('héllo');
    expect([...(await a.getBytes())]).toEqual([104, 195, 169, 108, 108, 111, 0, 0]);
    await a.setBytes(Buffer.from('xy'), 6);
    expect((await a.getBytes()).subarray(6).toString()).toBe('xy');
    await a.setString('12345678'); // exactly fits: no terminating 0
    expect(await a.getString()).toBe('12345678');
    await expect(a.setString('123456789')).rejects.toBeInstanceOf(SharedValueError);
    await expect(new SharedArray('float64', 2).getBytes()).rejects.toThrow(/needs a 'uint8' array/);
  });

  it('refuses indexes out of range and slices that do not fit', async () => {
    const a = new SharedArray('uint8', 2);
    await expect(a.get(2)).rejects.toThrow('index 2 is out of range for Array(uint8, 2), of length 2.');
    await expect(a.set(-3, 0)).rejects.toThrow('index -3 is out of range for Array(uint8, 2), of length 2.');
    // Negative indexes count from the end, as Python's arr[-1] does.
    await a.set(-1, 7);
    expect([await a.get(1), await a.get(-1), await a.add(-2, 3)]).toEqual([7, 7, 3]);
    await expect(a.setSlice(1, [1, 2])).rejects.toThrow(SharedValueError);
    expect(() => new SharedArray('uint8', -1)).toThrow(InvalidArgumentError);
    // A hole is no element (before, it was stored as 0).
    // eslint-disable-next-line no-sparse-arrays
    expect(() => new SharedArray('int32', [, 1] as number[])).toThrow('element 0 must be a number for kind int32, got undefined.');
    // eslint-disable-next-line no-sparse-arrays
    await expect(a.setSlice(0, [, 5] as number[])).rejects.toThrow(SharedValueError);
    await a.close();
  });

  it('takes any sequence as Python does (a typed array), counts a negative setSlice start from the end, and names what is not an index', async () => {
    const a = new SharedArray('int32', new Int32Array([1, 2, 3]));
    expect(await a.toArray()).toEqual([1, 2, 3]);
    await a.setSlice(-2, [8, 9]);
    await a.setSlice(0, new Int32Array([7]));
    expect(await a.toArray()).toEqual([7, 8, 9]);
    // Before: a bare TypeError, 'index 1 is out of range' for '1', and silent coercions.
    await expect(a.setSlice(0, 'ab' as never)).rejects.toThrow(InvalidArgumentError);
    await expect(a.get('1' as never)).rejects.toThrow('Expected `index` to be an integer');
    await expect(a.slice(1.5, 3)).rejects.toThrow(InvalidArgumentError);
    await expect(a.slice(Number.NaN)).rejects.toThrow(InvalidArgumentError);
    await a.close();
  });

  it('travels to children, which add to its elements atomically', async () => {
    const a = new SharedArray('int32', 2);
    const kids = [0, 0, 1].map((index) => reap(spawn(arrayAdder, { args: [a, index, 200] })));
    expect(await Promise.all(kids.map((k) => k.join({ timeout: 60_000 })))).toEqual([0, 0, 0]);
    expect(await a.toArray()).toEqual([400, 200]);
    await a.close();
  });

  it('holds bytes and text for a child that received it, as for its maker', async () => {
    const a = new SharedArray('uint8', 4);
    const kid = reap(spawn(byteWriter, { args: [a, current().self, 'bytes', 'hé'] }));
    const report = (await current().receive({ match: (m): m is { tag: string; text: string; bytes: number[] } => (m as { tag?: string })?.tag === 'bytes', timeout: 20_000 })) as { text: string; bytes: number[] };
    // Before, getBytes/setBytes/getString/setString threw a TypeError in any process but the maker's.
    expect(report).toMatchObject({ text: 'hé', bytes: [0x68, 0xc3, 0xa9, 0] });
    expect(await kid.join({ timeout: 20_000 })).toBe(0);
    expect(await a.getString()).toBe('hé');
    await a.close();
  });
});
