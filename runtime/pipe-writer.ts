/**
 * Writes bytes to a pipe or socket as soon as the OS takes them.
 *
 * A Node stream stops trying the OS once one write was refused: everything
 * after queues in memory until the event loop runs again. A sender in a
 * synchronous loop (`for (…) ref.send(x)`) would then fill memory while the
 * reader starves. This writer tries a direct write of its queue every time
 * more bytes come, so the reader keeps working while the sender produces;
 * what the OS refuses waits in order, and is handed to the stream (which
 * waits for the pipe to become writable) when the sender yields.
 */
import { fs } from './fs.ts';
import type { Duplex } from 'node:stream';
import { WriteGuard } from './write-guard.ts';

/**
 * The guard thread costs about 10 MB of memory (a thread of Node's is an
 * isolate of its own): it starts once a process has held this many frames
 * past a message, as a pool worker fed tiny tasks does within milliseconds,
 * and an actor answering the odd burst never does.
 */
const GUARD_AFTER = 256;

export class PipeWriter {
  /** Null until `attach`: an actor process writes its first frames to the fd alone (see host.ts). */
  #stream: Duplex | null = null;
  readonly #fd: number;
  #queue: Buffer[] = [];
  /** Bytes handed to the stream and not yet written by it: nothing may overtake them. */
  #streamBusy = false;
  #handoffScheduled = false;
  /** Where frames held past the next message wait, written by a thread if that message takes long (see write-guard.ts). */
  #guard: WriteGuard | null = null;
  /** `guardWrites()` was called, and the stream is not destroyed. */
  #mayGuard = false;
  /** Frames offered to `stage` before the guard exists: it starts at GUARD_AFTER. */
  #offered = 0;
  /** The stream, opened when this writer first needs it (a full pipe to wait on, `idle()`) and its owner has not. */
  readonly #open: () => Duplex;

  /** `open`: the stream, opened if its owner has not yet (see `attach`); `fd`: the fd it wraps, written to directly. */
  constructor(open: () => Duplex, fd: number | undefined) {
    this.#open = open;
    this.#fd = typeof fd === 'number' && fd >= 0 ? fd : -1;
  }

  /** The fd of a net.Socket (or child stdio pipe), when Node exposes one. */
  static fdOf(stream: Duplex): number | undefined {
    const handle = (stream as unknown as { _handle?: { fd?: number } })._handle;
    return handle?.fd;
  }

  /** The stream is open now (its owner opened it): writes that wait go through it. */
  attach(stream: Duplex): void {
    if (this.#stream !== null) return;
    this.#stream = stream;
    if (this.#mayGuard) this.#guardDestroy(stream);
  }

  /** The stream, opened by its owner if it was not (the owner attaches it as it opens it). */
  #streamNow(): Duplex {
    return this.#stream ?? this.#open();
  }

  /** Lets `stage` hold bytes, once the guard thread has started (see GUARD_AFTER and host.ts). */
  guardWrites(): void {
    if (this.#fd < 0 || this.#mayGuard) return;
    this.#mayGuard = true;
    if (this.#stream !== null) this.#guardDestroy(this.#stream);
  }

  #guardDestroy(given: Duplex): void {
    // The guard thread writes to the fd by number: it must be done with it before the socket closes the fd,
    // whatever closes it (an error, EOF, end()), or it could write into a file that reused the number.
    const stream = given as Duplex & { _destroy(err: Error | null, cb: (err: Error | null) => void): void };
    const destroy = stream._destroy;
    stream._destroy = (err, cb) => {
      this.#mayGuard = false;
      this.#guard?.close();
      destroy.call(stream, err, cb);
    };
  }

  /**
   * Holds bytes for the next `write`, or for the guard thread to write
   * shortly if no write comes. False when they cannot be held (no guard
   * yet, or older bytes still wait for the socket): write them instead.
   */
  stage(bytes: Uint8Array): boolean {
    if (this.#guard === null) {
      if (this.#mayGuard && ++this.#offered >= GUARD_AFTER) this.#guard = new WriteGuard(this.#fd);
      return false;
    }
    return !this.#streamBusy && this.#queue.length === 0 && this.#guard.stage(bytes);
  }

  /** Whether staged bytes wait for a write. */
  get staged(): boolean {
    return this.#guard !== null && this.#guard.staged;
  }

  /** Whether every byte given so far is with the OS: none queued, handed to the stream, or staged. */
  get written(): boolean {
    return this.#queue.length === 0 && !this.#streamBusy && !this.staged;
  }

  write(chunks: Buffer[]): void {
    this.#takeStaged();
    for (const chunk of chunks) this.#queue.push(chunk);
    if (this.#streamBusy) return;
    if (this.#fd >= 0) this.#writeNow();
    if (this.#queue.length > 0 && !this.#handoffScheduled) {
      this.#handoffScheduled = true;
      setImmediate(this.#handoff);
    }
  }

  /** Writes what is queued, synchronously, as far as the OS takes it. For exit paths. */
  flushSync(): void {
    this.#takeStaged();
    if (!this.#streamBusy && this.#fd >= 0) this.#writeNow();
  }

  /** Resolves once every byte given so far has been written to the OS. */
  async idle(): Promise<void> {
    for (let round = 0; round < 1000; round++) {
      this.flushSync();
      if (this.#queue.length > 0 && !this.#streamBusy) this.#handoff();
      await new Promise<void>((resolve) => this.#streamNow().write(Buffer.alloc(0), () => resolve()));
      if (this.#queue.length === 0 && !this.#streamBusy && !this.staged) return;
    }
  }

  /** Staged bytes go before anything sent after them. */
  #takeStaged(): void {
    const staged = this.#guard?.take();
    if (staged) this.#queue.push(staged);
  }

  #writeNow(): void {
    // Once the stream is destroyed its fd is closed, and the number may name another file by now.
    if (this.#stream?.destroyed === true) {
      this.#queue = [];
      return;
    }
    while (this.#queue.length > 0) {
      let written: number;
      try {
        written = fs.writevSync(this.#fd, this.#queue.length > 64 ? this.#queue.slice(0, 64) : this.#queue);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        // EPIPE and friends: the stream's own error and close events report it.
        this.#queue = [];
        return;
      }
      this.#drop(written);
    }
  }

  #drop(bytes: number): void {
    let i = 0;
    while (i < this.#queue.length && bytes >= this.#queue[i]!.byteLength) bytes -= this.#queue[i++]!.byteLength;
    if (i > 0) this.#queue.splice(0, i);
    if (bytes > 0) this.#queue[0] = this.#queue[0]!.subarray(bytes);
  }

  #handoff = (): void => {
    this.#handoffScheduled = false;
    if (this.#streamBusy || this.#queue.length === 0) return;
    if (this.#fd >= 0) this.#writeNow();
    if (this.#queue.length === 0 || this.#stream?.destroyed === true) return;
    // The pipe is full: let the stream wait for it, and write nothing else until it has.
    const stream = this.#streamNow();
    const queue = this.#queue;
    this.#queue = [];
    this.#streamBusy = true;
    stream.cork();
    for (let i = 0; i < queue.length - 1; i++) stream.write(queue[i]);
    stream.write(queue[queue.length - 1], () => {
      this.#streamBusy = false;
      if (this.#queue.length > 0) this.write([]);
    });
    stream.uncork();
  };
}
