/**
 * Length-prefixed frames on a byte stream.
 *
 *   u32 length (of everything after this field)
 *   u8  kind   u8 attachments   u8 flags   u8 pad
 *   u32 to     u32 from         u32 callId     u32 payloadLength
 *   payload bytes, `pad` zero bytes, then per attachment: u32 length, bytes
 *
 * `to`/`from` are per-link aliases of actor IDs (see link.ts), so the hot path
 * never encodes or decodes an ID string. Small frames are copied into one batch
 * buffer and written once per event-loop turn; attachments are written beside
 * them without a copy. The pad puts the first attachment's bytes at a
 * multiple of 8 from the frame's start: a frame read into a buffer of its own
 * holds them aligned for any typed array, which may then view them in place
 * (codec.ts, handed-over arrays).
 */
import { ProtocolError } from './errors.ts';

export const HEADER_BYTES = 24;
/** A frame larger than this is refused: it is almost surely garbage on the channel. */
export const MAX_FRAME_BYTES = 2 ** 31 - 1;
const BATCH_BYTES = 64 * 1024;
/** Frames pushed this soon after a write wait for the end of the turn (see FrameWriter#flushSoon). */
const COALESCE_MS = 0.5;

/**
 * Milliseconds on a monotonic clock. Not `performance.now()`: the global
 * loads node:perf_hooks on first use (about a millisecond), and the first
 * write of every actor process would pay it on its way to `ready`.
 */
export function now(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}

/** Writers with frames not yet written (waiting for their microtask, or held for the end of the turn). */
const unwritten = new Set<FrameWriter>();

/**
 * Writes every frame held back for the end of the turn, now. The mailbox
 * calls it as it hands an actor its next message: what that message's
 * handler runs may take long (a pool worker's next task), and the answers
 * to the messages before it must not wait for it.
 */
export function flushHeld(): void {
  if (unwritten.size === 0) return;
  // Both delete the writer they are called on, which a Set's iteration allows.
  for (const writer of unwritten) writer.release();
}
/** Frame kinds are 1…MAX_KIND (see link.ts). */
export const MAX_KIND = 11;

export interface Frame {
  readonly kind: number;
  readonly to: number;
  readonly from: number;
  readonly callId: number;
  /** How the payload is encoded (codec.ts `FLAG_*`). */
  readonly flags: number;
  readonly payload: Uint8Array;
  readonly attachments: readonly Buffer[];
}

const NONE: readonly Buffer[] = Object.freeze([]);

/** Where a writer's bytes go: `write` may be called with several buffers at once. */
export interface ByteSink {
  write(chunks: Buffer[]): void;
  /**
   * Optional: holds a copy of `bytes` for the next `write`, or for a thread
   * to write within a millisecond or so if no write comes (see
   * write-guard.ts); false when it cannot.
   */
  stage?(bytes: Uint8Array): boolean;
  /** Optional: whether staged bytes wait for the next `write`. */
  staged?(): boolean;
}

export class FrameWriter {
  #sink: ByteSink;
  #batch = Buffer.allocUnsafe(BATCH_BYTES);
  #used = 0;
  #out: Buffer[] = [];
  #scheduled = false;
  #deferred = false;
  /** When this writer last handed bytes to its sink (a monotonic clock, ms). */
  #lastWrite = -Infinity;
  /** It wrote in this event-loop turn (reset in the turn's check phase). */
  #wroteThisTurn = false;

  readonly #coalesceMs: number;

  constructor(sink: ByteSink, coalesceMs = COALESCE_MS) {
    this.#sink = sink;
    this.#coalesceMs = coalesceMs;
  }

