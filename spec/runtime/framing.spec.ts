import { describe, expect, it } from 'vitest';
import { FrameReader, FrameWriter, HEADER_BYTES, type Frame } from '../../runtime/framing.ts';
import { ProtocolError } from '../../index.ts';

function pair(coalesceMs?: number): { writer: FrameWriter; written: Buffer[] } {
  const written: Buffer[] = [];
  return { writer: new FrameWriter({ write: (chunks) => void written.push(...chunks) }, coalesceMs), written };
}

describe('framing', () => {
  it('writes the frames of one synchronous run together, once it is done', async () => {
    const { writer, written } = pair();
    for (let i = 0; i < 100; i++) writer.push(1, 2, 3, i, 0, Buffer.from([i]));
    expect(written).toHaveLength(0);
    await Promise.resolve();
    expect(written).toHaveLength(1);
    expect(written[0]!.byteLength).toBe(100 * (HEADER_BYTES + 1));
  });

  it('holds frames that closely follow a write to the end of the turn, across awaits', async () => {
    const { writer, written } = pair(60_000); // a window longer than the test: no timing luck
    // As an actor answering one message per await: the first answer goes at once, the rest of the turn's in one more write.
    for (let i = 0; i < 100; i++) {
      writer.push(1, 2, 3, i, 0, Buffer.from([i]));
      await Promise.resolve();
    }
    expect(written.map((b) => b.byteLength)).toEqual([HEADER_BYTES + 1]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written.map((b) => b.byteLength)).toEqual([HEADER_BYTES + 1, 99 * (HEADER_BYTES + 1)]);
  });

  it('writes the first frames of each turn at once, however soon after the last write (a request and its reply)', async () => {
    const { writer, written } = pair(60_000);
    for (let turn = 0; turn < 3; turn++) {
      writer.push(1, 2, 3, turn, 0, Buffer.from([turn]));
      await Promise.resolve();
      expect(written).toHaveLength(turn + 1);
      await new Promise((resolve) => setImmediate(resolve));
    }
  });

  it("writes at once a frame that comes, in the same turn, after a long synchronous stretch (a worker's next long task)", async () => {
    const { writer, written } = pair(1);
    writer.push(1, 2, 3, 0, 0, Buffer.from([0]));
    await Promise.resolve();
    expect(written).toHaveLength(1);
    const until = performance.now() + 5; // a 5 ms task, run without leaving the turn
    while (performance.now() < until);
    writer.push(1, 2, 3, 1, 0, Buffer.from([1]));
    await Promise.resolve();
    expect(written).toHaveLength(2);
  });

  it("writes a frame that comes after a pause at once (a long task's result is not held back)", async () => {
    const { writer, written } = pair(1);
    writer.push(1, 2, 3, 0, 0, Buffer.from([0]));
    await Promise.resolve();
    expect(written).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 20)); // far longer than the 1 ms window
    writer.push(1, 2, 3, 1, 0, Buffer.from([1]));
    await Promise.resolve();
    expect(written).toHaveLength(2);
  });

  it('parses frames split at every byte, with attachments', () => {
    const { writer, written } = pair();
    const att = Buffer.alloc(70_000, 5);
    writer.push(2, 7, 8, 99, 1, Buffer.from('body'), [att, Buffer.from('x')]);
    writer.push(1, 1, 0, 0, 0, Buffer.alloc(0));
    writer.flush();
    const stream = Buffer.concat(written);
    const frames: Frame[] = [];
    const reader = new FrameReader((f) => frames.push(f));
    for (let i = 0; i < stream.byteLength; i += 997) reader.push(stream.subarray(i, Math.min(i + 997, stream.byteLength)));
    expect(frames).toHaveLength(2);
    expect(frames[0]).toMatchObject({ kind: 2, to: 7, from: 8, callId: 99, flags: 1 });
    expect(Buffer.from(frames[0]!.payload).toString()).toBe('body');
    expect(frames[0]!.attachments.map((a) => a.byteLength)).toEqual([70_000, 1]);
    expect(frames[0]!.attachments[0]!.equals(att)).toBe(true);
    expect(frames[1]).toMatchObject({ kind: 1, to: 1 });
  });

  it('reads a large frame into a buffer of its own size, in place, and small reads through a reused buffer', () => {
    const { writer, written } = pair();
    const big = Buffer.alloc(300_000, 3);
    writer.push(1, 1, 2, 0, 0, Buffer.from('small'));
    writer.push(1, 1, 2, 0, 0, Buffer.from('large'), [big]);
    writer.push(1, 1, 2, 0, 0, Buffer.from('after'));
    writer.flush();
    const stream = Buffer.concat(written);
    const frames: Frame[] = [];
    const reader = new FrameReader((f) => frames.push(f));
    const targets = new Set<ArrayBufferLike>();
    let o = 0;
    while (o < stream.byteLength) {
      const target = reader.readTarget();
      targets.add(target.buffer);
      // A socket fills at most what the kernel has: hand over 20 000 bytes a read.
      const n = Math.min(target.byteLength, 20_000, stream.byteLength - o);
      stream.copy(target, 0, o, o + n);
      reader.readDone(target, n);
      o += n;
    }
    expect(frames.map((f) => Buffer.from(f.payload).toString())).toEqual(['small', 'large', 'after']);
    const att = frames[1]!.attachments[0]!;
    expect(att.equals(big)).toBe(true);
    // The large frame was read into its own buffer, not copied out of chunks.
    expect(att.buffer.byteLength).toBe(stream.byteLength - 2 * (HEADER_BYTES + 5));
    expect(targets.has(att.buffer)).toBe(true);
  });

  it("puts a frame's first attachment at a multiple of 8 bytes from the frame's start, whatever its payload's length", () => {
    for (let length = 0; length < 12; length++) {
      const { writer, written } = pair();
      const att = Buffer.alloc(70_000, length);
      writer.push(2, 1, 2, 0, 0, Buffer.alloc(length, 9), [att, Buffer.from('tail')]);
      writer.flush();
      // A buffer of its own, as a large frame is read into: the frame starts at its byte 0.
      const stream = Buffer.concat(written);
      const frames: Frame[] = [];
      new FrameReader((f) => frames.push(f)).push(stream);
      expect(frames[0]!.payload).toEqual(new Uint8Array(length).fill(9));
      expect(frames[0]!.attachments[0]!.equals(att)).toBe(true);
      expect(frames[0]!.attachments[0]!.byteOffset % 8).toBe(0);
      expect(frames[0]!.attachments[1]!.toString()).toBe('tail');
    }
  });

  it('throws ProtocolError for a pad of more than 7 bytes', () => {
    const bad = Buffer.alloc(HEADER_BYTES + 8);
    bad.writeUInt32LE(HEADER_BYTES + 4, 0);
    bad[4] = 1;
    bad[7] = 8;
    expect(() => new FrameReader(() => {}).push(bad)).toThrow('bad frame pad 8');
  });

  it('streams a full batch at once instead of holding it to the end of the turn', () => {
    const { writer, written } = pair();
    for (let i = 0; i < 5000; i++) writer.push(1, 1, 1, 0, 0, Buffer.alloc(20));
    expect(written.length).toBeGreaterThan(0);
  });

  it.each([
    ['a length too short for a header', Buffer.from([1, 0, 0, 0, 1])],
    ['an unknown kind', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
  ])('throws ProtocolError for %s, before waiting for a body', (_what, bytes) => {
    const reader = new FrameReader(() => {});
    expect(() => reader.push(bytes)).toThrow(ProtocolError);
  });

  it('throws ProtocolError when a payload overruns its frame', () => {
    const bad = Buffer.alloc(HEADER_BYTES);
    bad.writeUInt32LE(HEADER_BYTES - 4, 0);
    bad[4] = 1;
    bad.writeUInt32LE(1000, 20);
    expect(() => new FrameReader(() => {}).push(bad)).toThrow('overruns');
  });
});