  /** Queues one frame; it is written once this event-loop turn is done (or sooner, when a batch fills). */
  push(kind: number, to: number, from: number, callId: number, flags: number, payload: Uint8Array, attachments: readonly Buffer[] = NONE): void {
    let attBytes = 0;
    for (const att of attachments) attBytes += 4 + att.byteLength;
    const length = payload.byteLength;
    const pad = attachments.length === 0 ? 0 : attachmentPad(length);
    const headAndBody = HEADER_BYTES + length + pad;
    const total = headAndBody - 4 + attBytes;
    if (total > MAX_FRAME_BYTES) throw new RangeError(`frame of ${total} bytes is over the ${MAX_FRAME_BYTES}-byte limit`);
    if (this.#used + headAndBody + attachments.length * 4 > this.#batch.byteLength) this.#seal(headAndBody + attachments.length * 4);
    const b = this.#batch;
    let o = this.#used;
    u32(b, o, total);
    b[o + 4] = kind;
    b[o + 5] = attachments.length;
    b[o + 6] = flags;
    b[o + 7] = pad;
    u32(b, o + 8, to);
    u32(b, o + 12, from);
    u32(b, o + 16, callId);
    u32(b, o + 20, length);
    o += HEADER_BYTES;
    // Most messages are a few dozen bytes: a loop beats set()'s fixed cost.
    if (length <= 64) for (let i = 0; i < length; i++) b[o + i] = payload[i]!;
    else b.set(payload, o);
    o += length;
    for (let i = 0; i < pad; i++) b[o++] = 0;
    if (attachments.length === 0) {
      this.#used = o;
    } else {
      // Attachment bytes go out as buffers of their own, between slices of the batch.
      let start = 0;
      for (const att of attachments) {
        u32(b, o, att.byteLength);
        o += 4;
        this.#out.push(b.subarray(start, o), att);
        start = o;
      }
      this.#used = o;
      this.#discardBatch();
    }
    unwritten.add(this);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flushSoon);
    }
    // Frames that may wait for the end of this turn (see #flushSoon) are set to go now, ahead of any
    // setImmediate the sender calls after this push: `await new Promise(setImmediate)` then lets them
    // out before a long computation, as the docs say. Set from the microtask, it came after the
    // sender's, and the message waited out the computation.
    if (this.#wroteThisTurn && !this.#deferred && now() - this.#lastWrite < this.#coalesceMs) {
      this.#deferred = true;
      setImmediate(this.#flushDeferred);
    }
  }

  /**
   * Once the sender's synchronous code is done: written now, unless this
   * writer already wrote in this event-loop turn, less than COALESCE_MS ago.
   * Then the frames wait for the end of the turn (the check phase, right
   * after this turn's I/O), for the next frame pushed after COALESCE_MS, or
   * for this process's actor to take its next message (`flushHeld`),
   * whichever comes first. A process handling a burst of incoming frames in
   * one turn (a service answering requests, a pool handing out tasks as
   * results land) writes once per turn, not once per answer, and a wake-up
   * of the peer each; a request and its reply, each in a turn of its own, go
   * at once, and so does whatever an actor wrote before its next message runs.
   */
  #flushSoon = (): void => {
    this.#scheduled = false;
    if (this.#used === 0 && this.#out.length === 0) return; // written meanwhile (flushHeld, a full batch)
    if (this.#wroteThisTurn && now() - this.#lastWrite < this.#coalesceMs) {
      if (!this.#deferred) {
        this.#deferred = true;
        setImmediate(this.#flushDeferred);
      }
      return;
    }
    this.flush();
  };

  #flushDeferred = (): void => {
    if (this.#deferred) this.flush();
  };

  /**
   * The mailbox hands this process's actor its next message (`flushHeld`):
   * frames that would wait for the end of the turn are staged where a thread
   * writes them if the next handler runs long (when the sink can stage),
   * else written now. Frames the turn's end would not have held go now.
   */
  release(): void {
    if (this.#out.length === 0 && this.#used > 0 && this.#wroteThisTurn && now() - this.#lastWrite < this.#coalesceMs && this.#sink.stage?.(this.#batch.subarray(0, this.#used)) === true) {
      // Copied: the batch's bytes are free again.
      this.#used = 0;
      unwritten.delete(this);
      // The end of the turn writes them with whatever comes after, if the thread has not.
      if (!this.#deferred) {
        this.#deferred = true;
        setImmediate(this.#flushDeferred);
      }
      return;
    }
    this.flush();
  }

  /** Writes everything queued now. */
  flush(): void {
    this.#deferred = false;
    unwritten.delete(this);
    if (this.#used > 0) {
      this.#out.push(this.#batch.subarray(0, this.#used));
      this.#discardBatch();
    }
    if (this.#out.length === 0) {
      // Staged frames (see release) go now, as they would have with these.
      if (this.#sink.staged?.() === true) {
        this.#wrote();
        this.#sink.write([]);
      }
      return;
    }
    const out = this.#out;
    this.#out = [];
    this.#wrote();
    this.#sink.write(out);
  }

  #wrote(): void {
    this.#lastWrite = now();
    if (!this.#wroteThisTurn) {
      this.#wroteThisTurn = true;
      setImmediate(this.#newTurn);
    }
  }

  #newTurn = (): void => {
    this.#wroteThisTurn = false;
  };

  #seal(need: number): void {
    if (this.#used > 0) {
      this.#out.push(this.#batch.subarray(0, this.#used));
      // A full batch is written at once, so a long burst of sends streams to
      // the peer while the sender is still producing.
      const out = this.#out;
      this.#out = [];
      this.#wrote();
      this.#sink.write(out);
    }
    this.#batch = Buffer.allocUnsafe(Math.max(BATCH_BYTES, need));
    this.#used = 0;
  }

  /** Drops the bytes already handed out; the rest of the batch is reused while it is worth it. */
  #discardBatch(): void {
    // Handed-out bytes are subarrays of the batch: never write over them.
    const rest = this.#batch.byteLength - this.#used;
    this.#batch = rest >= 4096 ? this.#batch.subarray(this.#used) : Buffer.allocUnsafe(BATCH_BYTES);
    this.#used = 0;
  }
}

/** Size of a read buffer, as Node's own streams use. */
const CHUNK_BYTES = 64 * 1024;
/** A read this small is copied out, so its buffer serves the next read. */
const COPY_BELOW_BYTES = 4096;
/** Frames at least this large are assembled in one buffer of their size, read into in place. */
const LARGE_FRAME_BYTES = 256 * 1024;

/**
 * Splits a byte stream into frames. A frame that cannot be a frame (absurd
 * length or attachment layout) throws `ProtocolError`; the owner of the
 * stream ends the connection.
 *
 * Bytes come either as chunks a stream read (`push`), or into buffers this
 * reader hands out (`readTarget`/`readDone`, for a socket's `onread`): then a
 * large frame is read straight into a buffer of its own size, with no copy.
 */
export class FrameReader {
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** A large frame being assembled, and how much of it has arrived. */
  #large: Buffer | null = null;
  #largeFilled = 0;
  #spare: Buffer | null = null;
  readonly #onFrame: (frame: Frame) => void;

  constructor(onFrame: (frame: Frame) => void) {
    this.#onFrame = onFrame;
  }

  /** Where the next read should land. */
  readTarget(): Buffer {
    if (this.#large !== null) return this.#large.subarray(this.#largeFilled);
    const spare = this.#spare ?? Buffer.allocUnsafe(CHUNK_BYTES);
    this.#spare = null;
    return spare;
  }

  /** `n` bytes were read into `buffer`, which `readTarget` returned. */
  readDone(buffer: Buffer, n: number): void {
    if (this.#large !== null && buffer.buffer === this.#large.buffer && buffer.byteOffset === this.#large.byteOffset + this.#largeFilled) {
      this.#largeFilled += n;
      if (this.#largeFilled === this.#large.byteLength) this.#finishLarge();
      return;
    }
    if (n < COPY_BELOW_BYTES) {
      this.#spare = buffer;
      this.push(Buffer.from(buffer.subarray(0, n)));
    } else {
      this.push(buffer.subarray(0, n));
    }
  }

  push(chunk: Buffer): void {
    if (this.#large !== null) {
      const n = Math.min(this.#large.byteLength - this.#largeFilled, chunk.byteLength);
      chunk.copy(this.#large, this.#largeFilled, 0, n);
      this.#largeFilled += n;
      if (this.#largeFilled < this.#large.byteLength) return;
      this.#finishLarge();
      if (n < chunk.byteLength) this.push(chunk.subarray(n));
      return;
    }
    let buf: Buffer;
    if (this.#pendingBytes === 0) {
      buf = chunk;
    } else {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.byteLength;
      if (this.#pendingBytes < 5) return;
      const head = this.#pending[0]!.byteLength >= 5 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingBytes);
      const need = checkHead(head, 0) + 4;
      if (this.#pendingBytes < need && need < LARGE_FRAME_BYTES) return;
      buf = Buffer.concat(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    let o = 0;
    const end = buf.byteLength;
    while (end - o >= 5) {
      // Checked before waiting for the rest: garbage must not make us wait for gigabytes.
      const total = checkHead(buf, o);
      if (end - o - 4 < total) {
        if (total + 4 >= LARGE_FRAME_BYTES) {
          this.#large = Buffer.allocUnsafe(total + 4);
          this.#largeFilled = buf.copy(this.#large, 0, o);
          return;
        }
        break;
      }
      this.#onFrame(parse(buf, o, total));
      o += 4 + total;
    }
    if (o < end) {
      const rest = buf.subarray(o);
      this.#pending.push(rest);
      this.#pendingBytes = rest.byteLength;
    }
  }

  #finishLarge(): void {
    const large = this.#large!;
    this.#large = null;
    this.#largeFilled = 0;
    this.#onFrame(parse(large, 0, large.byteLength - 4));
  }
}

/** Zero bytes after a payload of `length` that put the first attachment's bytes (after its u32 length) at a multiple of 8 from the frame's start. */
export function attachmentPad(length: number): number {
  return (8 - ((HEADER_BYTES + length + 4) % 8)) % 8;
}

/** Writes a little-endian u32; Buffer#writeUInt32LE's checks cost more on the hot path. */
function u32(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}

/** Validates a frame's length and kind, which are there before its body; returns the length. */
function checkHead(buf: Buffer, o: number): number {
  const total = buf.readUInt32LE(o);
  if (total < HEADER_BYTES - 4 || total > MAX_FRAME_BYTES) throw new ProtocolError(`bad frame length ${total}`);
  const kind = buf[o + 4]!;
  if (kind < 1 || kind > MAX_KIND) throw new ProtocolError(`bad frame kind ${kind}`);
  return total;
}

function parse(buf: Buffer, o: number, total: number): Frame {
  const kind = buf[o + 4]!;
  const natt = buf[o + 5]!;
  const flags = buf[o + 6]!;
  const pad = buf[o + 7]!;
  if (pad > 7) throw new ProtocolError(`bad frame pad ${pad}`);
  const to = buf.readUInt32LE(o + 8);
  const from = buf.readUInt32LE(o + 12);
  const callId = buf.readUInt32LE(o + 16);
  const payloadLength = buf.readUInt32LE(o + 20);
  const end = o + 4 + total;
  let p = o + HEADER_BYTES;
  if (p + payloadLength > end) throw new ProtocolError(`frame payload of ${payloadLength} bytes overruns its frame`);
  // A plain view: cheaper than Buffer#subarray, which runs on every message.
  const payload = new Uint8Array(buf.buffer, buf.byteOffset + p, payloadLength);
  p += payloadLength + pad;
  let attachments: readonly Buffer[] = NONE;
  if (natt > 0) {
    const list: Buffer[] = [];
    for (let i = 0; i < natt; i++) {
      if (p + 4 > end) throw new ProtocolError('frame attachment table overruns its frame');
      const len = buf.readUInt32LE(p);
      p += 4;
      if (p + len > end) throw new ProtocolError('frame attachment overruns its frame');
      list.push(buf.subarray(p, p + len));
      p += len;
    }
    attachments = list;
  }
  if (p !== end) throw new ProtocolError(`frame has ${end - p} stray bytes`);
  return { kind, to, from, callId, flags, payload, attachments };
}
